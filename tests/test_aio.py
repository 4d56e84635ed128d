"""The asyncio client against the real MariaDB, compared with PyMySQL on the same statements."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pymysql
import pytest

from mywire import aio
from mywire.errors import AuthError, LimitExceeded, ServerError
from mywire.events import StmtClose
from mywire.packets.prepared import encode_params

from helpers import Dsn, pymysql_connect
from helpers import dsn_url as url

T = TypeVar("T")

pytestmark = pytest.mark.mariadb


def run(coro: Awaitable[T]) -> T:
    async def wrap() -> T:
        return await coro

    return asyncio.run(wrap())


@pytest.fixture(scope="module")
def account(mariadb_dsn: Dsn) -> Iterator[tuple[str, str]]:
    """A mysql_native_password account made for these tests, dropped afterwards."""
    user = f"mw_native_{secrets.token_hex(3)}"
    password = "s3cret-" + secrets.token_hex(4)
    admin = pymysql_connect(mariadb_dsn)
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL ON `{mariadb_dsn.database}`.* TO '{user}'@'%'")
    try:
        yield user, password
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
        admin.close()


STATEMENTS = [
    "CREATE TEMPORARY TABLE t (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v INT)",
    "INSERT INTO t (v) VALUES (1), (2), (3)",
    "UPDATE t SET v = v + 1 WHERE id > 1",
    "UPDATE t SET v = v WHERE id = 1",
    "DELETE FROM t WHERE id = 1",
    "INSERT INTO t (id, v) VALUES (18446744073709551610, 9)",
    "INSERT INTO t (v) VALUES (10)",
    "INSERT INTO t (v) VALUES (11), (12) ON DUPLICATE KEY UPDATE v = 0",
]


def test_ddl_and_dml_match_pymysql(mariadb_dsn: Dsn) -> None:
    expected = []
    conn = pymysql_connect(mariadb_dsn)
    with conn.cursor() as cur:
        for sql in STATEMENTS:
            affected = cur.execute(sql)
            expected.append((affected, cur.lastrowid))
    conn.close()

    async def ours() -> list[tuple[int, int]]:
        out = []
        async with await aio.connect(url(mariadb_dsn)) as client:
            for sql in STATEMENTS:
                r = await client.query(sql)
                out.append((r.affected_rows, r.last_insert_id))
        return out

    got = run(ours())
    assert got == expected
    # And the values themselves, worked out from the statements: the full 64-bit id is
    # kept (PyMySQL agrees above), and the 2-row insert reports its first id.
    assert got[1] == (3, 1)
    assert got[2] == (2, 0)
    assert got[3] == (0, 0)
    assert got[6] == (1, 18446744073709551611)
    assert got[7] == (2, 18446744073709551612)


def test_ping_init_db_and_resultset(mariadb_dsn: Dsn) -> None:
    async def go() -> None:
        async with await aio.connect(url(mariadb_dsn)) as client:
            await client.ping()
            await client.init_db("mysql")
            r = await client.query("SELECT DATABASE(), 1 + 1")
            ((start, rows),) = r.resultsets
            assert len(start.columns) == 2
            assert rows == [b"\x05mysql\x012"]
            assert client.conn.state.value == "ready"

    run(go())


def test_password_account_and_wrong_password(mariadb_dsn: Dsn, account: tuple[str, str]) -> None:
    user, password = account

    async def good() -> str:
        async with await aio.connect(url(mariadb_dsn, user, password)) as client:
            ((_, rows),) = (await client.query("SELECT CURRENT_USER()")).resultsets
            return rows[0][1:].decode()

    assert run(good()).startswith(f"{user}@")

    with pytest.raises(pymysql.err.OperationalError) as theirs:
        pymysql_connect(mariadb_dsn, user, "wrong")
    with pytest.raises(AuthError) as ours:
        run(aio.connect(url(mariadb_dsn, user, "wrong")))
    code, message = theirs.value.args
    assert (ours.value.code, ours.value.message) == (code, message)
    assert ours.value.code == 1045
    assert ours.value.sqlstate == "28000"
    assert message.startswith(f"Access denied for user '{user}'@")


def test_unknown_database_is_a_server_error_not_an_auth_error(mariadb_dsn: Dsn) -> None:
    with pytest.raises(ServerError) as info:
        run(
            aio.connect(f"mysql://{mariadb_dsn.user}@{mariadb_dsn.host}:{mariadb_dsn.port}/nope_db")
        )
    assert type(info.value) is ServerError
    assert info.value.code == 1049
    assert info.value.sqlstate == "42000"
    assert info.value.message == "Unknown database 'nope_db'"


def test_query_error_keeps_the_connection_usable(mariadb_dsn: Dsn) -> None:
    async def go() -> None:
        async with await aio.connect(url(mariadb_dsn)) as client:
            with pytest.raises(ServerError) as info:
                await client.query("SELECT * FROM no_such_table_here")
            assert info.value.code == 1146
            assert info.value.sqlstate == "42S02"
            r = await client.query("SELECT 7")
            assert r.resultsets[0][1] == [b"\x017"]

    run(go())


def test_wide_select_within_and_beyond_max_columns(mariadb_dsn: Dsn) -> None:
    # MariaDB answers a SELECT list of 70,000 columns: the default limit takes it, a
    # smaller max_columns refuses it on the column count and the connection is closed.
    sql = "SELECT " + ",".join(f"{i % 10}" for i in range(70_000))

    async def go() -> None:
        async with await aio.connect(url(mariadb_dsn)) as client:
            ((start, rows),) = (await client.query(sql)).resultsets
            assert len(start.columns) == 70_000
            assert start.columns[69_999].name == "9"
            assert rows == [b"".join(b"\x01" + str(i % 10).encode() for i in range(70_000))]
        client = await aio.connect(url(mariadb_dsn), max_columns=69_999)
        try:
            with pytest.raises(LimitExceeded) as info:
                await client.query(sql)
            assert str(info.value) == (
                "too many columns: the column count at offset 0 declares 70000 columns, "
                "more than the maximum of 69999"
            )
            assert not client.is_usable
        finally:
            await client.close()

    run(go())


def test_compressed_protocol(mariadb_dsn: Dsn) -> None:
    async def go() -> None:
        async with await aio.connect(url(mariadb_dsn, compress="1", ssl_mode="disabled")) as c:
            assert c.conn.capabilities & 0x20
            r = await c.query("SELECT REPEAT('ab', 40000)")
            ((_, rows),) = r.resultsets
            assert rows == [b"\xfd\x80\x38\x01" + b"ab" * 40000]
            await c.ping()

    run(go())


def test_tls_required_but_not_offered(mariadb_dsn: Dsn) -> None:
    # This MariaDB runs without TLS (@@have_ssl is DISABLED here); "required" must refuse
    # to fall back to plain text.
    conn = pymysql_connect(mariadb_dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT @@have_ssl")
        (have_ssl,) = cur.fetchone()
    conn.close()
    if have_ssl == "YES":
        pytest.skip("this server offers TLS")
    with pytest.raises(ServerError) as info:
        run(aio.connect(url(mariadb_dsn, ssl_mode="required")))
    assert info.value.code == 2026


@pytest.mark.skipif(not os.path.exists("/run/mysqld/mysqld.sock"), reason="no local socket")
def test_unix_socket(mariadb_dsn: Dsn) -> None:
    async def go() -> None:
        client = await aio.connect(
            unix_socket="/run/mysqld/mysqld.sock", user=mariadb_dsn.user, database="test"
        )
        assert client.conn.secure
        r = await client.query("SELECT 1")
        assert r.resultsets[0][1] == [b"\x011"]
        await client.close()

    run(go())


def test_ed25519_account_through_auth_switch(mariadb_dsn: Dsn) -> None:
    pytest.importorskip("nacl")
    admin = pymysql_connect(mariadb_dsn)
    user = f"mw_ed_{secrets.token_hex(3)}"
    with admin.cursor() as cur:
        try:
            cur.execute("INSTALL SONAME 'auth_ed25519'")
        except pymysql.err.MySQLError as exc:
            if exc.args[0] != 1968:  # ER_PLUGIN_INSTALLED
                pytest.skip(f"ed25519 plugin not available: {exc}")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pw')")
        cur.execute(f"GRANT ALL ON `{mariadb_dsn.database}`.* TO '{user}'@'%'")
    try:

        async def go() -> str:
            async with await aio.connect(url(mariadb_dsn, user, "ed-pw")) as client:
                # The greeting names mysql_native_password; the server then switches.
                assert client.handshake.auth_plugin_name == "mysql_native_password"
                ((_, rows),) = (await client.query("SELECT CURRENT_USER()")).resultsets
                return rows[0][1:].decode()

        assert run(go()).startswith(f"{user}@")
        with pytest.raises(AuthError) as info:
            run(aio.connect(url(mariadb_dsn, user, "not-it")))
        assert info.value.code == 1045
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
        admin.close()


def test_many_rows_whose_first_column_is_empty(mariadb_dsn: Dsn) -> None:
    # Every row starts with 0x00 (an empty string), the byte an OK packet starts with:
    # rows must be told apart by the connection's state, never by their first byte
    # (PyMySQL#513).  100,000 rows arrive as a few chunks, not 100,000 events.
    async def go() -> tuple[list[bytes], int]:
        async with await aio.connect(url(mariadb_dsn)) as client:
            r = await client.query("SELECT '', seq FROM seq_1_to_100000")
            chunks = sum(1 for ev in r.events if type(ev).__name__ == "Rows")
            ((_, rows),) = r.resultsets
            return rows, chunks

    rows, chunks = run(go())
    assert rows == [b"\x00" + bytes((len(str(i)),)) + str(i).encode() for i in range(1, 100001)]
    assert chunks < 1000


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_row_payloads_around_16_mib(mariadb_dsn: Dsn, extra: int) -> None:
    # A row payload of exactly 0xFFFFFF bytes is followed by an empty packet; one byte
    # more or less moves the split.  The row is 0xFD + 3-byte length + the text.
    n = 0xFFFFFF - 4 + extra

    async def go() -> list[bytes]:
        async with await aio.connect(url(mariadb_dsn), timeout=60) as client:
            ((_, rows),) = (await client.query(f"SELECT REPEAT('a', {n})")).resultsets
            return rows

    (row,) = run(go())
    assert len(row) == 0xFFFFFF + extra
    assert row[:4] == b"\xfd" + n.to_bytes(3, "little")
    assert row[4:] == b"a" * n


def test_prepared_statements_bind_parameters_and_decode_rows(mariadb_dsn: Dsn) -> None:
    import datetime
    import decimal

    values = (
        1,
        "héllo 🐬",
        decimal.Decimal("-12.34"),
        datetime.datetime(2024, 1, 2, 3, 4, 5, 600000),
        b"\x00\xff",
        datetime.timedelta(hours=-1, seconds=1),
    )

    async def go() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        async with await aio.connect(url(mariadb_dsn)) as client:
            await client.query(
                "CREATE TEMPORARY TABLE p (id INT PRIMARY KEY, s VARCHAR(20), "
                "d DECIMAL(10,2), t DATETIME(3), b BLOB, tm TIME)"
            )
            r = await client.query("INSERT INTO p VALUES (?, ?, ?, ?, ?, ?)", values)
            assert r.affected_rows == 1
            await client.query("INSERT INTO p VALUES (2, NULL, NULL, NULL, NULL, NULL)")
            text = (await client.query("SELECT * FROM p ORDER BY id")).rows()
            binary = (await client.query("SELECT * FROM p WHERE id > ? ORDER BY id", [0])).rows()
            return text, binary

    text, binary = run(go())
    # Parameters went in through the binary protocol and came back equal, over both
    # the text protocol (COM_QUERY) and the binary protocol (COM_STMT_EXECUTE).
    assert text == binary == [values, (2, None, None, None, None, None)]


def test_cursor_fetches_in_batches(mariadb_dsn: Dsn) -> None:
    async def go() -> tuple[list[str], list[tuple[object, ...]], int]:
        async with await aio.connect(url(mariadb_dsn)) as client:
            stmt = await client.prepare("SELECT seq, seq * 2 FROM seq_1_to_25")
            opened = await client.execute(stmt, cursor=True)
            names = [type(ev).__name__ for ev in opened.events]
            rows: list[tuple[object, ...]] = []
            batches = 0
            while True:
                batch, done = await client.fetch(stmt, 10)
                rows += batch
                batches += 1
                if done:
                    break
            await client.close_statement(stmt)
            await client.ping()  # the connection is in sync after the close
            return names, rows, batches

    names, rows, batches = run(go())
    assert names == ["ResultsetStart", "ResultsetEnd"]  # a cursor sends no rows at first
    assert rows == [(i, 2 * i) for i in range(1, 26)]
    assert batches == 3


def test_multi_statement_results_with_an_error_in_the_middle(mariadb_dsn: Dsn) -> None:
    # Results arrive in order; the ERR for the second statement ends the response
    # (the server does not run the third), and the call raises it.
    async def go() -> tuple[list[str], ServerError]:
        async with await aio.connect(url(mariadb_dsn, multi_statements="1")) as client:
            r = await client.query("SELECT 1; SELECT 'two', 2; DO 3")
            names = [type(ev).__name__ for ev in r.events]
            assert r.all_rows() == [[(1,)], [("two", 2)]]
            with pytest.raises(ServerError) as info:
                await client.query("SELECT 1; SELECT * FROM no_such_table_x; SELECT 3")
            await client.ping()
            return names, info.value

    names, err = run(go())
    assert names == [
        "ResultsetStart",
        "Rows",
        "ResultsetEnd",
        "ResultsetStart",
        "Rows",
        "ResultsetEnd",
        "Ok",
    ]
    assert (err.code, err.sqlstate) == (1146, "42S02")


def test_procedure_with_two_resultsets(mariadb_dsn: Dsn) -> None:
    name = f"mw_proc_{secrets.token_hex(3)}"

    async def go() -> tuple[list[list[tuple[object, ...]]], int]:
        async with await aio.connect(url(mariadb_dsn)) as client:
            await client.query(
                f"CREATE PROCEDURE {name}(n INT) BEGIN "
                "SELECT n AS a; SELECT seq, 'x' FROM seq_1_to_3 WHERE seq <= n; END"
            )
            try:
                r = await client.query(f"CALL {name}(2)")
                return r.all_rows(), r.affected_rows
            finally:
                await client.query(f"DROP PROCEDURE {name}")

    results, affected = run(go())
    # Two resultsets, then the OK of the CALL itself (SERVER_MORE_RESULTS_EXISTS on
    # every result before it).
    assert results == [[(2,)], [(1, "x"), (2, "x")]]
    assert affected == 0


@pytest.fixture
def big_packets(mariadb_dsn: Dsn) -> Iterator[None]:
    """max_allowed_packet raised to 64 MiB for the test's new connections, then restored."""
    admin = pymysql_connect(mariadb_dsn)
    with admin.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        (before,) = cur.fetchone()
        cur.execute("SET GLOBAL max_allowed_packet = 67108864")
    try:
        yield
    finally:
        with admin.cursor() as cur:
            cur.execute(f"SET GLOBAL max_allowed_packet = {int(before)}")
        admin.close()


