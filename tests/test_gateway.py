"""The HTTP gateway (``mywire.gateway``) in process, against the real MariaDB.

Most tests drive the ASGI app through httpx's ASGITransport (with asgi-lifespan running
the app's lifespan); the tests that need a real socket (a client that goes away in the
middle of a streamed body) run uvicorn on 127.0.0.1.  The fault tests kill upstream
connections from another connection, point the gateway at a port nothing listens on,
and exhaust the pool; each then checks the documented error and that the pool is
healthy afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgpack  # type: ignore[import-untyped]
import pytest
import uvicorn
from asgi_lifespan import LifespanManager

from mywire.gateway import ConfigError, Gateway, GatewayConfig, create_app, load_config
from mywire.gateway.auth import Credentials, UserList, parse_basic
from mywire.gateway.cli import add_arguments
from mywire.gateway.cli import run as cli_run
from mywire.gateway.logs import JsonFormatter
from mywire.gateway.pool import STATE_CHANGE_TRACKING, Pool, PoolTimeout
from mywire.gateway.sessions import TokenSigner

from helpers import Dsn, dsn_url, pure_forced, pymysql_connect

T = TypeVar("T")
USER, PASSWORD = "tester", "p@ss:word"
EXECUTE = "/psdb.v1alpha1.Database/Execute"
#: Tests that take long or test no transcoding run on one backend only.
ONE_BACKEND = pytest.mark.parametrize(
    "backend", ["python" if pure_forced() else "c"], indirect=True
)


def run(coro: Awaitable[T]) -> T:
    async def wrap() -> T:
        return await coro

    return asyncio.run(wrap())


def upstream(dsn: Dsn) -> str:
    # ssl_mode=disabled: see tests/test_gateway_js.py (extended capabilities and TLS).
    return dsn_url(dsn, ssl_mode="disabled")


@contextlib.asynccontextmanager
async def gateway(dsn: Dsn, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Gateway]]:
    """The app with its lifespan running, and an httpx client authenticated for it."""
    values: dict[str, Any] = {"upstream": upstream(dsn), "users": {USER: PASSWORD}}
    values.update(settings)
    app = create_app(load_config(values, env={}))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", auth=(USER, PASSWORD), timeout=30
        ) as client:
            yield client, app.state.gateway


async def execute(
    client: httpx.AsyncClient, sql: str, session: object = None, **kw: Any
) -> dict[str, Any]:
    r = await client.post(EXECUTE, json={"query": sql, "session": session}, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    return body


def rows(result: dict[str, Any]) -> list[list[bytes | None]]:
    """Decode psdb rows (lengths + base64 values) into byte strings."""
    out = []
    for row in result.get("rows", []):
        data = base64.b64decode(row["values"])
        pos = 0
        values: list[bytes | None] = []
        for n in map(int, row["lengths"]):
            if n < 0:
                values.append(None)
            else:
                values.append(data[pos : pos + n])
                pos += n
        out.append(values)
    return out


def scalar(body: dict[str, Any]) -> bytes | None:
    assert "error" not in body, body
    return rows(body["result"])[0][0]


def pool_healthy(gw: Gateway) -> None:
    for pool in gw.pools.values():
        assert pool.in_use == len(gw.registry.pins), (pool.in_use, gw.registry.pins)
        assert pool.size >= pool.idle


@pytest.fixture
def dsn(mariadb_dsn: Dsn) -> Dsn:
    return mariadb_dsn


@pytest.fixture
def admin(mariadb_dsn: Dsn) -> Iterator[Any]:
    db = pymysql_connect(mariadb_dsn, autocommit=True)
    try:
        yield db
    finally:
        db.close()


def admin_query(db: Any, sql: str) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


# ------------------------------------------------------------------ configuration


def test_config_sources_and_precedence(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(
        "[gateway]\n"
        'upstream = "mysql://a@db:3306/x"\n'
        "pool_max_size = 3\n"
        "query_timeout = 2\n"
        "[users]\n"
        'alice = "pw"\n'
    )
    env = {"MYWIRE_GATEWAY_POOL_MAX_SIZE": "5", "MYWIRE_GATEWAY_LISTEN": "0.0.0.0:9000"}
    cfg = load_config({"query_timeout": 4.5, "listen": None}, env=env, file=path)
    assert cfg.upstream == "mysql://a@db:3306/x"
    assert cfg.pool_max_size == 5  # env over file
    assert cfg.query_timeout == 4.5  # arguments over both
    assert (cfg.listen_host, cfg.listen_port) == ("0.0.0.0", 9000)
    assert cfg.users == {"alice": "pw"}
    assert cfg.instance_id  # a random one
    env2 = {"MYWIRE_GATEWAY_CONFIG": str(path), "MYWIRE_GATEWAY_USERS": "bob:x:y, carol:z"}
    assert load_config(env=env2).users == {"bob": "x:y", "carol": "z"}
    assert "pw" not in json.dumps(cfg.redacted())
    assert (
        load_config({"upstream": "mysql://u:secret@h/d"}, env={}).redacted()["upstream"]
        == "mysql://u:***@h/d"
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"nope": 1},
        {"auth": "magic"},
        {"pool_max_size": "many"},
        {"pool_min_size": 5, "pool_max_size": 2},
        {"upstream": "postgres://x"},
        {"max_response_bytes": 10},
    ],
)
def test_config_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load_config(settings, env={})


def test_no_users_is_refused() -> None:
    with pytest.raises(ValueError, match="no users configured"):
        create_app(GatewayConfig())


# ------------------------------------------------------------------ auth and tokens


def test_basic_parsing_and_constant_time_user_list() -> None:
    header = "Basic " + base64.b64encode(b"u:p%40ss:x").decode()
    assert parse_basic(header) == Credentials("u", "p%40ss:x")
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None
    users = UserList({"u": "p@ss:x", "h": "sha256:" + "00" * 32})
    assert users.check(Credentials("u", "p@ss:x"))
    assert users.check(Credentials("u", "p%40ss:x"))  # the driver's percent-encoding
    assert not users.check(Credentials("u", "wrong"))
    assert not users.check(Credentials("nobody", "p@ss:x"))
    assert "p@ss" not in repr(Credentials("u", "p@ss:x"))


def test_session_tokens_are_signed_and_bound_to_the_user() -> None:
    signer = TokenSigner(b"k" * 32, "inst", max_age=60)
    session = {"signature": signer.signature("sid", "alice", pinned=True)}
    session["vitessSession"] = {"SessionUUID": "sid", "lastInsertId": "7"}  # type: ignore[assignment]
    info = signer.read(session, "alice")
    assert (info.id, info.pinned, info.new, info.last_insert_id) == ("sid", True, False, 7)
    assert signer.read(session, "bob").invalid is not None
    other = TokenSigner(b"j" * 32, "inst", max_age=60)
    assert other.read(session, "alice").invalid is not None
    tampered = dict(session, vitessSession={"SessionUUID": "sid2"})
    assert signer.read(tampered, "alice").invalid is not None
    assert signer.read(None, "alice").new
    assert signer.read({"signature": "x"}, "alice").invalid is not None
    expired = TokenSigner(b"k" * 32, "inst", max_age=-10)
    stale = {"signature": expired.signature("sid", "alice", pinned=False)}
    stale["vitessSession"] = {"SessionUUID": "sid"}  # type: ignore[assignment]
    fresh = signer.read(stale, "alice")
    assert fresh.new and fresh.id != "sid" and fresh.invalid is None


def _no_auth(request: httpx.Request) -> httpx.Request:
    request.headers.pop("authorization", None)
    return request


def test_auth_errors(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, _gw):
            r = await client.post(EXECUTE, json={"query": "select 1"}, auth=(USER, "nope"))
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Basic")
            message = "invalid auth credentials"
            assert r.json() == {
                "code": "unauthenticated",
                "message": message,
                "error": {"code": "UNAUTHENTICATED", "message": message},
            }
            r = await client.post(EXECUTE, json={"query": "select 1"}, auth=_no_auth)
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "UNAUTHENTICATED"
            r = await client.post("/v1/query", json={"sql": "select 1"}, auth=("x", "y"))
            assert r.status_code == 401

    run(scenario())


@ONE_BACKEND
def test_passthrough_auth_uses_the_mysql_account(dsn: Dsn, admin: Any) -> None:
    user, password = "mw_gw_pass", "pw-9!x"
    admin_query(admin, f"CREATE OR REPLACE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    admin_query(admin, f"GRANT SELECT ON `{dsn.database}`.* TO '{user}'@'%'")

    async def scenario() -> None:
        async with gateway(dsn, auth="passthrough", users={}) as (client, gw):
            body = await execute(client, "SELECT CURRENT_USER()", auth=(user, password))
            assert scalar(body) == f"{user}@%".encode()
            r = await client.post(EXECUTE, json={"query": "select 1"}, auth=(user, "bad"))
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "UNAUTHENTICATED"
            r = await client.post(EXECUTE, json={"query": "select 1"}, auth=("mw_nobody", "x"))
            assert r.status_code == 401
            assert len(gw.pools) == 1  # pools of refused accounts are not kept
            body = await execute(client, "CREATE TABLE gw_denied (a INT)", auth=(user, password))
            assert body["error"]["code"] == "PERMISSION_DENIED"
            assert "(errno 1142)" in body["error"]["message"]

    try:
        run(scenario())
    finally:
        admin_query(admin, f"DROP USER '{user}'@'%'")


# ------------------------------------------------------------------ psdb API shape


def test_execute_result_shape(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, gw):
            body = await execute(
                client, "SELECT 1 AS a, NULL AS n, 'é' AS s, CAST(12345678901 AS SIGNED) AS b"
            )
            assert set(body) == {"result", "session", "timing"}
            assert isinstance(body["timing"], float) and body["timing"] > 0
            fields = body["result"]["fields"]
            assert [f["name"] for f in fields] == ["a", "n", "s", "b"]
            assert "type" not in fields[1]  # NULL_TYPE is the enum's default
            assert fields[2]["type"] == "VARCHAR" and fields[2]["charset"] in (45, 224, 255)
            assert fields[3]["type"] == "INT64"
            assert rows(body["result"]) == [[b"1", None, "é".encode(), b"12345678901"]]
            row = body["result"]["rows"][0]
            assert row["lengths"] == ["1", "-1", "2", "11"]  # 64-bit ints as strings
            vitess = body["session"]["vitessSession"]
            assert vitess["options"] == {"includedFields": "ALL", "clientFoundRows": True}
            assert vitess["targetString"] == dsn.database
            assert "inTransaction" not in vitess  # proto3 JSON: false is omitted
            # A row of NULLs still carries "values": "" (drivers up to 1.4 need it).
            r = await client.post(EXECUTE, json={"query": "SELECT NULL, NULL"})
            assert b'{"lengths":["-1","-1"],"values":""}' in r.content
            # DDL: an empty result; unknown request members are ignored.
            r = await client.post(
                EXECUTE, json={"query": "DO 1", "session": None, "prepared": True, "x": [1]}
            )
            assert r.json()["result"] == {}
            pool_healthy(gw)

    run(scenario())


def test_noops_sessions_and_other_rpcs(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, _gw):
            for sql in ("SET @@boost_cached_queries = true", "use `test@replica`", "USE @primary"):
                body = await execute(client, sql)
                assert body["result"] == {} and "error" not in body
            r = await client.post("/psdb.v1alpha1.Database/CreateSession", json={})
            created = r.json()
            assert created["branch"] == dsn.database
            assert created["user"]["username"] == USER
            session = created["session"]
            body = await execute(client, "SELECT 1", session)
            assert (
                body["session"]["vitessSession"]["SessionUUID"]
                == (session["vitessSession"]["SessionUUID"])
            )
            r = await client.post(
                "/psdb.v1alpha1.Database/CloseSession", json={"session": body["session"]}
            )
            assert r.status_code == 200 and "session" in r.json()
            for method in ("Prepare", "StreamExecute"):
                r = await client.post(f"/psdb.v1alpha1.Database/{method}", json={})
                assert r.status_code == 501
                assert r.json()["code"] == "unimplemented"
                assert r.json()["error"]["code"] == "UNIMPLEMENTED"
            r = await client.post(EXECUTE, json={"session": None})
            assert r.status_code == 400 and r.json()["code"] == "invalid_argument"
            r = await client.post(EXECUTE, content=b"{not json")
            assert r.status_code == 400

    run(scenario())


def test_sql_errors_are_200_with_errno_and_sqlstate(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, gw):
            body = await execute(client, "SELECT * FROM gw_missing_table")
            assert body["error"] == {
                "message": "Table 'test.gw_missing_table' doesn't exist "
                "(errno 1146) (sqlstate 42S02)",
                "code": "NOT_FOUND",
            }
            assert "session" in body and "timing" in body
            # An error in the middle of a resultset ends the document with "error".
            body = await execute(
                client, "SELECT IF(seq < 3, seq, JSON_EXTRACT('x', '$')) FROM seq_1_to_5"
            )
            if "error" in body:
                assert "(errno " in body["error"]["message"]
            pool_healthy(gw)

    run(scenario())


def test_invalid_session_tokens_get_a_new_session(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, _gw):
            first = await execute(client, "SELECT 1")
            session = first["session"]
            forged = json.loads(json.dumps(session))
            forged["vitessSession"]["SessionUUID"] = "someone-else"
            body = await execute(client, "SELECT 1", forged)
            assert body["error"]["code"] == "PERMISSION_DENIED"
            assert "not run" in body["error"]["message"]
            assert body["session"]["vitessSession"]["SessionUUID"] != "someone-else"
            # The new session works.
            assert scalar(await execute(client, "SELECT 2", body["session"])) == b"2"

    run(scenario())


# ------------------------------------------------------------------ sessions and pinning


def connection_id(body: dict[str, Any]) -> int:
    value = scalar(body)
    assert value is not None
    return int(value)


@ONE_BACKEND
def test_transactions_pin_and_unpin(dsn: Dsn, admin: Any) -> None:
    admin_query(admin, "CREATE OR REPLACE TABLE gw_pin (v INT) ENGINE=InnoDB")

    async def scenario() -> None:
        async with gateway(dsn, pool_max_size=4) as (client, gw):
            body = await execute(client, "BEGIN")
            session = body["session"]
            assert session["vitessSession"]["inTransaction"] is True
            assert len(gw.registry.pins) == 1
            pinned_id = next(iter(gw.registry.pins.values())).conn.connection_id
            body = await execute(client, "INSERT INTO gw_pin VALUES (1)", session)
            assert body["result"]["rowsAffected"] == "1"
            session = body["session"]
            # Other sessions run on other connections and do not see the insert.
            other = await execute(client, "SELECT COUNT(*) FROM gw_pin")
            assert scalar(other) == b"0"
            body = await execute(client, "SELECT CONNECTION_ID()", session)
            assert connection_id(body) == pinned_id
            # Concurrent statements of one pinned session are serialised.
            session = body["session"]
            both = await asyncio.gather(
                execute(client, "SELECT SLEEP(0.2), CONNECTION_ID()", session),
                execute(client, "SELECT SLEEP(0.2), CONNECTION_ID()", session),
            )
            assert all("error" not in b for b in both)
            body = await execute(client, "COMMIT", session)
            assert "inTransaction" not in body["session"]["vitessSession"]
            assert gw.registry.pins == {}
            assert scalar(await execute(client, "SELECT COUNT(*) FROM gw_pin")) == b"1"
            pool_healthy(gw)

    try:
        run(scenario())
    finally:
        admin_query(admin, "DROP TABLE gw_pin")


@ONE_BACKEND
def test_connection_state_pins_until_close(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn, pool_max_size=2) as (client, gw):
            body = await execute(client, "SET @gw = 'mine'")
            session = body["session"]
            assert len(gw.registry.pins) == 1
            assert scalar(await execute(client, "SELECT @gw", session)) == b"mine"
            assert scalar(await execute(client, "SELECT @gw")) is None
            r = await client.post("/psdb.v1alpha1.Database/CloseSession", json={"session": session})
            assert r.status_code == 200 and "error" not in r.json(), r.text
            assert gw.registry.pins == {}
            await asyncio.sleep(0.2)  # the reset runs in the background
            # The reset connection went back to the pool without the variable.
            results = await asyncio.gather(*[execute(client, "SELECT @gw") for _ in range(4)])
            assert all(scalar(b) is None for b in results)
            pool_healthy(gw)

    run(scenario())


@ONE_BACKEND
def test_concurrent_state_on_one_unpinned_session(dsn: Dsn) -> None:
    """Two statements of one stateless session that both open a transaction at once:
    one pins its connection, the other is told its state was discarded."""

    async def scenario() -> None:
        async with gateway(dsn, pool_max_size=3) as (client, gw):
            session = (await execute(client, "SELECT 1"))["session"]
            a, b = await asyncio.gather(
                execute(client, "BEGIN", session), execute(client, "BEGIN", session)
            )
            errors = [x["error"] for x in (a, b) if "error" in x]
            assert len(errors) == 1
            assert "concurrent statements of one session" in errors[0]["message"]
            assert len(gw.registry.pins) == 1
            ok = a if "error" not in a else b
            await execute(client, "ROLLBACK", ok["session"])
            assert gw.registry.pins == {}
            await asyncio.sleep(0.1)  # the discarded state's reset runs in the background
            pool_healthy(gw)

    run(scenario())


@ONE_BACKEND
def test_idle_pinned_session_is_rolled_back(dsn: Dsn, admin: Any) -> None:
    admin_query(admin, "CREATE OR REPLACE TABLE gw_idle (v INT) ENGINE=InnoDB")

    async def scenario() -> None:
        async with gateway(dsn, session_idle_timeout=0.3) as (client, gw):
            body = await execute(client, "BEGIN")
            body = await execute(client, "INSERT INTO gw_idle VALUES (1)", body["session"])
            session = body["session"]
            await asyncio.sleep(1.5)
            assert gw.registry.pins == {}
            body = await execute(client, "INSERT INTO gw_idle VALUES (2)", session)
            assert body["error"]["code"] == "ABORTED"
            assert "idle for more than 0.3 s" in body["error"]["message"]
            assert body["session"]["vitessSession"]["errorUntilRollback"] is True
            # Never a silent autocommit: COMMIT fails too, until ROLLBACK.
            body = await execute(client, "COMMIT", body["session"])
            assert body["error"]["code"] == "ABORTED"
            body = await execute(client, "ROLLBACK", body["session"])
            assert "error" not in body
            assert scalar(await execute(client, "SELECT COUNT(*) FROM gw_idle")) == b"0"
            assert scalar(await execute(client, "SELECT 5", body["session"])) == b"5"
            assert int(gw.metrics.sessions_expired._value.get()) == 1
            pool_healthy(gw)

    try:
        run(scenario())
    finally:
        admin_query(admin, "DROP TABLE gw_idle")


@ONE_BACKEND
def test_pinned_session_whose_connection_was_killed(dsn: Dsn, admin: Any) -> None:
    admin_query(admin, "CREATE OR REPLACE TABLE gw_kill (v INT) ENGINE=InnoDB")

    async def scenario() -> None:
        async with gateway(dsn) as (client, gw):
            body = await execute(client, "BEGIN")
            body = await execute(client, "INSERT INTO gw_kill VALUES (1)", body["session"])
            (pin,) = gw.registry.pins.values()
            admin_query(admin, f"KILL {pin.conn.connection_id}")
            await asyncio.sleep(0.1)
            body = await execute(client, "INSERT INTO gw_kill VALUES (2)", body["session"])
            assert "error" in body  # the statement found its connection gone
            assert gw.registry.pins == {}
            body = await execute(client, "COMMIT", body["session"])
            assert body["error"]["code"] == "ABORTED"
            assert "connection was lost" in body["error"]["message"]
            body = await execute(client, "ROLLBACK", body["session"])
            assert "error" not in body
            assert scalar(await execute(client, "SELECT COUNT(*) FROM gw_kill")) == b"0"
            pool_healthy(gw)

    try:
        run(scenario())
    finally:
        admin_query(admin, "DROP TABLE gw_kill")


def test_pinned_session_on_another_instance(dsn: Dsn) -> None:
    async def scenario() -> None:
        shared = {"session_secret": "s3cret", "instance_id": "a"}
        async with gateway(dsn, **shared) as (client, _gw):
            body = await execute(client, "BEGIN")
            session = body["session"]
        async with gateway(dsn, session_secret="s3cret", instance_id="b") as (client, _gw):
            body = await execute(client, "SELECT 1", session)
            assert body["error"]["code"] == "ABORTED"
            assert "another gateway instance" in body["error"]["message"]
            # A stateless session moves between instances freely.
            first = await execute(client, "SELECT 1")
        async with gateway(dsn, session_secret="s3cret", instance_id="a") as (client, _gw):
            assert scalar(await execute(client, "SELECT 3", first["session"])) == b"3"

    run(scenario())


# ------------------------------------------------------------------ faults and limits


def wait_for_query(admin: Any, marker: str, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in admin_query(admin, "SHOW FULL PROCESSLIST"):
            if row[7] and marker in str(row[7]) and "PROCESSLIST" not in str(row[7]):
                return int(row[0])
        time.sleep(0.02)
    raise AssertionError(f"query {marker!r} never showed up")


@ONE_BACKEND
@pytest.mark.parametrize("kill", ["KILL", "KILL QUERY"])
def test_upstream_killed_mid_query(dsn: Dsn, admin: Any, kill: str) -> None:
    async def scenario() -> None:
        async with gateway(dsn, pool_max_size=2) as (client, gw):
            task = asyncio.create_task(execute(client, "SELECT SLEEP(20) AS gw_kill_marker"))
            conn_id = await asyncio.to_thread(wait_for_query, admin, "gw_kill_marker")
            admin_query(admin, f"{kill} {conn_id}")
            body = await asyncio.wait_for(task, 10)
            if kill == "KILL":
                # The server says why (1927) or just closes (2013); the document ends
                # with the error either way.
                assert body["error"]["code"] in ("UNKNOWN", "UNAVAILABLE"), body
                assert "(errno 1927)" in body["error"]["message"] or (
                    "(errno 2013)" in body["error"]["message"]
                )
            else:
                # SLEEP() interrupted by KILL QUERY returns 1 instead of failing.
                assert "error" not in body or body["error"]["code"] == "CANCELED"
            pool_healthy(gw)
            assert scalar(await execute(client, "SELECT 42")) == b"42"
            results = await asyncio.gather(*[execute(client, "SELECT 1") for _ in range(4)])
            assert all(scalar(b) == b"1" for b in results)
            pool_healthy(gw)

    run(scenario())


def test_upstream_unreachable(dsn: Dsn) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"mysql://root@127.0.0.1:{port}/test"

    async def scenario() -> None:
        async with gateway(dsn, upstream=dead, connect_timeout=1) as (client, gw):
            r = await client.post(EXECUTE, json={"query": "SELECT 1"})
            assert r.status_code == 503
            body = r.json()
            assert body["code"] == "unavailable"
            assert body["error"]["code"] == "UNAVAILABLE"
            assert "unreachable" in body["message"]
            r = await client.post("/v1/query", json={"sql": "SELECT 1"})
            assert r.status_code == 503
            r = await client.get("/healthz")
            assert r.status_code == 503
            assert gw.pools["default"].size == 0
            assert (
                b'mywire_gateway_upstream_errors_total{kind="connect"}'
                in (await client.get("/metrics")).content
            )

    run(scenario())


@ONE_BACKEND
def test_pool_exhausted_gives_503(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn, pool_max_size=1, pool_timeout=0.3) as (client, gw):
            slow = asyncio.create_task(execute(client, "SELECT SLEEP(1)"))
            await asyncio.sleep(0.2)
            r = await client.post(EXECUTE, json={"query": "SELECT 1"})
            assert r.status_code == 503
            assert r.headers["retry-after"] == "1"
            assert "no upstream connection became free within 0.3 s" in r.json()["message"]
            assert "error" not in await slow
            assert scalar(await execute(client, "SELECT 1")) == b"1"
            pool_healthy(gw)

    run(scenario())


@ONE_BACKEND
def test_limits(dsn: Dsn) -> None:
    async def scenario() -> None:
        settings = {"max_rows": 100, "max_response_bytes": 8192, "max_body_bytes": 200}
        async with gateway(dsn, query_timeout=0.5, **settings) as (client, gw):
            body = await execute(client, "SELECT seq FROM seq_1_to_1000")
            assert body["error"] == {"message": "Row count exceeded 100", "code": "ABORTED"}
            assert len(body["result"]["rows"]) == 100
            body = await execute(client, "SELECT REPEAT('x', 1000) FROM seq_1_to_50")
            assert body["error"]["code"] == "RESOURCE_EXHAUSTED"
            assert "Response size exceeded 8192 bytes" in body["error"]["message"]
            r = await client.post(EXECUTE, json={"query": "SELECT '" + "x" * 300 + "'"})
            assert r.status_code == 413
            assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
            body = await execute(client, "SELECT SLEEP(3)")
            if "error" in body:  # MariaDB's max_statement_time
                assert body["error"]["code"] == "DEADLINE_EXCEEDED"
                assert "(errno 1969)" in body["error"]["message"]
            else:  # SLEEP reports an interruption by returning 1
                assert rows(body["result"]) == [[b"1"]]
            body = await execute(
                client, "SELECT COUNT(*) FROM seq_1_to_1000000 a, seq_1_to_1000000 b"
            )
            assert body["error"]["code"] == "DEADLINE_EXCEEDED"
            r = await client.post("/v1/query", json={"sql": "SELECT seq FROM seq_1_to_1000"})
            assert r.json()["error"]["limit"] == "max_rows"
            pool_healthy(gw)
            assert scalar(await execute(client, "SELECT 1")) == b"1"

    run(scenario())


@ONE_BACKEND
def test_gateway_deadline_backstop(dsn: Dsn) -> None:
    """When the server does not stop the statement, the gateway's own deadline does."""

    async def scenario() -> None:
        async with gateway(dsn, query_timeout=0.3) as (client, gw):
            pool = gw.pools["default"]
            conn = await pool.acquire()
            await conn.client.query("SET max_statement_time = 0")  # take the server's off
            pool.release(conn)
            body = await execute(client, "SELECT SLEEP(5)")
            assert body["error"]["code"] == "DEADLINE_EXCEEDED"
            assert "0.3 s exceeded" in body["error"]["message"]
            assert "session" in body and "timing" in body
            pool_healthy(gw)
            assert pool.discarded >= 1
            assert scalar(await execute(client, "SELECT 1")) == b"1"

    run(scenario())


