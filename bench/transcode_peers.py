"""Wire bytes to JSON/msgpack: mywire's transcoder against Python drivers + orjson/msgpack.

What is measured
----------------
For each workload of ``workloads.py`` (tables in a real MariaDB) and each protocol (text:
COM_QUERY; binary: COM_STMT_PREPARE + COM_STMT_EXECUTE), the time from sending the query
to having the output bytes, for:

* each peer driver (PyMySQL, mysqlclient, mysql-connector-python with its C extension,
  asyncmy) fetching every row, then ``orjson.dumps`` or ``msgpack.packb`` of the rows, with
  what a gateway must do for values JSON/msgpack cannot hold (:func:`json_default`: bytes
  as base64, DECIMAL as its text, temporal values in MySQL's text form);
* mywire's ``query_json`` and ``query_msgpack`` (the C transcoder: wire bytes to output
  with no Python object per value) and ``query(...).rows()`` (decoding to Python values);
* the floor: a raw socket that sends the command and reads exactly the response's bytes
  (the minimum of ``--floor-runs`` runs).

Only clients with server-side prepared statements run the binary protocol (connector with
``prepared=True``, mywire); the others are listed as n/a.

Record and replay
-----------------
The server's answers are recorded once from the real MariaDB and replayed from memory, so
every client reads identical bytes at loopback speed and the server's own time is out of
the picture.  The response bytes depend on what the client negotiated (CLIENT_DEPRECATE_EOF
changes the terminators, MariaDB's extended metadata adds the JSON column's type name...),
so each client is *probed* first: it connects to the replay server, which greets with the
real server's greeting and reports the client's capabilities and character set.  For each
distinct profile the recorder connects to MariaDB with exactly those capabilities, sends
the command and keeps every byte the server sends until the response ends (final EOF/OK):
COM_QUERY for the text protocol; COM_STMT_PREPARE, then COM_STMT_EXECUTE with the one
parameter bound to 0, for the binary one.  Recordings are cached (``--cache-dir``; by
default under the system's temp directory), never committed.

The replay server runs in its own process (it must not share the GIL with the clients),
one thread per connection: it sends the greeting, accepts any credentials with
mysql_native_password (switching a client that answered with another plugin), then
answers COM_QUERY / COM_STMT_PREPARE with the recording for the connection's profile and
the statement's text, COM_STMT_EXECUTE with the recording of the statement prepared last
(every client binds 0), any other COM_QUERY (``SET NAMES``...), COM_PING and
COM_STMT_RESET with OK, COM_STMT_CLOSE with nothing.  A recorded response starts at
sequence id 1, which is what a client expects after its command (id 0); mywire's
pipelined COM_STMT_EXECUTE (statement id 0xFFFFFFFF) also expects its answer from id 1.

Correctness
-----------
Every pipeline's output (from its warm-up run) is normalised by the same rules (JSON and
msgpack parsed, base64 decoded, DECIMAL and temporal text parsed, JSON documents parsed)
and compared with the rows PyMySQL decodes from the text protocol; a FLOAT column would
be compared after rounding to float32 (the documented difference between the protocols).
Peers cannot tell a JSON column from LONGTEXT (MariaDB says "json" only in extended
metadata), so they write it as a JSON string and mywire embeds the document: both
normalise to the parsed document.  Any difference makes the script exit with status 1.

    .venv/bin/python bench/transcode_peers.py [--quick] [--rounds R] [--workloads a,b]
        [--protocols text,binary] [--json PATH] [--markdown PATH]

mysql-connector-python's C extension must load for its pipelines (releases after 9.7.0
link OpenSSL 3.2+); ``--connector-path DIR`` puts another release first on ``sys.path``
(e.g. one installed with ``pip install --no-deps --target DIR
mysql-connector-python==9.7.0``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import importlib
import json
import mmap
import multiprocessing
import os
import platform
import queue
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from workloads import WORKLOADS, Workload, compare, normalise  # noqa: E402

from mywire.connection import ClientConnection  # noqa: E402
from mywire.constants import Capability as C  # noqa: E402
from mywire.constants.command import Command as Cmd  # noqa: E402
from mywire.events import (  # noqa: E402
    AuthMoreData,
    AuthSwitchRequest,
    Err,
    Handshake,
    NeedData,
    Ok,
    Query,
    SSLRequest,
    StmtExecute,
    StmtPrepare,
)
from mywire.framing import PacketReader, Payload, frame_payload  # noqa: E402
from mywire.packets import command as pcmd  # noqa: E402
from mywire.packets import generic as pgen  # noqa: E402
from mywire.packets import handshake as phs  # noqa: E402
from mywire.packets import prepared as pprep  # noqa: E402
from mywire.packets import resultset as prs  # noqa: E402

HOST = "127.0.0.1"
USER, PASSWORD, DATABASE = "bench", "bench-pw", "test"
DEFAULT_DSN = "mysql://root@127.0.0.1:3306/test"
LAST_STATEMENT = 0xFFFFFFFF
_AUTOCOMMIT = 0x0002
_MORE_RESULTS = 0x0008
_READ = 1 << 20

# Capabilities that only matter while connecting (or not at all after it): everything
# else the client and server agreed on may change the response bytes, so it names the
# recording.
_CONNECT_ONLY = int(
    C.CLIENT_LONG_PASSWORD  # MariaDB's CLIENT_MYSQL: extended caps are agreed or not
    | C.CLIENT_FOUND_ROWS
    | C.CLIENT_LONG_FLAG
    | C.CLIENT_CONNECT_WITH_DB
    | C.CLIENT_NO_SCHEMA
    | C.CLIENT_ODBC
    | C.CLIENT_LOCAL_FILES
    | C.CLIENT_IGNORE_SPACE
    | C.CLIENT_INTERACTIVE
    | C.CLIENT_SSL
    | C.CLIENT_IGNORE_SIGPIPE
    | C.CLIENT_RESERVED
    | C.CLIENT_SECURE_CONNECTION
    | C.CLIENT_MULTI_STATEMENTS
    | C.CLIENT_PLUGIN_AUTH
    | C.CLIENT_CONNECT_ATTRS
    | C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | C.CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS
    | C.CLIENT_SSL_VERIFY_SERVER_CERT
    | C.CLIENT_REMEMBER_OPTIONS
)


def profile_key(agreed: int, charset: int) -> str:
    """Names the response bytes a client gets: agreed capabilities that can change them,
    and the session's character set."""
    return f"{agreed & ~_CONNECT_ONLY:011x}-{charset}"


