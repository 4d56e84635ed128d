"""A small asyncio MySQL server for tests, built on the server-role :class:`ServerConnection`.

Theory of operation
-------------------
:class:`TestServer` listens on 127.0.0.1 (an ephemeral port by default) and runs one
:class:`asyncio.Protocol` per client.  The protocol holds no protocol logic: bytes from the
transport go into a :class:`~mywire.connection.ServerConnection`, and a per-connection
task takes events out of it with ``next_event()``, decides what to answer (an auth plugin
from :mod:`mywire.auth`, or the query handler), and writes the bytes the connection's
methods return.  Every read is bounded by ``read_timeout``.

Authentication follows MySQL 8: the greeting carries ``default_plugin`` and a fresh
scramble.  The HandshakeResponse names the account; an unknown account gets ERR 1045 at
once.  If the client answered with another plugin than the account's, the server sends an
AuthSwitchRequest with a new scramble.  Each client packet then goes to the plugin's
``step()``: ``more`` sends AuthMoreData, ``ok`` sends AuthMoreData (if it has data) and OK,
``fail`` sends ERR 1045 (SQL state 28000) and closes.  A connection is "secure" for the
plugins exactly when it is TLS, so caching_sha2_password's full authentication takes the
clear password over TLS and the RSA exchange over plain TCP (the key pair is generated at
:meth:`TestServer.start` when none is given and ``cryptography`` is installed).

TLS: when the server has an :class:`ssl.SSLContext`, the greeting offers CLIENT_SSL.  The
client sends its SSLRequest and then its TLS ClientHello *without waiting for an answer*,
so both can arrive in one read; the ClientHello (and anything after it) is then in the
connection's ``trailing_data``.  ``loop.start_tls()`` has no way to take bytes that were
already read, so the adapter runs TLS itself on an :class:`ssl.SSLObject` over two
:class:`ssl.MemoryBIO` (the standard library's sans-IO TLS): raw bytes go into the BIO,
decrypted bytes into the connection, and ``trailing_data`` is simply the first input of
the BIO.  No data is lost whatever the read boundaries are.

Commands: COM_QUERY goes to the handler (an :class:`~mywire.events.Ok`, an
:class:`~mywire.events.Err`, or ``(column definitions, rows)`` as payloads, built with
:func:`column_definition` and :func:`text_row`); COM_PING, COM_INIT_DB and
COM_RESET_CONNECTION get OK; COM_CHANGE_USER authenticates again; COM_QUIT closes; any
other command gets ERR 1047.  The server records what happened per connection in
:attr:`TestServer.connections`, and unexpected exceptions (a handler that raised, a
protocol error) in :attr:`TestServer.errors`, so a test can assert there were none.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from mywire.auth import Credential, ServerAuth, Sha2Cache, access_denied, mysql_scramble
from mywire.auth import server_plugin as _server_plugin
from mywire.auth.caching_sha2 import FAST_AUTH_SUCCESS, PERFORM_FULL_AUTHENTICATION
from mywire.codec import pack
from mywire.connection import DEFAULT_SERVER_CAPABILITIES, ServerConnection, State
from mywire.constants import Capability, ColumnFlag, FieldType, ServerStatus
from mywire.constants import er as ER
from mywire.errors import ProtocolError
from mywire.events import (
    AuthResponse,
    ChangeUser,
    ConnectionClosed,
    Err,
    Event,
    HandshakeResponse,
    InitDb,
    NeedData,
    Ok,
    Ping,
    Query,
    Quit,
    ResetConnection,
    SSLRequest,
    StmtClose,
    StmtSendLongData,
)
from mywire.framing import DEFAULT_MAX_PAYLOAD

__all__ = [
    "DEFAULT_READ_TIMEOUT",
    "SUPPORTED_PLUGINS",
    "SYNTAX_ERROR_SQL",
    "TEST_SCRYPT_N",
    "Account",
    "ConnectionInfo",
    "HandlerResult",
    "QueryHandler",
    "TestServer",
    "column_definition",
    "default_handler",
    "generate_rsa_private_key",
    "text_row",
]

logger = logging.getLogger(__name__)

#: Seconds the server waits for the next bytes from a client (and for a full send buffer
#: to drain) before it gives up on the connection.  A test server must never hang a test
#: run: 30 s is far longer than any legitimate pause between two statements of a test,
#: yet ends a stuck client well within any CI time limit.
DEFAULT_READ_TIMEOUT = 30.0

#: scrypt cost for the accounts' password verifiers.  The passwords of a test server are
#: throwaway fixtures, so the cost only slows the tests down: 2**10 (about 1 MiB and well
#: under a millisecond per check) instead of the library's interactive-login default.
TEST_SCRYPT_N = 2**10

#: The account plugins the server supports (their client and server names agree).
SUPPORTED_PLUGINS = ("mysql_native_password", "caching_sha2_password")

# RSA modulus for the generated caching_sha2_password key pair.  2048 bits is what MySQL
# generates (caching_sha2_password_auto_generate_rsa_keys) and carries passwords of up to
# 213 bytes under OAEP-SHA1.
_RSA_BITS = 2048
_READ_SIZE = 65536

_TEXT_TYPES = frozenset(
    {
        FieldType.MYSQL_TYPE_VARCHAR,
        FieldType.MYSQL_TYPE_VAR_STRING,
        FieldType.MYSQL_TYPE_STRING,
        FieldType.MYSQL_TYPE_ENUM,
        FieldType.MYSQL_TYPE_SET,
        FieldType.MYSQL_TYPE_JSON,
    }
)
_UTF8MB4_GENERAL_CI = 45
_BINARY = 63

#: What a query handler may return: OK, ERR, or (column definitions, rows) as payloads.
HandlerResult = Ok | Err | tuple[Sequence[bytes], Sequence[bytes]]
#: ``handler(sql)``, plain or async.
QueryHandler = Callable[[str], HandlerResult | Awaitable[HandlerResult]]


# --------------------------------------------------------------------------------------
# Resultset builders
# --------------------------------------------------------------------------------------


def column_definition(
    name: str,
    type_code: int = FieldType.MYSQL_TYPE_VAR_STRING,
    *,
    charset: int | None = None,
    length: int | None = None,
    flags: int = 0,
    decimals: int = 0,
    schema: str = "",
    table: str = "",
) -> bytes:
    """A ColumnDefinition41 payload (catalog ``def``; org_table/org_name = table/name).

    Args:
        name: the column name (UTF-8).
        type_code: a ``MYSQL_TYPE_*`` value (default VAR_STRING, 253).
        charset: collation id; None picks utf8mb4_general_ci (45) for text types and
            binary (63) for the others, as servers do.
        length: the column's maximum display length in bytes; None picks 1020 for text
            types (255 utf8mb4 characters) and 21 for the others (a signed BIGINT).
        flags: ``ColumnFlag`` bits.
        decimals: the number of decimals (0 for integers and strings).
        schema, table: the schema and table the column comes from ("" for expressions).

    Returns:
        The payload, to pass in the ``columns`` of a handler result.

    Raises:
        ValueError, TypeError: a value out of range for its field (from
            :func:`mywire.codec.pack`).
    """
    text = type_code in _TEXT_TYPES
    if charset is None:
        charset = _UTF8MB4_GENERAL_CI if text else _BINARY
    if length is None:
        length = 1020 if text else 21
    tbl = table.encode()
    col = name.encode()
    return pack(
        "SSSSSSLHIBHB2x",
        b"def",
        schema.encode(),
        tbl,
        tbl,
        col,
        col,
        0x0C,
        charset,
        length,
        type_code,
        flags,
        decimals,
    )


def text_row(values: Iterable[bytes | str | int | float | None]) -> bytes:
    """A text-protocol row payload: one length-encoded string per value, NULL as 0xFB.

    Args:
        values: the row's values; str is UTF-8 encoded, int and float are written in
            decimal (``str()``), None is NULL.

    Returns:
        The payload, to pass in the ``rows`` of a handler result.

    Raises:
        TypeError: a value of another type.
    """
    out: list[bytes | None] = []
    for v in values:
        if v is None or isinstance(v, bytes):
            out.append(v)
        elif isinstance(v, str):
            out.append(v.encode())
        elif isinstance(v, (int, float)):
            out.append(str(v).encode())
        else:
            raise TypeError(f"cannot write a {type(v).__name__} into a text row")
    return pack("R" * len(out), *out)


_SELECT_INT = re.compile(r"\s*select\s+(-?\d+)\s*;?\s*", re.IGNORECASE)
_SELECT_STR = re.compile(r"\s*select\s+'((?:[^'\\]|'')*)'\s*;?\s*", re.IGNORECASE | re.DOTALL)

SYNTAX_ERROR_SQL = "SELECT syntax error"


def default_handler(sql: str) -> HandlerResult:
    """Answer ``SELECT <integer>`` and ``SELECT '<text>'`` with a one-column, one-row
    resultset (column named after the literal, as MySQL names it), the literal
    ``"SELECT syntax error"`` with ERR 1064 (SQL state 42000), and anything else with OK.

    Args:
        sql: the statement.

    Returns:
        The answer (see :data:`HandlerResult`).
    """
    if sql.strip() == SYNTAX_ERROR_SQL:
        return Err(
            code=ER.ER_PARSE_ERROR,
            message=(
                "You have an error in your SQL syntax; check the manual that corresponds "
                "to your MySQL server version for the right syntax to use near 'error' "
                "at line 1"
            ),
            sqlstate="42000",
        )
    m = _SELECT_INT.fullmatch(sql)
    if m is not None:
        literal = m.group(1)
        flags = ColumnFlag.NOT_NULL_FLAG | ColumnFlag.BINARY_FLAG | ColumnFlag.NUM_FLAG
        col = column_definition(
            literal, FieldType.MYSQL_TYPE_LONGLONG, length=len(literal), flags=flags
        )
        return [col], [text_row([literal])]
    m = _SELECT_STR.fullmatch(sql)
    if m is not None:
        value = m.group(1).replace("''", "'")
        col = column_definition(
            value, FieldType.MYSQL_TYPE_VAR_STRING, flags=ColumnFlag.NOT_NULL_FLAG
        )
        return [col], [text_row([value])]
    return Ok(status_flags=ServerStatus.SERVER_STATUS_AUTOCOMMIT)


def generate_rsa_private_key(bits: int = _RSA_BITS) -> bytes:
    """A new unencrypted PKCS#8 PEM RSA private key, for caching_sha2_password.

    Args:
        bits: the modulus size (2048 by default, as MySQL generates).

    Returns:
        The PEM bytes.

    Raises:
        ImportError: ``cryptography`` is not installed.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --------------------------------------------------------------------------------------