@ONE_BACKEND
def test_client_disconnecting_mid_stream(dsn: Dsn, admin: Any) -> None:
    """A client that goes away in the middle of a streamed body: the upstream
    connection is dropped (its response would stay unread) and the pool recovers.

    The response must not be able to end before the client leaves: without limits it is
    about 430 MB, and the client's receive buffer is pinned small.  (With the default
    max_rows, 21 MB, the whole body fits in loopback buffers that autotune to 32 MB: the
    gateway then finishes it, rightly, as a 200.)"""

    async def scenario() -> None:
        settings = {"max_rows": 0, "max_response_bytes": 0}
        config = load_config(
            {"upstream": upstream(dsn), "users": {USER: PASSWORD}, **settings}, env={}
        )
        app = create_app(config)
        gw: Gateway = app.state.gateway
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws="none")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            for path, payload in (
                ("/v1/query", {"sql": "SELECT seq, REPEAT('y', 200) FROM seq_1_to_2000000"}),
                (EXECUTE, {"query": "SELECT seq, REPEAT('y', 200) FROM seq_1_to_2000000"}),
            ):
                body = json.dumps(payload).encode()
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
                reader, writer = await asyncio.open_connection(sock=sock)
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic {auth}\r\n"
                    f"Accept: application/x-ndjson\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                got = await reader.readexactly(200_000)
                assert got.startswith(b"HTTP/1.1 200")
                writer.transport.abort()
                deadline = time.monotonic() + 10
                while gw.pools["default"].in_use and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                pool_healthy(gw)
            base = f"http://127.0.0.1:{port}"
            want = ('endpoint="query",status="499"', 'endpoint="Execute",status="499"')
            async with httpx.AsyncClient(auth=(USER, PASSWORD)) as client:
                r = await client.post(base + EXECUTE, json={"query": "SELECT 7"})
                assert scalar(r.json()) == b"7"
                # The request is counted when its handler has finished unwinding, which
                # can come after the pool got its connection back: wait for it.
                deadline = time.monotonic() + 10
                while True:
                    metrics = (await client.get(base + "/metrics")).text
                    if all(w in metrics for w in want) or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
            assert all(w in metrics for w in want), metrics
        finally:
            server.should_exit = True
            await serving
        # The server notices the closed connections and ends their statements.
        deadline = time.monotonic() + 10
        while True:
            remaining = [
                r
                for r in admin_query(admin, "SHOW FULL PROCESSLIST")
                if "seq_1_to_2000000" in str(r[7])
            ]
            if not remaining or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert remaining == []

    run(scenario())