def recording_name(profile: str, kind: str, sql: str) -> str:
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
    return f"{profile}-{kind}-{digest}.rec"


def _frame(payload: bytes, seq: int) -> bytes:
    return frame_payload(payload, seq)[0]


class _Packets:
    """Blocking payload reader over a socket; optionally keeps every byte received."""

    def __init__(self, sock: socket.socket, *, seq: int | None) -> None:
        self.sock = sock
        self.reader = PacketReader(max_payload=1 << 30, seq=seq)
        self.raw: list[bytes] = []
        self.keep = False

    def next(self) -> Payload:
        while (p := self.reader.next_payload()) is None:
            data = self.sock.recv(_READ)
            if not data:
                raise ConnectionError("the peer closed the connection")
            if self.keep:
                self.raw.append(data)
            self.reader.feed(data)
        return p

    def take(self) -> bytes:
        if self.reader.buffered:
            raise RuntimeError(f"{self.reader.buffered} bytes after the end of the response")
        data = b"".join(self.raw)
        self.raw = []
        return data


# --------------------------------------------------------------------------------------
# Recording (from the real server)
# --------------------------------------------------------------------------------------


class RecordError(Exception):
    pass


def read_greeting(host: str, port: int) -> bytes:
    """The real server's greeting payload."""
    with socket.create_connection((host, port), timeout=10) as s:
        pk = _Packets(s, seq=0)
        return pk.next().data


def _skip_response(pk: _Packets, caps: int, kind: str) -> int:
    """Read one command's response to its end; the prepared statement id for prepare."""
    deprecate = bool(caps & C.CLIENT_DEPRECATE_EOF)

    def definitions(n: int) -> None:
        for _ in range(n):
            pk.next()
        if n and not deprecate:
            pk.next()  # EOF

    if kind == "prepare":
        data = pk.next().data
        if data[:1] == b"\xff":
            raise RecordError(pgen.parse_err(data))
        ok = pprep.parse_prepare_ok(data)
        if ok.metadata_follows is not False:
            definitions(ok.num_params)
            definitions(ok.num_columns)
        return ok.statement_id
    while True:
        data = pk.next().data
        if data[:1] == b"\xff":
            raise RecordError(pgen.parse_err(data))
        if data[:1] == b"\x00":
            if pgen.parse_ok(data, caps).status_flags & _MORE_RESULTS:
                continue
            return 0
        count, follows = prs.parse_column_count(data, caps)
        if follows:
            definitions(count)
        while True:
            data = pk.next().data
            if data[:1] == b"\xff":
                raise RecordError(pgen.parse_err(data))
            if data[:1] == b"\xfe" and len(data) < (0xFFFFFF if deprecate else 9):
                break
        if deprecate:
            status = pgen.parse_ok(data, caps).status_flags
        else:
            status = pgen.parse_eof(data, caps).status_flags
        if not status & _MORE_RESULTS:
            return 0


def _client_handshake(sock: socket.socket, conn: ClientConnection) -> None:
    """Run a sans-IO ClientConnection's handshake over a blocking socket."""
    while True:
        ev = conn.next_event()
        if isinstance(ev, NeedData):
            conn.receive_data(sock.recv(65536))
        elif isinstance(ev, Handshake):
            sock.sendall(conn.handshake_response())
        elif isinstance(ev, (AuthSwitchRequest, AuthMoreData)):
            sock.sendall(conn.auth_reply())
        elif isinstance(ev, Ok):
            return
        elif isinstance(ev, Err):
            raise RecordError(f"{ev.code} {ev.message}")


@dataclass(frozen=True)
class Profile:
    """What a client negotiates: its capability flags and character set."""

    key: str
    capabilities: int
    charset: int