# Accounts and records
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """An account's password and authentication plugin.

    Attributes:
        password: the password (str is UTF-8 encoded, as the drivers send it).
        plugin: one of :data:`SUPPORTED_PLUGINS`.
    """

    password: str | bytes
    plugin: str = "caching_sha2_password"


@dataclass
class ConnectionInfo:
    """What the server saw on one connection (filled in before each answer is written).

    Attributes:
        connection_id: the id sent in the greeting.
        peer: the client's address.
        tls: the connection switched to TLS after an SSLRequest.
        tls_trailing: bytes of TLS data that had arrived together with the SSLRequest
            (``trailing_data``) and were handed to the TLS layer.
        tls_error: why the TLS layer failed (the connection was then closed).
        user: the account name from the HandshakeResponse (or the last COM_CHANGE_USER).
        client_plugin: the plugin the client named in its response.
        plugin: the account's plugin, which ran the exchange (None for unknown users).
        switched: the server sent an AuthSwitchRequest.
        more_data: every AuthMoreData payload sent, in order.
        authenticated: the last authentication succeeded.
        auth_error: the ERR message of a failed authentication.
        database: the default schema (handshake or COM_INIT_DB).
        queries: the statements of every COM_QUERY, in order.
        commands: the class name of every command event, in order.
        closed: the connection has ended.
    """

    connection_id: int
    peer: str
    tls: bool = False
    tls_trailing: int = 0
    tls_error: str | None = None
    user: str | None = None
    client_plugin: str | None = None
    plugin: str | None = None
    switched: bool = False
    more_data: list[bytes] = field(default_factory=list)
    authenticated: bool = False
    auth_error: str | None = None
    database: str | None = None
    queries: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    closed: bool = False

    @property
    def fast_auth(self) -> bool:
        """caching_sha2_password took the fast path (AuthMoreData 0x03)."""
        return FAST_AUTH_SUCCESS in self.more_data

    @property
    def full_auth(self) -> bool:
        """caching_sha2_password asked for full authentication (AuthMoreData 0x04)."""
        return PERFORM_FULL_AUTHENTICATION in self.more_data

    @property
    def rsa_key_sent(self) -> bool:
        """The server sent its RSA public key (full authentication over plain TCP)."""
        return any(d.startswith(b"-----BEGIN") for d in self.more_data)


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class TestServer:
    """An asyncio MySQL server on 127.0.0.1 for driver and gateway tests.

    Use it as ``async with TestServer({...}) as server:`` (or :meth:`start` /
    :meth:`stop`) and connect to ``server.port``.

    Args:
        accounts: ``{user: password}`` (with ``default_plugin``) or ``{user: Account}``.
        handler: answers COM_QUERY (see :data:`QueryHandler`); default
            :func:`default_handler`.
        ssl_context: a server-side context; when given the greeting offers CLIENT_SSL.
        rsa_private_key: PEM RSA private key for caching_sha2_password's full
            authentication over plain TCP; None generates one at :meth:`start` if an
            account uses caching_sha2_password and ``cryptography`` is installed.
        default_plugin: the plugin named in the greeting and used for accounts given as a
            bare password.
        host: the address to listen on.
        port: the port; 0 picks a free one (read it from :attr:`port`).
        server_version: the version string of the greeting.
        read_timeout: seconds to wait for a client's next bytes (see
            :data:`DEFAULT_READ_TIMEOUT`); on expiry an idle authenticated connection gets
            ERR 4031 (ER_CLIENT_INTERACTION_TIMEOUT, as MySQL 8 sends it) and any
            connection is closed.
        scrypt_n: scrypt cost of the password verifiers (see :data:`TEST_SCRYPT_N`).
        max_payload: largest payload accepted from a client (see
            :data:`mywire.framing.DEFAULT_MAX_PAYLOAD`).

    Raises:
        ValueError: an account's plugin is not in :data:`SUPPORTED_PLUGINS`, or a timeout
            is not positive.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        accounts: Mapping[str, str | bytes | Account] | None = None,
        *,
        handler: QueryHandler = default_handler,
        ssl_context: ssl.SSLContext | None = None,
        rsa_private_key: bytes | None = None,
        default_plugin: str = "caching_sha2_password",
        host: str = "127.0.0.1",
        port: int = 0,
        server_version: str = "8.0.36-mywire",
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        scrypt_n: int = TEST_SCRYPT_N,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        if default_plugin not in SUPPORTED_PLUGINS:
            raise ValueError(f"unsupported default_plugin {default_plugin!r}")
        if read_timeout <= 0:
            raise ValueError("read_timeout must be positive")
        self._accounts: dict[str, tuple[Credential, str]] = {}
        for user, value in (accounts or {}).items():
            account = value if isinstance(value, Account) else Account(value, default_plugin)
            if account.plugin not in SUPPORTED_PLUGINS:
                raise ValueError(f"account {user!r}: unsupported plugin {account.plugin!r}")
            pw = account.password
            pw_bytes = pw.encode() if isinstance(pw, str) else pw
            cred = Credential.from_password(pw_bytes, scrypt_n=scrypt_n)
            self._accounts[user] = (cred, account.plugin)
        self.handler = handler
        self.ssl_context = ssl_context
        self.rsa_private_key = rsa_private_key
        self.default_plugin = default_plugin
        self.host = host
        self._port = port
        self.server_version = server_version
        self.read_timeout = read_timeout
        self.max_payload = max_payload
        #: The caching_sha2_password cache of this server (clear it to force full auth).
        self.sha2_cache = Sha2Cache()
        #: One record per accepted connection, in order.
        self.connections: list[ConnectionInfo] = []
        #: Unexpected exceptions while serving (handler failures, protocol errors).
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 1

    @property
    def port(self) -> int:
        """The port the server listens on.

        Raises:
            RuntimeError: the server is not started.
        """
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._port

    async def start(self) -> None:
        """Generate the RSA key if needed and start listening.

        Raises:
            RuntimeError: already started.
            OSError: the address cannot be bound.
        """
        if self._server is not None:
            raise RuntimeError("the server is already started")
        wants_rsa = any(p == "caching_sha2_password" for _, p in self._accounts.values())
        if self.rsa_private_key is None and wants_rsa:
            try:
                self.rsa_private_key = await asyncio.to_thread(generate_rsa_private_key)
            except ImportError:
                logger.warning("cryptography is not installed: no RSA full authentication")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Session(self), self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, abort every open connection and wait until they are closed.

        Args:
            timeout: seconds to wait for the connections to finish closing.
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        sessions = list(self._sessions)
        for s in sessions:
            s.abort()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        lost = [s.lost for s in sessions]
        if lost:
            await asyncio.wait(lost, timeout=timeout)
        await server.wait_closed()

    async def __aenter__(self) -> TestServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------- used by sessions
    def _new_info(self, peer: str) -> ConnectionInfo:
        info = ConnectionInfo(connection_id=self._next_id, peer=peer)
        self._next_id += 1
        self.connections.append(info)
        return info

    def _account(self, user: str) -> tuple[Credential, str] | None:
        return self._accounts.get(user)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _PeerGone(Exception):
    """The client closed the connection (or TLS failed) while the server waited."""


class _Timeout(Exception):
    """No bytes from the client within ``read_timeout``."""


class _TLS:
    """Server-side TLS over memory BIOs: raw bytes in, plaintext out, and back."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._in, self._out, server_side=True)
        self.handshake_done = False
        self.peer_closed = False  # close_notify received

    def receive(self, data: bytes) -> bytes:
        """Feed raw bytes; returns the plaintext now available.

        Raises:
            ssl.SSLError: the handshake failed or a record is bad.
        """
        self._in.write(data)
        if not self.handshake_done:
            try:
                self._obj.do_handshake()
            except ssl.SSLWantReadError:
                return b""
            self.handshake_done = True
        chunks = []
        while True:
            try:
                chunk = self._obj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.peer_closed = True
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def encrypt(self, data: bytes) -> None:
        self._obj.write(data)

    def close(self) -> None:
        """Queue a close_notify (best effort: the peer may be gone)."""
        try:
            self._obj.unwrap()
        except ssl.SSLError:
            pass

    def outgoing(self) -> bytes:
        return self._out.read()