# ------------------------------------------------------------------ native endpoint


def test_native_query_formats(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, gw):
            payload = {"sql": "SELECT ? AS a, ? AS s, ? AS n", "params": [41, "it's \\", None]}
            r = await client.post("/v1/query", json=payload)
            assert r.headers["content-type"].startswith("application/json")
            doc = r.json()
            assert doc["rows"] == [[41, "it's \\", None]]
            assert [f["name"] for f in doc["fields"]] == ["a", "s", "n"]
            r = await client.post(
                "/v1/query",
                json={"sql": "SELECT seq FROM seq_1_to_3"},
                headers={"accept": "application/x-ndjson"},
            )
            assert r.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in r.text.splitlines()]
            assert lines[1:4] == [[1], [2], [3]]
            assert lines[-1]["rows_affected"] == 0
            r = await client.post(
                "/v1/query",
                json={"sql": "SELECT 9223372036854775807 AS big", "int64_as_string": True},
                headers={"accept": "application/msgpack"},
            )
            assert r.headers["content-type"].startswith("application/msgpack")
            assert msgpack.unpackb(r.content)["rows"] == [["9223372036854775807"]]
            r = await client.post("/v1/query", json={"sql": "SELECT * FROM gw_nope"})
            assert r.json()["error"]["code"] == 1146
            r = await client.post("/v1/query", json={"sql": "SELECT 1; SELECT 2"})
            assert r.json()["error"]["code"] == 1064  # multi-statements are off
            r = await client.post("/v1/query", json={"sql": "SELECT ?", "params": [{"x": 1}]})
            assert r.status_code == 400
            r = await client.post("/v1/query", json={"sql": "SELECT 1", "int64_as_string": 1})
            assert r.status_code == 400
            pool_healthy(gw)

    run(scenario())