def record(
    dsn: dict[str, Any], profile: Profile, commands: list[tuple[str, str]], directory: Path
) -> None:
    """Record ``(kind, sql)`` responses (kind "query" or "binary") for ``profile``."""
    with socket.create_connection((dsn["host"], dsn["port"]), timeout=120) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        caps = profile.capabilities & ~int(C.CLIENT_SSL | C.CLIENT_COMPRESS)
        conn = ClientConnection(
            user=dsn["user"],
            password=dsn.get("password") or "",
            database=dsn.get("database") or DATABASE,
            capabilities=caps,
            character_set=profile.charset,
        )
        _client_handshake(sock, conn)
        agreed = conn.capabilities
        key = profile_key(agreed, profile.charset)
        if key != profile.key:
            raise RecordError(f"the recorder negotiated {key}, the client {profile.key}")
        pk = _Packets(sock, seq=1)
        pk.keep = True

        def save(kind: str, sql: str, data: bytes) -> None:
            path = directory / recording_name(profile.key, kind, sql)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            tmp.replace(path)

        for kind, sql in commands:
            if kind == "query":
                pk.reader.reset_sequence(1)
                sock.sendall(_frame(pcmd.build_command(Query(sql=sql), agreed), 0))
                _skip_response(pk, agreed, "query")
                save("query", sql, pk.take())
                continue
            pk.reader.reset_sequence(1)
            sock.sendall(_frame(pcmd.build_command(StmtPrepare(sql=sql), agreed), 0))
            sid = _skip_response(pk, agreed, "prepare")
            prepare = pk.take()
            execute_cmd = StmtExecute(statement_id=sid, params=pprep.encode_params([0]))
            pk.reader.reset_sequence(1)
            sock.sendall(_frame(pcmd.build_command(execute_cmd, agreed), 0))
            _skip_response(pk, agreed, "execute")
            execute = pk.take()
            sock.sendall(_frame(bytes([Cmd.COM_STMT_CLOSE]) + sid.to_bytes(4, "little"), 0))
            save("prepare", sql, prepare)
            save("execute", sql, execute)
        sock.sendall(_frame(bytes([Cmd.COM_QUIT]), 0))


# --------------------------------------------------------------------------------------
# The replay server (its own process, a thread per connection)
# --------------------------------------------------------------------------------------


class _Store:
    """Recordings on disk, mapped into memory on first use."""

    def __init__(self, directory: str) -> None:
        self.dir = Path(directory)
        self.maps: dict[str, mmap.mmap] = {}
        self.lock = threading.Lock()

    def get(self, profile: str, kind: str, sql: str) -> mmap.mmap | None:
        name = recording_name(profile, kind, sql)
        with self.lock:
            m = self.maps.get(name)
            if m is None:
                path = self.dir / name
                if not path.exists():
                    return None
                with open(path, "rb") as f:
                    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                self.maps[name] = m
            return m