def test_20_mib_longblob_over_both_protocols(mariadb_dsn: Dsn, big_packets: None) -> None:
    # A 20 MiB value: its row payload spans a full 0xFFFFFF packet and a second one, in
    # the text protocol and (through a prepared statement) the binary protocol.
    blob = bytes(range(256)) * (20 * 4096)

    async def go() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        async with await aio.connect(url(mariadb_dsn), timeout=120) as client:
            await client.query("CREATE TEMPORARY TABLE lb (id INT, b LONGBLOB)")
            await client.query("INSERT INTO lb VALUES (?, ?)", [1, blob])
            text = (await client.query("SELECT id, b FROM lb")).rows()
            binary = (await client.query("SELECT id, b FROM lb WHERE id = ?", [1])).rows()
            return text, binary

    text, binary = run(go())
    assert len(blob) == 20 << 20
    assert text == binary == [(1, blob)]


def test_long_data_and_reset(mariadb_dsn: Dsn) -> None:
    # COM_STMT_SEND_LONG_DATA pieces accumulate on the server; COM_STMT_RESET drops them.
    async def go() -> list[tuple[object, ...]]:
        async with await aio.connect(url(mariadb_dsn)) as client:
            await client.query("CREATE TEMPORARY TABLE ld (id INT, b BLOB)")
            stmt = await client.prepare("INSERT INTO ld VALUES (?, ?)")
            await client.send_long_data(stmt, 1, b"dropped")
            await client.reset_statement(stmt)
            await client.send_long_data(stmt, 1, b"abc")
            await client.send_long_data(stmt, 1, b"\x00def")
            r = await client.execute(stmt, [1, b""], long_data=[1])
            assert r.affected_rows == 1
            await client.close_statement(stmt)
            return (await client.query("SELECT * FROM ld")).rows()

    assert run(go()) == [(1, b"abc\x00def")]