@ONE_BACKEND
def test_native_query_state_is_reset(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn, pool_max_size=1) as (client, gw):
            await client.post("/v1/query", json={"sql": "SET @native = 1"})
            await client.post("/v1/query", json={"sql": "BEGIN"})
            r = await client.post("/v1/query", json={"sql": "SELECT @native, @@in_transaction"})
            assert r.json()["rows"] == [[None, 0]]
            assert gw.pools["default"].resets == 2
            # The session setup is back after the reset.
            r = await client.post("/v1/query", json={"sql": "SELECT @@time_zone, @@sql_mode"})
            tz, mode = r.json()["rows"][0]
            assert tz == "+00:00" and "NO_BACKSLASH_ESCAPES" not in mode

    run(scenario())


def test_health_and_metrics(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, _gw):
            r = await client.get("/healthz")
            assert r.status_code == 200 and r.json()["upstream"] == "ok"
            await execute(client, "SELECT 1")
            text = (await client.get("/metrics")).text
            assert 'mywire_gateway_requests_total{endpoint="Execute",status="200"} 1.0' in text
            assert "mywire_gateway_request_seconds_bucket" in text
            assert 'mywire_gateway_pool_connections{pool="default",state="open"}' in text
            assert "mywire_gateway_pinned_sessions 0.0" in text

    run(scenario())