def _session(sock: socket.socket, greeting: bytes, store: _Store, reports: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    h = phs.parse_handshake(greeting)
    sock.sendall(_frame(greeting, 0))
    pk = _Packets(sock, seq=1)
    hello = phs.parse_client_hello(pk.next().data)
    if isinstance(hello, SSLRequest):
        return  # CLIENT_SSL is not offered
    caps = h.capabilities & hello.capabilities
    seq = 2
    plugin = hello.auth_plugin_name or "mysql_native_password"
    if plugin != "mysql_native_password":
        switch = AuthSwitchRequest(
            plugin_name="mysql_native_password", data=h.auth_plugin_data + b"\0"
        )
        sock.sendall(_frame(phs.build_auth_switch_request(switch), 2))
        pk.reader.reset_sequence(3)
        pk.next()
        seq = 4
    sock.sendall(_frame(pgen.build_ok(Ok(status_flags=_AUTOCOMMIT), caps), seq))
    profile = profile_key(caps, hello.character_set)
    reports.put(
        {
            "event": "hello",
            "profile": profile,
            "capabilities": hello.capabilities,
            "charset": hello.character_set,
            "plugin": plugin,
            "attributes": dict(hello.attributes),
        }
    )
    ok = _frame(pgen.build_ok(Ok(status_flags=_AUTOCOMMIT), caps), 1)
    last_prepared: str | None = None
    pk.reader.reset_sequence(None)
    while True:
        try:
            data = pk.next().data
        except (ConnectionError, OSError):
            return
        cmd = data[0] if data else -1
        answer: bytes | mmap.mmap | None = None
        if cmd == Cmd.COM_QUIT:
            return
        if cmd == Cmd.COM_QUERY:
            query = pcmd.parse_command(data, caps)
            sql = query.sql if isinstance(query, Query) else ""
            answer = store.get(profile, "query", sql)
            if answer is None:
                reports.put({"event": "ok", "sql": sql[:200]})
                answer = ok
        elif cmd == Cmd.COM_STMT_PREPARE:
            sql = data[1:].decode()
            answer = store.get(profile, "prepare", sql)
            last_prepared = sql
        elif cmd == Cmd.COM_STMT_EXECUTE and last_prepared is not None:
            answer = store.get(profile, "execute", last_prepared)
        elif cmd == Cmd.COM_STMT_CLOSE:
            continue
        elif cmd in (Cmd.COM_PING, Cmd.COM_STMT_RESET, Cmd.COM_INIT_DB):
            answer = ok
        if answer is None:
            message = f"mywire replay: no recording for command 0x{cmd:02x} ({profile})"
            reports.put({"event": "error", "message": message})
            answer = _frame(pgen.build_err(Err(code=1047, message=message, sqlstate="08S01")), 1)
        sock.sendall(answer)


def _serve(port: int, greeting: bytes, directory: str, ready: Any, reports: Any) -> None:
    store = _Store(directory)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, port))
    srv.listen(16)
    ready.set()

    def run(sock: socket.socket) -> None:
        try:
            _session(sock, greeting, store, reports)
        except Exception as exc:  # report, never hang a client
            reports.put({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            sock.close()

    while True:
        sock, _ = srv.accept()
        threading.Thread(target=run, args=(sock,), daemon=True).start()


# --------------------------------------------------------------------------------------
# What a gateway writes with orjson / msgpack
# --------------------------------------------------------------------------------------


def _timedelta_text(v: timedelta) -> str:
    us = (v.days * 86400 + v.seconds) * 1_000_000 + v.microseconds
    sign = "-" if us < 0 else ""
    us = abs(us)
    s, frac = divmod(us, 1_000_000)
    text = f"{sign}{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{text}.{frac:06d}" if frac else text


def json_default(v: object) -> object:
    """orjson's ``default``: bytes as base64, Decimal as its text, temporal values in
    MySQL's text form (datetime with ``OPT_PASSTHROUGH_DATETIME``)."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat(" ")
    if isinstance(v, (date, dtime)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return _timedelta_text(v)
    raise TypeError(f"cannot serialise {type(v).__name__}")


def msgpack_default(v: object) -> object:
    """msgpack's ``default``: the same text forms (bytes go out as bin natively)."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat(" ")
    if isinstance(v, (date, dtime)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return _timedelta_text(v)
    raise TypeError(f"cannot serialise {type(v).__name__}")


def _fields(description: Sequence[Sequence[Any]] | None) -> list[dict[str, object]]:
    return [
        {"name": d[0], "type": d[1], "length": d[3], "decimals": d[5], "nullable": d[6]}
        for d in description or ()
    ]


def peer_json(description: Any, rows: Any) -> bytes:
    return orjson.dumps(
        {"fields": _fields(description), "rows": rows},
        default=json_default,
        option=orjson.OPT_PASSTHROUGH_DATETIME,
    )


def peer_msgpack(description: Any, rows: Any) -> bytes:
    out: bytes = msgpack.packb(
        {"fields": _fields(description), "rows": rows},
        default=msgpack_default,
        use_bin_type=True,
    )
    return out


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


class Skip(Exception):
    """A client that cannot run here (not installed, C extension not loadable)."""


Fetch = Callable[[Any, str, "list[int] | None"], tuple[Any, Any]]


class SyncPeer:
    """A DB-API driver: fetch every row, then encode."""

    def __init__(self, conn: Any, fetch: Fetch) -> None:
        self.conn = conn
        self.fetch = fetch

    def run(self, sql: str, params: list[int] | None, output: str) -> tuple[float, object]:
        encode = peer_json if output == "json" else peer_msgpack
        t0 = time.perf_counter()
        description, rows = self.fetch(self.conn, sql, params)
        out = encode(description, rows)
        return time.perf_counter() - t0, out

    def close(self) -> None:
        self.conn.close()


class AsyncPeer:
    """asyncmy: the same, in its own event loop (timed inside the coroutine)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: Any,
        fetch: Callable[[Any, str], Awaitable[tuple[Any, Any]]],
    ) -> None:
        self.loop, self.conn, self.fetch = loop, conn, fetch

    def run(self, sql: str, params: list[int] | None, output: str) -> tuple[float, object]:
        encode = peer_json if output == "json" else peer_msgpack

        async def go() -> tuple[float, object]:
            t0 = time.perf_counter()
            description, rows = await self.fetch(self.conn, sql)
            out = encode(description, rows)
            return time.perf_counter() - t0, out

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.conn.close()
        self.loop.close()


class MywireClient:
    def __init__(self, port: int) -> None:
        from mywire import aio

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(
            aio.connect(
                host=HOST,
                port=port,
                user=USER,
                password=PASSWORD,
                database=DATABASE,
                ssl_mode="disabled",
            )
        )

    def run(self, sql: str, params: list[int] | None, output: str) -> tuple[float, object]:
        c = self.conn

        async def go() -> tuple[float, object]:
            t0 = time.perf_counter()
            out: object
            if output == "json":
                out = await c.query_json(sql, params)
            elif output == "msgpack":
                out = await c.query_msgpack(sql, params)
            else:
                out = (await c.query(sql, params)).rows()
            return time.perf_counter() - t0, out

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


class FloorClient:
    """A raw socket: send the command, read exactly the recorded number of bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = ClientConnection(user=USER, password=PASSWORD, database=DATABASE)
        _client_handshake(self.sock, conn)
        self.caps = conn.capabilities
        self.profile = ""  # set from the replay server's report
        self.buf = bytearray()

    def command(self, sql: str, params: list[int] | None, nbytes: int) -> bytes:
        """The command's bytes; the response is ``nbytes`` long."""
        self.buf = bytearray(nbytes)
        if params is None:
            return _frame(pcmd.build_command(Query(sql=sql), self.caps), 0)
        execute = StmtExecute(statement_id=LAST_STATEMENT, params=pprep.encode_params(params))
        return _frame(pcmd.build_command(StmtPrepare(sql=sql), self.caps), 0) + _frame(
            pcmd.build_command(execute, self.caps), 0
        )

    def run(self, command: bytes) -> float:
        sock, view, total = self.sock, memoryview(self.buf), len(self.buf)
        got = 0
        t0 = time.perf_counter()
        sock.sendall(command)
        while got < total:
            n = sock.recv_into(view[got:], total - got)
            if not n:
                raise ConnectionError("the replay server closed the connection")
            got += n
        return time.perf_counter() - t0

    def close(self) -> None:
        self.sock.close()


def _pymysql(port: int) -> SyncPeer:
    try:
        import pymysql
    except ImportError as exc:
        raise Skip(str(exc)) from None
    conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DATABASE)

    def fetch(conn: Any, sql: str, params: list[int] | None) -> tuple[Any, Any]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.description, cur.fetchall()

    return SyncPeer(conn, fetch)


def _mysqlclient(port: int) -> SyncPeer:
    try:
        import MySQLdb
    except ImportError as exc:
        raise Skip(str(exc)) from None
    conn = MySQLdb.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DATABASE)

    def fetch(conn: Any, sql: str, params: list[int] | None) -> tuple[Any, Any]:
        cur = conn.cursor()
        try:
            cur.execute(sql)
            return cur.description, cur.fetchall()
        finally:
            cur.close()

    return SyncPeer(conn, fetch)


def _connector(port: int) -> SyncPeer:
    try:
        import mysql.connector
    except ImportError as exc:
        raise Skip(str(exc)) from None
    try:
        importlib.import_module("_mysql_connector")
    except ImportError as exc:
        raise Skip(f"C extension not loadable: {exc}") from None
    conn = mysql.connector.connect(
        host=HOST, port=port, user=USER, password=PASSWORD, database=DATABASE, use_pure=False
    )

    def fetch(conn: Any, sql: str, params: list[int] | None) -> tuple[Any, Any]:
        cur = conn.cursor(prepared=params is not None)
        try:
            if params is None:
                cur.execute(sql)
            else:
                cur.execute(sql, tuple(params))
            return cur.description, cur.fetchall()
        finally:
            cur.close()

    return SyncPeer(conn, fetch)


def _asyncmy(port: int) -> AsyncPeer:
    try:
        import asyncmy
    except ImportError as exc:
        raise Skip(str(exc)) from None
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(
        asyncmy.connect(host=HOST, port=port, user=USER, password=PASSWORD, db=DATABASE)
    )

    async def fetch(conn: Any, sql: str) -> tuple[Any, Any]:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            return cur.description, await cur.fetchall()

    return AsyncPeer(loop, conn, fetch)


@dataclass(frozen=True)
class Family:
    name: str
    dist: str
    binary: bool  # has server-side prepared statements
    outputs: tuple[str, ...]
    connect: Callable[[int], Any]
    peer: bool = True


FAMILIES = [
    Family("PyMySQL", "PyMySQL", False, ("json", "msgpack"), _pymysql),
    Family("mysqlclient", "mysqlclient", False, ("json", "msgpack"), _mysqlclient),
    Family(
        "mysql-connector-python (C ext)",
        "mysql-connector-python",
        True,
        ("json", "msgpack"),
        _connector,
    ),
    Family("asyncmy", "asyncmy", False, ("json", "msgpack"), _asyncmy),
    Family("mywire", "mywire", True, ("json", "msgpack", "python"), MywireClient, peer=False),
]

PEERS = frozenset(f.name for f in FAMILIES if f.peer)

_OUTPUT_LABEL = {
    "json": "orjson.dumps",
    "msgpack": "msgpack.packb",
}
_MYWIRE_LABEL = {
    "json": "mywire query_json",
    "msgpack": "mywire query_msgpack",
    "python": "mywire query().rows() (Python values)",
}


def pipeline_label(family: Family, output: str) -> str:
    if not family.peer:
        return _MYWIRE_LABEL[output]
    return f"{family.name} + {_OUTPUT_LABEL[output]}"


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------


@dataclass
class Result:
    workload: str
    protocol: str
    rows: int
    pipeline: str
    family: str
    output: str
    version: str
    status: str = "ok"  # ok | n/a | skipped | failed
    reason: str = ""
    wire_bytes: int = 0
    output_bytes: int = 0
    times_ms: list[float] = field(default_factory=list)
    correct: bool | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _connector_version() -> str:
    try:
        import mysql.connector

        return str(mysql.connector.__version__)
    except ImportError:
        return "?"


def _time_pipeline(
    client: Any,
    sql: str,
    params: list[int] | None,
    output: str,
    rounds: int,
    kinds: Sequence[str],
    reference: list[tuple[object, ...]],
    result: Result,
) -> None:
    _, out = client.run(sql, params, output)  # warm-up, checked
    if isinstance(out, bytes):
        result.output_bytes = len(out)
    problem = compare(normalise(out, output, kinds), reference)
    result.correct = problem is None
    if problem is not None:
        result.reason = problem
    del out
    for _ in range(rounds):
        gc.collect()
        elapsed, out = client.run(sql, params, output)
        del out
        result.times_ms.append(elapsed * 1000)


class Replay:
    """The replay server process, its reports, and the recordings it serves."""

    def __init__(self, dsn: dict[str, Any], greeting: bytes, directory: Path) -> None:
        self.dsn = dsn
        self.directory = directory
        self.log: list[dict[str, Any]] = []  # what the server reported besides handshakes
        self.profiles: dict[str, Profile] = {}
        ctx = multiprocessing.get_context("fork")  # before any client library starts a thread
        ready = ctx.Event()
        self.reports = ctx.Queue()
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = int(s.getsockname()[1])
        self.process = ctx.Process(
            target=_serve,
            args=(self.port, greeting, str(directory), ready, self.reports),
            daemon=True,
        )
        self.process.start()
        if not ready.wait(30):
            raise SystemExit("the replay server did not start")

    def stop(self) -> None:
        self.drain()
        self.process.terminate()
        self.process.join(5)

    def drain(self) -> None:
        try:
            while True:
                msg = self.reports.get_nowait()
                if msg["event"] != "hello":
                    self.log.append(msg)
        except queue.Empty:
            pass

    def hello(self) -> Profile:
        """The profile of the connection that just authenticated."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                msg = self.reports.get(timeout=1.0)
            except queue.Empty:
                continue
            if msg["event"] != "hello":
                self.log.append(msg)
                continue
            p = Profile(msg["profile"], msg["capabilities"], msg["charset"])
            self.profiles.setdefault(p.key, p)
            return p
        raise RuntimeError("the replay server saw no handshake")

    @property
    def errors(self) -> list[str]:
        return [m["message"] for m in self.log if m["event"] == "error"]

    def path(self, key: str, kind: str, sql: str) -> Path:
        return self.directory / recording_name(key, kind, sql)

    def record_missing(self, key: str, commands: list[tuple[str, str]]) -> None:
        """Record the ``(kind, sql)`` responses of profile ``key`` not cached yet."""
        missing = [
            (kind, sql)
            for kind, sql in commands
            if not all(
                self.path(key, k, sql).exists()
                for k in (("query",) if kind == "query" else ("prepare", "execute"))
            )
        ]
        if missing:
            print(f"recording {len(missing)} responses for profile {key} ...", file=sys.stderr)
            record(self.dsn, self.profiles[key], missing, self.directory)

    def wire(self, key: str, protocol: str, sql: str) -> bytes:
        """The bytes a client of profile ``key`` reads for ``sql``."""
        if protocol == "text":
            return self.path(key, "query", sql).read_bytes()
        return self.path(key, "prepare", sql).read_bytes() + (
            self.path(key, "execute", sql).read_bytes()
        )


async def _ensure_tables(dsn: dict[str, Any], selected: list[tuple[Workload, int]]) -> None:
    from mywire import aio

    c = await aio.connect(**{**dsn, "ssl_mode": "disabled"})
    try:
        for w, n in selected:
            t = w.table(n)
            r = await c.query(
                "SELECT table_comment FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = ?",
                [t],
            )
            rows = r.rows()
            if rows and rows[0][0] == f"mywire bench {w.version}":
                (count,) = (await c.query(f"SELECT COUNT(*) FROM {t}")).rows()[0]
                if count == n:
                    continue
            print(f"creating {t} ({n:,} rows) ...", file=sys.stderr)
            for sql in w.create_sql(n):
                await c.query(sql)
    finally:
        await c.close()


def _reference(port: int, w: Workload, n: int) -> list[tuple[object, ...]]:
    """The rows as PyMySQL decodes them from the text protocol (mywire's if absent)."""
    try:
        peer = _pymysql(port)
    except Skip:
        client = MywireClient(port)
        try:
            _, rows = client.run(w.text_sql(n), None, "python")
        finally:
            client.close()
    else:
        try:
            _, rows = peer.fetch(peer.conn, w.text_sql(n), None)
        finally:
            peer.close()
    assert isinstance(rows, (list, tuple))
    return normalise(list(rows), "python", w.kinds)


def _machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"CPython {platform.python_version()}"
    )


def _floor(
    floor: FloorClient, replay: Replay, w: Workload, n: int, protocol: str, runs: int
) -> Result:
    sql = w.text_sql(n) if protocol == "text" else w.binary_sql(n)
    expected = replay.wire(floor.profile, protocol, sql)
    r = Result(w.name, protocol, n, "floor: raw socket, exact byte count", "floor", "raw", "")
    r.wire_bytes = len(expected)
    command = floor.command(sql, None if protocol == "text" else [0], len(expected))
    for _ in range(runs):
        r.times_ms.append(floor.run(command) * 1000)
    r.correct = bytes(floor.buf) == expected
    if not r.correct:
        r.reason = "the bytes read differ from the recording"
    floor.buf = bytearray()
    return r


def _pipelines(
    replay: Replay,
    family_profile: dict[str, str],
    skipped: dict[str, str],
    w: Workload,
    n: int,
    protocol: str,
    rounds: int,
    reference: list[tuple[object, ...]],
) -> list[Result]:
    sql = w.text_sql(n) if protocol == "text" else w.binary_sql(n)
    params = None if protocol == "text" else [0]
    results: list[Result] = []
    for fam in FAMILIES:
        if fam.dist == "mysql-connector-python":
            version = _connector_version()
        else:
            version = _version(fam.dist)
        for output in fam.outputs:
            label = pipeline_label(fam, output)
            r = Result(w.name, protocol, n, label, fam.name, output, version)
            results.append(r)
            if fam.name in skipped:
                r.status, r.reason = "skipped", skipped[fam.name]
                continue
            if protocol == "binary" and not fam.binary:
                r.status, r.reason = "n/a", "no server-side prepared statements"
                continue
            r.wire_bytes = len(replay.wire(family_profile[fam.name], protocol, sql))
            print(f"{w.name}/{protocol}: {label} ...", file=sys.stderr)
            try:
                client = fam.connect(replay.port)
                replay.hello()
                try:
                    _time_pipeline(client, sql, params, output, rounds, w.kinds, reference, r)
                finally:
                    client.close()
            except Exception as exc:
                r.status, r.reason = "failed", f"{type(exc).__name__}: {exc}"[:200]
                r.correct = False
            if not r.correct:
                print(f"  WRONG: {r.reason}", file=sys.stderr)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, help="timed runs per pipeline (default 5; quick 3)")
    ap.add_argument("--floor-runs", type=int, default=30, help="floor runs (min taken; >= 20)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    ap.add_argument("--protocols", default="text,binary", help="text, binary or both")
    ap.add_argument("--quick", action="store_true", help="reduced sizes (CI)")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--markdown", help="write the tables here")
    ap.add_argument("--dsn", default=os.environ.get("MYWIRE_TEST_DSN", DEFAULT_DSN))
    ap.add_argument("--cache-dir", help="recordings (default: <tmp>/mywire-bench-recordings)")
    ap.add_argument("--connector-path", help="import mysql-connector-python from this dir")
    ap.add_argument(
        "--allow-wrong-peers",
        action="store_true",
        help="report a peer driver's wrong values but exit 0 (a driver bug, not ours)",
    )
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    floor_runs = max(args.floor_runs, 20)
    if args.connector_path:
        sys.path.insert(0, args.connector_path)
    names = [s.strip() for s in args.workloads.split(",") if s.strip()]
    protocols = [s.strip() for s in args.protocols.split(",") if s.strip()]
    for name in names:
        if name not in WORKLOADS:
            ap.error(f"unknown workload {name!r} (have {', '.join(WORKLOADS)})")
    for p in protocols:
        if p not in ("text", "binary"):
            ap.error(f"unknown protocol {p!r}")
    selected = [
        (WORKLOADS[x], WORKLOADS[x].quick_rows if args.quick else WORKLOADS[x].rows) for x in names
    ]

    from mywire import aio

    dsn = aio.parse_dsn(args.dsn)
    dsn.setdefault("host", "127.0.0.1")
    dsn.setdefault("port", 3306)
    asyncio.run(_ensure_tables(dsn, selected))
    greeting = read_greeting(str(dsn["host"]), int(str(dsn["port"])))
    server_version = phs.parse_handshake(greeting).version
    cache_root = Path(args.cache_dir or Path(tempfile.gettempdir()) / "mywire-bench-recordings")
    directory = cache_root / f"{server_version}-{workloads.definitions_hash()}"
    directory.mkdir(parents=True, exist_ok=True)

    replay = Replay(dsn, greeting, directory)
    results: list[Result] = []
    try:
        # Probe every client: its profile names the recordings it reads.
        family_profile: dict[str, str] = {}
        skipped: dict[str, str] = {}
        for fam in FAMILIES:
            try:
                client = fam.connect(replay.port)
            except Skip as exc:
                skipped[fam.name] = str(exc)
                continue
            family_profile[fam.name] = replay.hello().key
            client.close()
        floor = FloorClient(replay.port)
        floor.profile = replay.hello().key
        binary_users = {floor.profile} | {
            family_profile[f.name] for f in FAMILIES if f.binary and f.name in family_profile
        }
        for key in replay.profiles:
            commands: list[tuple[str, str]] = []
            for w, n in selected:
                if "text" in protocols:
                    commands.append(("query", w.text_sql(n)))
                if "binary" in protocols and key in binary_users:
                    commands.append(("binary", w.binary_sql(n)))
            replay.record_missing(key, commands)

        for w, n in selected:
            print(f"{w.name}: reference rows ...", file=sys.stderr)
            reference = _reference(replay.port, w, n)
            replay.hello()
            if len(reference) != n:
                raise SystemExit(f"{w.name}: the reference has {len(reference)} rows, not {n}")
            for protocol in protocols:
                results.append(_floor(floor, replay, w, n, protocol, floor_runs))
                results += _pipelines(
                    replay, family_profile, skipped, w, n, protocol, rounds, reference
                )
            del reference
        floor.close()
    finally:
        replay.stop()

    meta = {
        "machine": _machine(),
        "server": server_version,
        "rounds": rounds,
        "floor_runs": floor_runs,
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "versions": {
            "orjson": _version("orjson"),
            "msgpack": _version("msgpack"),
            "mywire": _version("mywire"),
        },
    }
    text = render(results, meta)
    print(text)
    if replay.errors:
        print("replay server errors:", *replay.errors, sep="\n  ", file=sys.stderr)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        payload = {
            "meta": meta,
            "results": [
                {**r.__dict__, "median_ms": r.median_ms if r.times_ms else None} for r in results
            ],
            "server_log": replay.log,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))
    # A peer's wrong values (a driver bug) fail the run only without --allow-wrong-peers;
    # a pipeline that failed to run, or a wrong mywire or floor output, always does.
    wrong = [r for r in results if r.correct is False]
    fatal = [
        r for r in wrong if not (args.allow_wrong_peers and r.status == "ok" and r.family in PEERS)
    ]
    for r in wrong:
        print(
            f"WRONG OUTPUT: {r.workload}/{r.protocol} {r.pipeline}: {r.reason}"
            + ("" if r in fatal else " (allowed: --allow-wrong-peers)"),
            file=sys.stderr,
        )
    return 1 if fatal or replay.errors else 0


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def render(results: list[Result], meta: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    add(f"Machine: {meta['machine']}; server recorded: MariaDB {meta['server']}.")
    add(
        f"Medians of {meta['rounds']} timed runs after a checked warm-up run; the floor is the "
        f"minimum of {meta['floor_runs']} runs. orjson {meta['versions']['orjson']}, "
        f"msgpack {meta['versions']['msgpack']}."
    )
    add("")
    summary: list[str] = []
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.workload, r.protocol), []).append(r)
    for (wname, protocol), rs in groups.items():
        floor = next(r for r in rs if r.family == "floor")
        floor_ms = min(floor.times_ms)
        w = WORKLOADS[wname]
        n = floor.rows
        proto = (
            "text protocol (COM_QUERY)"
            if protocol == "text"
            else ("binary protocol (COM_STMT_PREPARE + COM_STMT_EXECUTE)")
        )
        add(f"### {wname}: {n:,} {w.title}, {proto}")
        add("")
        add(f"{_mb(floor.wire_bytes)} MB on the wire (mywire's capabilities).")
        add("")
        add(
            "| pipeline | version | median (ms) | rows/s | wire MB/s | vs floor | output MB "
            "| correct |"
        )
        add("|---|---|---:|---:|---:|---:|---:|---|")
        fl_mbs = floor.wire_bytes / floor_ms / 1000
        add(
            f"| {floor.pipeline} (min of {len(floor.times_ms)}; median "
            f"{floor.median_ms:.1f}) | | {floor_ms:.1f} | {n / floor_ms * 1000:,.0f} | "
            f"{fl_mbs:,.0f} | 1.00 | | {floor.correct} |"
        )
        for r in rs:
            if r.family == "floor":
                continue
            if r.status != "ok" or not r.times_ms:
                mark = str(r.correct) if r.status == "failed" else ""
                add(f"| {r.pipeline} | {r.version} | {r.status}: {r.reason} | | | | | {mark} |")
                continue
            med = r.median_ms
            out_mb = _mb(r.output_bytes) if r.output_bytes else ""
            correct = str(r.correct) + ("" if r.correct else f" ({r.reason})")
            add(
                f"| {r.pipeline} | {r.version} | {med:,.1f} | {n / med * 1000:,.0f} | "
                f"{r.wire_bytes / med / 1000:,.0f} | {med / floor_ms:.2f} | {out_mb} | {correct} |"
            )
        add("")
        cells = [wname, protocol, _mb(floor.wire_bytes), f"{floor_ms:.1f}"]
        for output in ("json", "msgpack"):
            mine = next(
                (r for r in rs if r.family == "mywire" and r.output == output and r.times_ms),
                None,
            )
            peers = [
                r
                for r in rs
                if r.family not in ("mywire", "floor") and r.output == output and r.times_ms
            ]
            # The fastest peer with a correct output (else the fastest, marked wrong).
            right = [r for r in peers if r.correct]
            best = min(right or peers, key=lambda r: r.median_ms) if peers else None
            if mine is None:
                cells += ["", "", ""]
                continue
            cells.append(f"{mine.median_ms:,.1f}")
            if best is None:
                cells += ["n/a", ""]
                add(f"Fastest peer, {output}: none can run this protocol here.")
            else:
                ratio = best.median_ms / mine.median_ms
                wrong = "" if best.correct else " (wrong output)"
                cells += [f"{best.family}{wrong} {best.median_ms:,.1f}", f"{ratio:.2f}×"]
                add(
                    f"Fastest peer, {output}: {best.pipeline}{wrong}, {best.median_ms:,.1f} ms "
                    f"= {ratio:.2f}× mywire's {mine.median_ms:,.1f} ms."
                )
        add("")
        summary.append("| " + " | ".join(cells) + " |")
    add("### Summary (medians, ms; ratio = fastest peer's time / mywire's)")
    add("")
    add(
        "| workload | protocol | wire MB | floor | mywire json | fastest peer json | ratio "
        "| mywire msgpack | fastest peer msgpack | ratio |"
    )
    add("|---|---|---:|---:|---:|---|---:|---:|---|---:|")
    out.extend(summary)
    add("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
