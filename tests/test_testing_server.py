"""mywire.testing.TestServer against unmodified drivers: PyMySQL, mysql-connector-python
(pure Python, and its C extension when it loads), mywire's own asyncio client, and a raw
client that drives a ClientConnection over a socket byte for byte.

The server runs on its own event loop in a background thread (:class:`ServerThread`), so
the synchronous drivers run plainly in the test's thread.  Everything waits at most
``TIMEOUT`` seconds: the drivers get it as their connect/read/write timeouts, the server
as its read timeout, and starting/stopping the server thread is bounded by it too.  At the
end of every test the fixture stops the servers and asserts they recorded no unexpected
exception (``TestServer.errors``).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mywire import aio
from mywire.codec import unpack
from mywire.connection import ClientConnection
from mywire.constants import ColumnFlag, FieldType, ServerStatus
from mywire.errors import AuthError, ServerError
from mywire.events import (
    AuthMoreData,
    AuthSwitchRequest,
    ConnectionClosed,
    Err,
    Event,
    Handshake,
    NeedData,
    Ok,
    Statistics,
)
from mywire.testing import (
    Account,
    HandlerResult,
    TestServer,
    column_definition,
    default_handler,
    generate_rsa_private_key,
    text_row,
)

try:
    import mysql.connector as mysql_connector
    from mysql.connector import errors as connector_errors

    HAVE_CONNECTOR = True
except ImportError:  # pragma: no cover - a dev dependency
    HAVE_CONNECTOR = False

TIMEOUT = 10.0

NATIVE = ("native", "native-pw")
SHA2 = ("sha2", "sha2-pw")
ACCOUNTS: dict[str, str | bytes | Account] = {
    "native": Account("native-pw", "mysql_native_password"),
    "sha2": Account("sha2-pw", "caching_sha2_password"),
}

# What the test handler answers, checked field by field on the client side.
INSERT_OK = Ok(
    affected_rows=3, last_insert_id=42, status_flags=ServerStatus.SERVER_STATUS_AUTOCOMMIT
)
TABLE_ERR = Err(code=1146, message="Table 'test.nope' doesn't exist", sqlstate="42S02")
ROWS_COLUMNS = [
    column_definition(
        "id", FieldType.MYSQL_TYPE_LONG, flags=ColumnFlag.NOT_NULL_FLAG, table="t", schema="test"
    ),
    column_definition("name", table="t", schema="test"),
]
ROWS = [text_row([1, "alpha"]), text_row([2, None])]


def handler(sql: str) -> HandlerResult:
    if sql.startswith("INSERT"):
        return INSERT_OK
    if sql == "SELECT * FROM nope":
        return TABLE_ERR
    if sql == "SELECT id, name FROM t":
        return ROWS_COLUMNS, ROWS
    if sql == "SELECT boom":
        raise RuntimeError("boom")
    return default_handler(sql)


# ------------------------------------------------------------------------------------
# Server in a thread, fixtures
# ------------------------------------------------------------------------------------


class ServerThread:
    """Run a TestServer on a fresh event loop in a daemon thread."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> TestServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(TIMEOUT)
        return self.server

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(TIMEOUT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
            assert not self.thread.is_alive(), "the server thread did not stop"
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()


ServeFn = Callable[..., TestServer]


@pytest.fixture(scope="session")
def rsa_pem() -> bytes:
    """One RSA key for every server of the session (generating one takes ~0.1 s)."""
    return generate_rsa_private_key()


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(d: Path) -> TLSFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, written to ``d``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mywire test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    files = TLSFiles(cert=d / "cert.pem", key=d / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def serve(rsa_pem: bytes) -> Iterator[ServeFn]:
    """``serve(**TestServer kwargs)`` starts a server; all are stopped and checked after."""
    threads: list[ServerThread] = []

    def start(**kwargs: Any) -> TestServer:
        kwargs.setdefault("accounts", ACCOUNTS)
        kwargs.setdefault("handler", handler)
        kwargs.setdefault("rsa_private_key", rsa_pem)
        kwargs.setdefault("read_timeout", TIMEOUT)
        t = ServerThread(TestServer(**kwargs))
        threads.append(t)
        return t.start()

    yield start
    for t in threads:
        t.stop()
    for t in threads:
        assert t.server.errors == [], t.server.errors


# ------------------------------------------------------------------------------------
# Drivers behind one small interface
# ------------------------------------------------------------------------------------

DRIVERS = ["pymysql", "connector-pure", "connector-cext"]


def _require(driver: str) -> None:
    if driver.startswith("connector") and not HAVE_CONNECTOR:
        pytest.skip("mysql-connector-python is not installed")
    if driver == "connector-cext" and not mysql_connector.HAVE_CEXT:
        pytest.skip("mysql-connector-python's C extension does not load here")


def connect(
    driver: str, server: TestServer, account: tuple[str, str], *, tls: TLSFiles | None = None
) -> Any:
    """A DB-API connection; TLS (verifying the test certificate) only when ``tls``."""
    user, password = account
    if driver == "pymysql":
        return pymysql.connect(
            host="127.0.0.1",
            port=server.port,
            user=user,
            password=password,
            ssl_ca=str(tls.cert) if tls else None,
            ssl_verify_cert=bool(tls),
            ssl_verify_identity=bool(tls),
            ssl_disabled=not tls,  # PyMySQL 1.2 otherwise uses TLS whenever offered
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            write_timeout=TIMEOUT,
        )
    tls_kwargs: dict[str, Any] = (
        {"ssl_ca": str(tls.cert), "ssl_verify_cert": True} if tls else {"ssl_disabled": True}
    )
    return mysql_connector.connect(
        host="127.0.0.1",
        port=server.port,
        user=user,
        password=password,
        use_pure=driver == "connector-pure",
        connection_timeout=int(TIMEOUT),
        **tls_kwargs,
    )


def db_error(driver: str) -> type[Exception]:
    return pymysql.MySQLError if driver == "pymysql" else connector_errors.Error


def error_fields(driver: str, exc: BaseException) -> tuple[int, str, str | None]:
    """(code, message, SQL state) as the driver reports them; PyMySQL drops the state."""
    if driver == "pymysql":
        code, message = exc.args
        return code, message, None
    assert isinstance(exc, connector_errors.Error)
    return exc.errno, exc.msg or "", exc.sqlstate


def wait_closed(server: TestServer, n: int) -> None:
    """Wait until the server has finished with its first ``n`` connections."""
    deadline = time.monotonic() + TIMEOUT
    while not (len(server.connections) >= n and all(c.closed for c in server.connections[:n])):
        assert time.monotonic() < deadline, server.connections
        time.sleep(0.005)


def exercise(driver: str, db: Any) -> None:
    """OK with affected rows and insert id, a resultset, a custom ERR and a 1064 ERR."""
    cur = db.cursor()
    assert cur.execute("INSERT INTO t VALUES (1), (2), (3)") in (3, None)
    assert cur.rowcount == 3
    assert cur.lastrowid == 42
    cur.execute("SELECT 1")
    assert list(cur.fetchall()) == [(1,)]
    cur.execute("SELECT id, name FROM t")
    assert [d[0] for d in cur.description] == ["id", "name"]
    assert list(cur.fetchall()) == [(1, "alpha"), (2, None)]
    syntax = default_handler("SELECT syntax error")
    assert isinstance(syntax, Err)
    for sql, err in [("SELECT * FROM nope", TABLE_ERR), ("SELECT syntax error", syntax)]:
        with pytest.raises(db_error(driver)) as info:
            cur.execute(sql)
        # Exactly as sent; PyMySQL does not report the SQL state.
        assert error_fields(driver, info.value) == (
            err.code,
            err.message,
            None if driver == "pymysql" else err.sqlstate,
        )
    db.ping()
    cur.close()


# ------------------------------------------------------------------------------------
# Builders
# ------------------------------------------------------------------------------------


def test_column_definition_layout() -> None:
    payload = column_definition(
        "n", FieldType.MYSQL_TYPE_LONGLONG, flags=0x1001, decimals=0, table="t", schema="s"
    )
    fields = unpack("SSSSSSLHIBHB2x", payload)
    assert fields == (b"def", b"s", b"t", b"t", b"n", b"n", 0x0C, 63, 21, 8, 0x1001, 0)
    # Text columns default to utf8mb4_general_ci and 255 characters.
    assert unpack("SSSSSSLHIBHB2x", column_definition("v"))[7:10] == (45, 1020, 253)


def test_text_row_layout() -> None:
    assert text_row([1, "é", None, b"\x00", 1.5]) == b"\x011\x02\xc3\xa9\xfb\x01\x00\x031.5"
    with pytest.raises(TypeError):
        text_row([object()])  # type: ignore[list-item]


def test_accounts_validated() -> None:
    with pytest.raises(ValueError, match="unsupported plugin"):
        TestServer({"u": Account("p", "sha256_password")})
    with pytest.raises(RuntimeError, match="not started"):
        _ = TestServer().port


# ------------------------------------------------------------------------------------
# Drivers: mysql_native_password, caching_sha2_password, wrong passwords
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_native_password(driver: str, serve: ServeFn) -> None:
    _require(driver)
    server = serve()  # greets with caching_sha2_password: the account needs a switch
    db = connect(driver, server, NATIVE)
    try:
        exercise(driver, db)
    finally:
        db.close()
    wait_closed(server, 1)
    (info,) = server.connections
    assert info.user == "native" and info.plugin == "mysql_native_password"
    assert info.authenticated and info.switched and not info.tls
    assert "INSERT INTO t VALUES (1), (2), (3)" in info.queries
    assert info.commands[-1] == "Quit"


@pytest.mark.parametrize("greeting", ["mysql_native_password", "caching_sha2_password"])
@pytest.mark.parametrize("account", [NATIVE, SHA2])
def test_auth_switch_only_when_plugins_differ(
    greeting: str, account: tuple[str, str], serve: ServeFn
) -> None:
    server = serve(default_plugin=greeting)
    db = connect("pymysql", server, account)
    db.close()
    wait_closed(server, 1)
    (info,) = server.connections
    assert info.authenticated
    assert info.switched == (info.plugin != greeting)


def test_pymysql_caching_sha2_full_rsa_then_fast(serve: ServeFn) -> None:
    """Over plain TCP the full path is the RSA exchange; the second login is fast."""
    server = serve()
    for _ in range(2):
        db = connect("pymysql", server, SHA2)
        try:
            exercise("pymysql", db)
        finally:
            db.close()
    wait_closed(server, 2)
    first, second = server.connections
    assert first.full_auth and first.rsa_key_sent and not first.fast_auth
    assert first.more_data[0] == b"\x04" and first.more_data[1].startswith(b"-----BEGIN")
    assert second.more_data == [b"\x03"]
    assert first.authenticated and second.authenticated
    assert not first.tls and not second.tls


@pytest.mark.parametrize("driver", DRIVERS)
def test_caching_sha2_full_over_tls_then_fast(
    driver: str, serve: ServeFn, tls_files: TLSFiles
) -> None:
    """Over TLS the full path is the clear password (no RSA); the next login is fast,
    also over plain TCP."""
    _require(driver)
    server = serve(ssl_context=tls_files.server_context())
    db = connect(driver, server, SHA2, tls=tls_files)
    try:
        exercise(driver, db)
    finally:
        db.close()
    db = connect(driver, server, SHA2)
    db.close()
    wait_closed(server, 2)
    full, fast = server.connections
    assert full.tls and full.authenticated
    assert full.more_data == [b"\x04"]  # then the clear password, no key exchange
    assert not fast.tls and fast.authenticated and fast.more_data == [b"\x03"]


def test_connector_pure_full_auth_needs_tls(serve: ServeFn) -> None:
    """mysql-connector's pure caching_sha2 plugin has no RSA: it answers 0x04 with the
    clear password even over plain TCP, which a server must refuse (1045)."""
    _require("connector-pure")
    server = serve()
    with pytest.raises(connector_errors.Error) as info:
        connect("connector-pure", server, SHA2)
    assert info.value.errno == 1045
    assert server.connections[0].full_auth and not server.connections[0].authenticated


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    "account",
    [("native", "wrong"), ("sha2", "wrong"), ("nobody", "x")],
    ids=["native", "sha2", "unknown-user"],
)
def test_wrong_password(
    driver: str, account: tuple[str, str], serve: ServeFn, tls_files: TLSFiles
) -> None:
    _require(driver)
    # TLS, so that mysql-connector's pure plugin may send the password for full auth.
    server = serve(ssl_context=tls_files.server_context())
    with pytest.raises(db_error(driver)) as info:
        connect(driver, server, account, tls=tls_files)
    code, message, sqlstate = error_fields(driver, info.value)
    assert code == 1045
    assert message == f"Access denied for user '{account[0]}'@'127.0.0.1' (using password: YES)"
    assert sqlstate == (None if driver == "pymysql" else "28000")
    wait_closed(server, 1)
    assert not server.connections[0].authenticated


def test_tls_handshake_failure(serve: ServeFn, tls_files: TLSFiles, tmp_path: Path) -> None:
    """A client that does not trust the certificate gives up; the server just closes."""
    server = serve(ssl_context=tls_files.server_context())
    with pytest.raises(pymysql.MySQLError):
        connect("pymysql", server, SHA2, tls=self_signed(tmp_path))
    wait_closed(server, 1)
    (info,) = server.connections
    assert info.tls and not info.authenticated and info.user is None
    assert info.tls_error is not None  # the client's alert


def test_connector_change_user(serve: ServeFn) -> None:
    _require("connector-pure")
    server = serve()
    db = connect("connector-pure", server, NATIVE)
    try:
        db.cmd_change_user(username="native", password="native-pw")
        cur = db.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    finally:
        db.close()
    wait_closed(server, 1)
    assert "ChangeUser" in server.connections[0].commands


# ------------------------------------------------------------------------------------
# mywire's own asyncio client
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ssl_mode", ["disabled", "verify"])
def test_mywire_aio_client(ssl_mode: str, serve: ServeFn, tls_files: TLSFiles) -> None:
    server = serve(ssl_context=tls_files.server_context())

    async def scenario() -> None:
        for _ in range(2):  # full authentication, then the fast path
            client = await aio.connect(
                port=server.port,
                user="sha2",
                password="sha2-pw",
                ssl_mode=ssl_mode,
                ssl_ca=str(tls_files.cert),
                connect_timeout=TIMEOUT,
                timeout=TIMEOUT,
            )
            try:
                r = await client.query("INSERT INTO t VALUES (1)")
                assert (r.affected_rows, r.last_insert_id) == (3, 42)
                with pytest.raises(ServerError) as info:
                    await client.query("SELECT * FROM nope")
                assert (info.value.code, info.value.sqlstate) == (1146, "42S02")
                await client.ping()
            finally:
                await client.close()
        with pytest.raises(AuthError) as denied:
            await aio.connect(
                port=server.port,
                user="sha2",
                password="bad",
                ssl_mode=ssl_mode,
                ssl_ca=str(tls_files.cert),
                connect_timeout=TIMEOUT,
            )
        assert denied.value.code == 1045

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    wait_closed(server, 3)
    full, fast, _ = server.connections
    assert full.tls == fast.tls == (ssl_mode == "verify")
    assert full.full_auth and fast.more_data == [b"\x03"]
    assert full.rsa_key_sent == (ssl_mode == "disabled")


# ------------------------------------------------------------------------------------
# A raw client: exact control over what goes on the wire
# ------------------------------------------------------------------------------------


class RawClient:
    """A ClientConnection over a blocking socket, with optional TLS on memory BIOs."""

    def __init__(self, port: int, conn: ClientConnection) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn = conn
        self._tls: ssl.SSLObject | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        if self._tls is not None:
            self._tls.write(data)
            data = self._out.read()
        self.sock.sendall(data)

    def event(self) -> Event:
        while True:
            ev = self.conn.next_event()
            if not isinstance(ev, NeedData):
                return ev
            data = self.sock.recv(65536)
            if self._tls is not None and data:
                self._in.write(data)
                data = self._read_tls()
                if not data:
                    continue
            self.conn.receive_data(data)

    def _read_tls(self) -> bytes:
        assert self._tls is not None
        out = b""
        while True:
            try:
                out += self._tls.read(65536)
            except ssl.SSLWantReadError:
                return out

    def greeting(self) -> Handshake:
        ev = self.event()
        assert isinstance(ev, Handshake)
        return ev

    def start_tls_coalesced(self, context: ssl.SSLContext) -> None:
        """Send the SSLRequest and the TLS ClientHello in ONE write, then finish TLS."""
        request = self.conn.ssl_request()
        self._tls = context.wrap_bio(self._in, self._out, server_hostname="127.0.0.1")
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.sock.sendall(request + self._out.read())
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                out = self._out.read()
                if out:
                    self.sock.sendall(out)
                data = self.sock.recv(65536)
                assert data, "the server closed during the TLS handshake"
                self._in.write(data)
        out = self._out.read()
        if out:
            self.sock.sendall(out)
        self.conn.tls_started()

    def authenticate(self) -> Event:
        """Send the HandshakeResponse and answer auth steps until OK or ERR."""
        self.send(self.conn.handshake_response())
        while True:
            ev = self.event()
            if isinstance(ev, (AuthSwitchRequest, AuthMoreData)):
                reply = self.conn.auth_reply()
                if reply:
                    self.send(reply)
                continue
            return ev


def test_ssl_request_and_client_hello_in_one_read(serve: ServeFn, tls_files: TLSFiles) -> None:
    """The client does not wait after its SSLRequest: the ClientHello that follows it in
    the same read lands in ``trailing_data`` and must reach the TLS layer."""
    server = serve(ssl_context=tls_files.server_context())
    client = RawClient(server.port, ClientConnection(user="sha2", password="sha2-pw", tls=True))
    try:
        client.greeting()
        client.start_tls_coalesced(tls_files.client_context())
        assert isinstance(client.authenticate(), Ok)
        # Full auth over TLS: 0x04, then the clear password.
        client.send(client.conn.query("SELECT * FROM nope"))
        assert client.event() == TABLE_ERR  # code, message and SQL state as sent
        client.send(client.conn.send(Statistics()))  # not implemented: ERR 1047
        ev = client.event()
        assert isinstance(ev, Err) and (ev.code, ev.sqlstate) == (1047, "08S01")
        client.send(client.conn.ping())
        assert isinstance(client.event(), Ok)
    finally:
        client.close()
    wait_closed(server, 1)
    (info,) = server.connections
    assert info.tls and info.tls_trailing > 0 and info.authenticated
    assert info.more_data == [b"\x04"]


def test_idle_timeout(serve: ServeFn) -> None:
    """An idle authenticated client gets ERR 4031 and EOF; a silent one just EOF."""
    server = serve(read_timeout=0.2)
    client = RawClient(server.port, ClientConnection(user="native", password="native-pw"))
    try:
        client.greeting()
        assert isinstance(client.authenticate(), Ok)
        ev = client.event()  # nothing sent: wait for the server's timeout
        assert isinstance(ev, Err) and ev.code == 4031
        assert isinstance(client.event(), ConnectionClosed)
    finally:
        client.close()
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    try:
        data = b""
        while chunk := silent.recv(65536):  # the greeting, then EOF after the timeout
            data += chunk
        assert data[4:5] == b"\x0a"  # protocol version 10
    finally:
        silent.close()


def test_handler_failures_become_err_1105(serve: ServeFn) -> None:
    server = serve()
    db = connect("pymysql", server, NATIVE)
    try:
        with pytest.raises(pymysql.MySQLError) as info:
            db.cursor().execute("SELECT boom")
        assert info.value.args[0] == 1105
        assert "boom" in info.value.args[1]
        db.ping()  # the connection is still usable
    finally:
        db.close()
    wait_closed(server, 1)
    assert [type(e) for e in server.errors] == [RuntimeError]
    server.errors.clear()


def test_async_handler(serve: ServeFn) -> None:
    async def slow(sql: str) -> HandlerResult:
        await asyncio.sleep(0.01)
        return Ok(affected_rows=7, status_flags=ServerStatus.SERVER_STATUS_AUTOCOMMIT)

    server = serve(handler=slow)
    db = connect("pymysql", server, NATIVE)
    try:
        cur = db.cursor()
        assert cur.execute("UPDATE t SET x = 1") == 7
    finally:
        db.close()