def test_backend_session_setup(dsn: Dsn) -> None:
    async def scenario() -> None:
        async with gateway(dsn) as (client, _gw):
            body = await execute(
                client,
                "SELECT @@character_set_results, @@time_zone, "
                "@@sql_mode LIKE '%NO_BACKSLASH_ESCAPES%', 'a\\\\b'",
            )
            assert rows(body["result"]) == [[b"utf8mb4", b"+00:00", b"0", b"a\\b"]]

    run(scenario())


# ------------------------------------------------------------------ pool unit tests


class FakeClient:
    """Enough of aio.Client for the pool: ping, close, a transport that can close."""

    def __init__(self) -> None:
        self.closed = False
        self.pings = 0

        class _Transport:
            def is_closing(inner) -> bool:  # noqa: N805
                return self.closed

        class _Writer:
            transport = _Transport()

        class _State:
            value = "ready"

        class _Conn:
            state = _State()

        self._writer: Any = _Writer()
        self.conn = _Conn()

    async def ping(self) -> None:
        self.pings += 1

    async def close(self) -> None:
        self.closed = True

    def _abort(self) -> None:
        self.closed = True


def test_pool_waiters_timeouts_and_health_checks() -> None:
    async def scenario() -> None:
        opened: list[FakeClient] = []

        async def connect() -> Any:
            c = FakeClient()
            opened.append(c)
            return c

        pool = Pool(connect, min_size=1, max_size=2, timeout=0.2, health_check=0.05)
        a = await pool.acquire()
        b = await pool.acquire()
        assert (pool.size, pool.in_use) == (2, 2)
        with pytest.raises(PoolTimeout):
            await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        assert pool.waiting == 1
        pool.release(a)
        assert await waiter is a  # handed straight to the waiter
        pool.discard(b)
        assert pool.size == 1
        c = await pool.acquire()  # opens a new one
        assert c is not b and len(opened) == 3
        pool.release(c)
        await asyncio.sleep(0.1)
        d = await pool.acquire()  # idle past health_check: pinged first
        assert d is c and opened[2].pings == 1
        opened[2].closed = True  # broken while in use
        pool.release(d)
        assert pool.size == 1 and pool.idle == 0
        pool.release(a)
        await pool.maintain()
        assert pool.size == 1
        await pool.close()
        assert all(c.closed for c in opened)

    run(scenario())


def test_state_change_tracking_flag_is_known() -> None:
    assert STATE_CHANGE_TRACKING in (True, False)


def test_cli_options_and_config_errors(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--upstream", "mysql://x@h/d", "--user", "a:b", "--pool-max-size", "3"]
        + ["--query-timeout", "1.5", "--auth", "users"]
    )
    assert (args.pool_max_size, args.query_timeout, args.user) == (3, 1.5, ["a:b"])
    assert args.listen is None  # unset options leave the environment and file to decide
    assert cli_run(parser.parse_args(["--upstream", "mysql://x@h/d", "--auth", "x"])) == 2
    assert "auth must be" in capsys.readouterr().err
    assert cli_run(parser.parse_args(["--upstream", "mysql://x@h/d"])) == 2
    assert "no users configured" in capsys.readouterr().err


def test_json_log_lines() -> None:
    record = logging.LogRecord("mywire.gateway", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"status": 200, "user": "u"}
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "request" and line["status"] == 200 and line["level"] == "info"
    assert line["ts"].endswith("Z")