def test_local_infile_answered_through_the_sans_io_client(mariadb_dsn: Dsn) -> None:
    # LOAD DATA LOCAL: the server's 0xFB request becomes a LocalInfileRequest event; the
    # caller answers with the file's bytes (any chunking) and the server reports the rows.
    import socket

    from mywire.connection import DEFAULT_CLIENT_CAPABILITIES, ClientConnection
    from mywire.constants import Capability
    from mywire.events import NEED_DATA, Handshake, LocalInfileRequest, Ok, ResultsetEnd, Rows

    conn = ClientConnection(
        user=mariadb_dsn.user,
        database=mariadb_dsn.database,
        capabilities=DEFAULT_CLIENT_CAPABILITIES | Capability.CLIENT_LOCAL_FILES,
    )
    sock = socket.create_connection((mariadb_dsn.host, mariadb_dsn.port), timeout=10)
    try:

        def until(done: Any) -> list[object]:
            out: list[object] = []
            while True:
                ev = conn.next_event()
                if ev is NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                    continue
                out.append(ev)
                if done(ev):
                    return out

        until(lambda e: isinstance(e, Handshake))
        sock.sendall(conn.handshake_response())
        assert isinstance(until(lambda e: True)[-1], Ok)
        for sql in ("CREATE TEMPORARY TABLE li (n INT, s VARCHAR(5))",):
            sock.sendall(conn.query(sql))
            until(lambda e: isinstance(e, Ok))
        sock.sendall(
            conn.query("LOAD DATA LOCAL INFILE 'rows.csv' INTO TABLE li FIELDS TERMINATED BY ','")
        )
        (request,) = until(lambda e: True)
        assert request == LocalInfileRequest(filename="rows.csv")
        sock.sendall(conn.infile_data([b"1,a\n2,", b"b\n3,c\n"]))
        (ok,) = until(lambda e: True)
        assert isinstance(ok, Ok) and ok.affected_rows == 3
        sock.sendall(conn.query("SELECT n, s FROM li ORDER BY n"))
        events = until(lambda e: isinstance(e, ResultsetEnd))
        rows = [r for ev in events if isinstance(ev, Rows) for r in ev.rows]
        assert rows == [b"\x011\x01a", b"\x012\x01b", b"\x013\x01c"]
    finally:
        sock.close()