class _Session(asyncio.Protocol):
    """One client connection: moves bytes and runs the exchange; no parsing here."""

    def __init__(self, server: TestServer) -> None:
        self._server = server
        self._conn = ServerConnection(
            capabilities=DEFAULT_SERVER_CAPABILITIES
            | (Capability.CLIENT_SSL if server.ssl_context is not None else 0),
            max_payload=server.max_payload,
        )
        self._transport: asyncio.Transport | None = None
        self._tls: _TLS | None = None
        self._wakeup = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._eof = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.info: ConnectionInfo | None = None
        self._scramble = b""

    # ------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.info = self._server._new_info(str(peer[0]) if peer else "")
        self._server._sessions.add(self)
        self._server._track(asyncio.get_running_loop().create_task(self._run()))

    def data_received(self, data: bytes) -> None:
        if self._tls is None:
            self._conn.receive_data(data)
        else:
            self._tls_receive(data)
        self._wakeup.set()

    def eof_received(self) -> bool | None:
        self._peer_eof()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._peer_eof()
        self._writable.set()
        self._server._sessions.discard(self)
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # ----------------------------------------------------------------- plumbing
    def _peer_eof(self) -> None:
        if not self._eof:
            self._eof = True
            self._conn.receive_data(b"")
        self._wakeup.set()

    def _tls_receive(self, data: bytes) -> None:
        tls = self._tls
        assert tls is not None and self._transport is not None
        try:
            plain = tls.receive(data)
        except ssl.SSLError as exc:
            if self.info is not None:
                self.info.tls_error = str(exc)
            self._transport.abort()
            return
        self._flush_tls()
        if plain:
            self._conn.receive_data(plain)
        if tls.peer_closed:
            self._peer_eof()

    def _flush_tls(self) -> None:
        assert self._tls is not None and self._transport is not None
        out = self._tls.outgoing()
        if out and not self._transport.is_closing():
            self._transport.write(out)

    def _start_tls(self) -> None:
        # Called with no await between next_event() returning the SSLRequest and here,
        # so no data_received() ran in between: every TLS byte read so far is in
        # trailing_data, and every later one goes to the TLS layer.
        context = self._server.ssl_context
        assert context is not None and self.info is not None
        self._tls = _TLS(context)
        self.info.tls = True
        trailing = self._conn.trailing_data
        self.info.tls_trailing = len(trailing)
        self._conn.tls_started()
        if trailing:
            self._tls_receive(trailing)

    async def _send(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        if self._tls is not None:
            self._tls.encrypt(data)
            data = self._tls.outgoing()
        if not transport.is_closing():
            transport.write(data)
        if not self._writable.is_set():
            try:
                await asyncio.wait_for(self._writable.wait(), self._server.read_timeout)
            except TimeoutError:
                raise _Timeout from None

    async def _next_event(self) -> Event:
        while True:
            try:
                ev = self._conn.next_event()
            except ProtocolError:
                if self._eof:  # the client went away in the middle of an exchange
                    raise _PeerGone from None
                raise
            if not isinstance(ev, NeedData):
                return ev
            if self._eof:
                raise _PeerGone
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._server.read_timeout)
            except TimeoutError:
                raise _Timeout from None

    def _close(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._tls is not None and self._tls.handshake_done:
            self._tls.close()
            self._flush_tls()
        transport.close()

    # ----------------------------------------------------------------- the exchange
    async def _run(self) -> None:
        try:
            await self._serve()
        except (_PeerGone, ConnectionError):
            pass
        except _Timeout:
            if self._conn.state is State.READY:
                message = (
                    "The client was disconnected by the server because of inactivity. "
                    "See wait_timeout and interactive_timeout for configuring this behavior."
                )
                await self._send_quietly(
                    self._conn.err(ER.ER_CLIENT_INTERACTION_TIMEOUT, message, "HY000")
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._server.errors.append(exc)
            logger.exception("mywire.testing: connection %s failed", self._id)
        finally:
            if self.info is not None:
                self.info.closed = True
            self._close()

    @property
    def _id(self) -> int:
        return self.info.connection_id if self.info is not None else 0

    async def _send_quietly(self, data: bytes) -> None:
        try:
            await self._send(data)
        except (_Timeout, ConnectionError, ssl.SSLError):
            pass

    async def _serve(self) -> None:
        conn = self._conn
        server = self._server
        info = self.info
        assert info is not None
        self._scramble = mysql_scramble(20)
        await self._send(
            conn.greet(
                server_version=server.server_version,
                connection_id=info.connection_id,
                auth_plugin_name=server.default_plugin,
                scramble=self._scramble,
            )
        )
        ev = await self._next_event()
        if isinstance(ev, SSLRequest):
            if server.ssl_context is None:  # CLIENT_SSL was not offered
                return
            self._start_tls()
            ev = await self._next_event()
        if isinstance(ev, ConnectionClosed):  # the client gave up (e.g. TLS failed)
            return
        if not isinstance(ev, HandshakeResponse):  # the state table allows nothing else
            raise ProtocolError(
                f"unexpected {type(ev).__name__}", offset=0, expected="HandshakeResponse"
            )
        info.database = ev.database
        if not await self._authenticate(ev.username, ev.auth_plugin_name, ev.auth_response):
            return
        await self._commands()

    async def _authenticate(self, user: str, client_plugin: str | None, response: bytes) -> bool:
        """Run one authentication exchange; True when it ended with OK."""
        conn = self._conn
        server = self._server
        info = self.info
        assert info is not None
        info.user = user
        info.client_plugin = client_plugin
        info.authenticated = False
        info.auth_error = None
        host = info.peer or "localhost"
        account = server._account(user)
        if account is None:
            info.plugin = None
            message = access_denied(user, host, bool(response))
            info.auth_error = message
            await self._send(conn.err(ER.ER_ACCESS_DENIED_ERROR, message, "28000"))
            return False
        credential, plugin_name = account
        info.plugin = plugin_name
        plugin_cls = _server_plugin(plugin_name)

        def make_plugin(scramble: bytes | None) -> ServerAuth:
            return plugin_cls(
                credential,
                secure=self._tls is not None,
                user=user,
                host=host,
                scramble=scramble,
                rsa_private_key=server.rsa_private_key,
                cache=server.sha2_cache,
            )

        if (client_plugin or "mysql_native_password") == plugin_name:
            # The client answered the greeting's challenge with the account's plugin.
            plugin = make_plugin(self._scramble)
            data = response
        else:
            plugin = make_plugin(None)
            info.switched = True
            await self._send(conn.auth_switch(plugin_name, plugin.scramble()))
            data = await self._auth_response()
        while True:
            step = plugin.step(data)
            if step.kind == "more":
                info.more_data.append(step.data)
                await self._send(conn.auth_more_data(step.data))
                data = await self._auth_response()
                continue
            if step.kind == "ok":
                info.authenticated = True
                out = b""
                if step.data:
                    info.more_data.append(step.data)
                    out = conn.auth_more_data(step.data)
                await self._send(out + conn.ok())
                return True
            info.auth_error = step.message
            await self._send(conn.err(ER.ER_ACCESS_DENIED_ERROR, step.message, "28000"))
            return False

    async def _auth_response(self) -> bytes:
        ev = await self._next_event()
        if isinstance(ev, ConnectionClosed):
            raise ConnectionResetError("the client closed the connection during authentication")
        if not isinstance(ev, AuthResponse):  # the state table allows nothing else
            raise ProtocolError(
                f"unexpected {type(ev).__name__}", offset=0, expected="AuthResponse"
            )
        return ev.data

    async def _commands(self) -> None:
        conn = self._conn
        info = self.info
        assert info is not None
        while True:
            ev = await self._next_event()
            info.commands.append(type(ev).__name__)
            if isinstance(ev, (Quit, ConnectionClosed)):
                return
            if isinstance(ev, (Ping, ResetConnection)):
                await self._send(conn.ok(Ok(status_flags=ServerStatus.SERVER_STATUS_AUTOCOMMIT)))
            elif isinstance(ev, InitDb):
                info.database = ev.schema
                await self._send(conn.ok(Ok(status_flags=ServerStatus.SERVER_STATUS_AUTOCOMMIT)))
            elif isinstance(ev, Query):
                info.queries.append(ev.sql)
                await self._send(await self._answer(ev.sql))
            elif isinstance(ev, ChangeUser):
                info.database = ev.database or None
                if not await self._authenticate(ev.username, ev.auth_plugin_name, ev.auth_response):
                    return
            elif isinstance(ev, (StmtClose, StmtSendLongData)):
                pass  # no response
            else:
                await self._send(conn.err(ER.ER_UNKNOWN_COM_ERROR, "Unknown command", "08S01"))

    async def _answer(self, sql: str) -> bytes:
        conn = self._conn
        try:
            result = self._server.handler(sql)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Ok):
                return conn.ok(result)
            if isinstance(result, Err):
                return conn.err(result.code, result.message, result.sqlstate)
            if isinstance(result, tuple) and len(result) == 2:
                columns, rows = result
                return conn.resultset(columns, rows)
            raise TypeError(
                f"the query handler returned {type(result).__name__}; "
                "expected Ok, Err or (columns, rows)"
            )
        except Exception as exc:
            self._server.errors.append(exc)
            logger.exception("mywire.testing: the query handler failed on %r", sql)
            return conn.err(ER.ER_UNKNOWN_ERROR, f"query handler failed: {exc!r}", "HY000")