def test_pipelined_prepare_and_execute_on_mariadb(mariadb_dsn: Dsn) -> None:
    # On MariaDB, query(sql, params) sends COM_STMT_PREPARE and COM_STMT_EXECUTE with
    # statement id 0xFFFFFFFF in one write: one round trip.  A prepare error is the one
    # reported (not the execute's "unknown statement" that follows it).
    from mywire.connection import LAST_STATEMENT
    from mywire.events import StmtExecute, StmtPrepare, StmtPrepared

    async def go() -> tuple[list[str], list[tuple[object, ...]], int]:
        async with await aio.connect(url(mariadb_dsn)) as client:
            conn = client.conn
            raw = conn.send(StmtPrepare(sql="SELECT ? + 1, ?")) + conn.send(
                StmtExecute(statement_id=LAST_STATEMENT, params=encode_params([41, "x"]))
            )
            client._write(raw)
            events = await client._events(lambda e: conn.state.value == "ready")
            names = [type(e).__name__ for e in events]
            (prepared,) = [e for e in events if isinstance(e, StmtPrepared)]
            client._write(conn.send(StmtClose(statement_id=prepared.statement_id)))
            rows = (await client.query("SELECT ?, ?", [1, None])).rows()
            with pytest.raises(ServerError) as info:
                await client.query("SELEC ?", [1])
            await client.ping()
            return names, rows, info.value.code

    names, rows, code = run(go())
    assert names == ["StmtPrepared", "ResultsetStart", "Rows", "ResultsetEnd"]
    assert rows == [(1, None)]
    assert code == 1064  # ER_PARSE_ERROR from the prepare
