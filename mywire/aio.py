"""asyncio client: a thin adapter that moves bytes between a stream and a ClientConnection.

Theory of operation
-------------------
All protocol decisions are made by :class:`mywire.connection.ClientConnection`; this
module only reads from the socket when the connection says ``NEED_DATA``, writes the
bytes its methods return, upgrades the stream to TLS when the connection has sent an
SSLRequest, and turns ERR events into exceptions for a call/return API.

TLS modes follow the MySQL clients' ``--ssl-mode``:

``disabled``   never TLS.
``preferred``  TLS when the server offers it, without certificate checks (the default,
               as in the mysql client; it protects against passive sniffing only).
``required``   TLS or fail; no certificate checks.
``verify``     TLS or fail; the certificate chain and host name are verified (against
               ``ssl_ca`` or the system store).
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .connection import (
    DEFAULT_CLIENT_CAPABILITIES,
    DEFAULT_MAX_COLUMNS,
    LAST_STATEMENT,
    ClientConnection,
)
from .constants import Capability, CursorType, ServerStatus
from .errors import AuthError, MywireError, ServerError
from .events import (
    AuthMoreData,
    AuthNextFactor,
    AuthSwitchRequest,
    ColumnDefinition,
    ConnectionClosed,
    Err,
    Event,
    Handshake,
    InitDb,
    LocalInfileRequest,
    NeedData,
    Ok,
    Ping,
    Query,
    Quit,
    ResetConnection,
    ResultsetEnd,
    ResultsetStart,
    Rows,
    StmtClose,
    StmtExecute,
    StmtFetch,
    StmtPrepare,
    StmtPrepared,
    StmtReset,
    StmtSendLongData,
)
from .framing import DEFAULT_MAX_PAYLOAD
from .packets.prepared import encode_params
from .rows import decode_rows
from .transcode import Transcoder

__all__ = ["Client", "PreparedStatement", "Response", "connect", "parse_dsn"]

SSL_MODES = ("disabled", "preferred", "required", "verify")
# CR_SERVER_LOST and CR_SSL_CONNECTION_ERROR, as libmysqlclient reports them.
_CR_SERVER_LOST = 2013
_CR_SSL_CONNECTION_ERROR = 2026
_READ_SIZE = 1 << 16
# Streams keep up to this much unread (a larger buffer means fewer, larger row chunks per
# transcoder call; it bounds memory per connection).
_STREAM_LIMIT = 1 << 20


@dataclass
class Response:
    """Everything the server sent for one command, in order.

    ``events`` holds the OKs and, for each resultset, its ResultsetStart, Rows batches
    and ResultsetEnd.  The properties summarise the last result.
    """

    events: list[Event] = field(default_factory=list)

    @property
    def ok(self) -> Ok | None:
        """The last OK (a plain OK, or the OK that ended a resultset)."""
        for ev in reversed(self.events):
            if isinstance(ev, Ok):
                return ev
            if isinstance(ev, ResultsetEnd) and ev.ok is not None:
                return ev.ok
        return None

    @property
    def affected_rows(self) -> int:
        ok = self.ok
        return ok.affected_rows if ok else 0

    @property
    def last_insert_id(self) -> int:
        ok = self.ok
        return ok.last_insert_id if ok else 0

    @property
    def resultsets(self) -> list[tuple[ResultsetStart, list[bytes]]]:
        """Each resultset's header and its raw row payloads."""
        out: list[tuple[ResultsetStart, list[bytes]]] = []
        for ev in self.events:
            if isinstance(ev, ResultsetStart):
                out.append((ev, []))
            elif isinstance(ev, Rows):
                out[-1][1].extend(ev.rows)
        return out

    @property
    def columns(self) -> tuple[ColumnDefinition, ...]:
        """The column definitions of the first resultset (empty without one)."""
        for ev in self.events:
            if isinstance(ev, ResultsetStart):
                return ev.columns
        return ()

    def all_rows(self) -> list[list[tuple[object, ...]]]:
        """Every resultset's rows decoded to Python values (see :mod:`mywire.rows`)."""
        out: list[list[tuple[object, ...]]] = []
        start: ResultsetStart | None = None
        for ev in self.events:
            if isinstance(ev, ResultsetStart):
                start = ev
                out.append([])
            elif isinstance(ev, Rows):
                assert start is not None
                out[-1].extend(decode_rows(start.columns, ev.data, ev.spans, binary=start.binary))
        return out

    def rows(self) -> list[tuple[object, ...]]:
        """The first resultset's rows decoded to Python values ([] without one)."""
        results = self.all_rows()
        return results[0] if results else []

    fetchall = rows


@dataclass(frozen=True)
class PreparedStatement:
    """A server-side prepared statement (:meth:`Client.prepare`)."""

    statement_id: int
    sql: str
    params: tuple[ColumnDefinition, ...]
    columns: tuple[ColumnDefinition, ...]


def parse_dsn(dsn: str) -> dict[str, object]:
    """``mysql://user:password@host:port/db?ssl_mode=required&compress=1`` → keywords.

    A host starting with ``/`` (percent-encoded in the URL) or a ``unix_socket=`` query
    parameter selects a Unix socket.
    """
    u = urlparse(dsn)
    if u.scheme not in ("mysql", "mariadb"):
        raise ValueError(f"DSN scheme must be mysql:// or mariadb://, not {u.scheme!r}")
    kw: dict[str, object] = {}
    if u.hostname:
        host = unquote(u.hostname)
        kw["unix_socket" if host.startswith("/") else "host"] = host
    if u.port:
        kw["port"] = u.port
    if u.username:
        kw["user"] = unquote(u.username)
    if u.password:
        kw["password"] = unquote(u.password)
    if u.path and u.path != "/":
        kw["database"] = unquote(u.path.lstrip("/"))
    for key, values in parse_qs(u.query).items():
        value = values[-1]
        if key in ("compress", "multi_statements", "found_rows"):
            kw[key] = value.lower() in ("1", "true", "yes")
        elif key in ("connect_timeout", "timeout"):
            kw[key] = float(value)
        elif key in ("ssl_mode", "ssl_ca", "unix_socket"):
            kw[key] = value
        else:
            raise ValueError(f"unknown DSN parameter {key!r}")
    return kw


async def connect(
    dsn: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 3306,
    unix_socket: str | None = None,
    user: str = "root",
    password: str | bytes = "",
    database: str | None = None,
    ssl_mode: str = "preferred",
    ssl_ca: str | None = None,
    ssl_context: _ssl.SSLContext | None = None,
    compress: bool = False,
    multi_statements: bool = False,
    found_rows: bool = False,
    connect_timeout: float = 10.0,
    timeout: float | None = None,
    server_public_key: bytes | None = None,
    allow_cleartext: bool = False,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> Client:
    """Open a connection and authenticate.

    Keywords override what the DSN says.  ``timeout`` bounds each later command;
    ``connect_timeout`` bounds connecting plus authentication.  ``multi_statements``
    lets one query hold several statements (CLIENT_MULTI_STATEMENTS); it is off by
    default because it turns SQL injection into arbitrary statements.  ``found_rows``
    (CLIENT_FOUND_ROWS) makes UPDATE report the rows it matched, not the rows it changed.

    Raises:
        AuthError: the server refused the credentials (its code and message), or a
            plugin refused to send a secret over an insecure transport.
        ServerError: the server sent another ERR (e.g. 1049 unknown database, 1040 too
            many connections), TLS was required but not offered (2026), or the
            connection was lost (2013).
        OSError, TimeoutError: the transport failed or timed out.
        ProtocolError: the server broke the protocol.
    """
    opts: dict[str, object] = parse_dsn(dsn) if dsn else {}
    given = {
        k: v
        for k, v in locals().items()
        if k not in ("dsn", "opts") and v != _DEFAULTS.get(k, _MISSING)
    }
    opts.update(given)
    for k, v in _DEFAULTS.items():
        opts.setdefault(k, v)
    mode = str(opts["ssl_mode"])
    if mode not in SSL_MODES:
        raise ValueError(f"ssl_mode must be one of {SSL_MODES}, not {mode!r}")
    client = Client(opts)
    async with asyncio.timeout(float(opts["connect_timeout"])):  # type: ignore[arg-type]
        await client._open()
    return client


_MISSING = object()
_DEFAULTS: dict[str, object] = {
    "host": "127.0.0.1",
    "port": 3306,
    "unix_socket": None,
    "user": "root",
    "password": "",
    "database": None,
    "ssl_mode": "preferred",
    "ssl_ca": None,
    "ssl_context": None,
    "compress": False,
    "multi_statements": False,
    "found_rows": False,
    "connect_timeout": 10.0,
    "timeout": None,
    "server_public_key": None,
    "allow_cleartext": False,
    "max_payload": DEFAULT_MAX_PAYLOAD,
    "max_columns": DEFAULT_MAX_COLUMNS,
}


class Client:
    """One authenticated connection; create it with :func:`connect`.

    Commands run one at a time (a lock serialises concurrent callers).
    """

    def __init__(self, opts: dict[str, object]) -> None:
        self._opts = opts
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        mode = str(opts["ssl_mode"])
        unix = opts["unix_socket"] is not None
        password = opts["password"]
        assert isinstance(password, (str, bytes))
        caps = DEFAULT_CLIENT_CAPABILITIES
        if opts.get("found_rows"):
            caps |= Capability.CLIENT_FOUND_ROWS
        self.conn = ClientConnection(
            capabilities=caps,
            user=str(opts["user"]),
            password=password,
            database=opts["database"] if opts["database"] is None else str(opts["database"]),
            tls=mode != "disabled" and not unix,
            secure_transport=unix,
            compress=bool(opts["compress"]),
            multi_statements=bool(opts["multi_statements"]),
            server_public_key=opts["server_public_key"],  # type: ignore[arg-type]
            allow_cleartext=bool(opts["allow_cleartext"]),
            max_payload=int(opts["max_payload"]),  # type: ignore[call-overload]
            max_columns=int(opts["max_columns"]),  # type: ignore[call-overload]
        )
        self.tls = False

    @property
    def handshake(self) -> Handshake:
        assert self.conn.handshake is not None
        return self.conn.handshake

    # ------------------------------------------------------------------ transport
    async def _open(self) -> None:
        o = self._opts
        if o["unix_socket"] is not None:
            self._reader, self._writer = await asyncio.open_unix_connection(
                str(o["unix_socket"]), limit=_STREAM_LIMIT
            )
        else:
            self._reader, self._writer = await asyncio.open_connection(
                str(o["host"]),
                int(o["port"]),  # type: ignore[call-overload]
                limit=_STREAM_LIMIT,
            )
        try:
            await self._handshake()
        except BaseException:
            self._abort()
            raise

    def _write(self, data: bytes) -> None:
        if data:
            assert self._writer is not None
            self._writer.write(data)

    async def _events(self, done: Callable[[Event], bool]) -> list[Event]:
        """Read events until ``done(event)``; answer auth steps on the way."""
        assert self._reader is not None and self._writer is not None
        out: list[Event] = []
        while True:
            ev = self.conn.next_event()
            if isinstance(ev, NeedData):
                await self._writer.drain()
                data = await self._reader.read(_STREAM_LIMIT)
                self.conn.receive_data(data)
                continue
            if isinstance(ev, ConnectionClosed):
                raise ServerError(_CR_SERVER_LOST, "HY000", "Lost connection to server")
            if isinstance(ev, (AuthSwitchRequest, AuthMoreData, AuthNextFactor)):
                self._write(self.conn.auth_reply())
            elif isinstance(ev, LocalInfileRequest):
                # This client never offers CLIENT_LOCAL_FILES; a server that asks anyway
                # gets an empty file (it then reports the statement's outcome), never a
                # file of ours.
                self._write(self.conn.infile_data([]))
            out.append(ev)
            if done(ev):
                return out

    async def _handshake(self) -> None:
        (greeting,) = await self._events(lambda e: True)
        if isinstance(greeting, Err):
            raise ServerError(greeting.code, greeting.sqlstate, greeting.message)
        mode = str(self._opts["ssl_mode"])
        conn = self.conn
        if conn.wants_tls and conn.capabilities & 0x800:  # CLIENT_SSL offered and wanted
            self._write(conn.ssl_request())
            await self._start_tls(mode)
            conn.tls_started()
        elif mode in ("required", "verify") and self._opts["unix_socket"] is None:
            raise ServerError(
                _CR_SSL_CONNECTION_ERROR,
                "HY000",
                "TLS is required but the server does not offer it",
            )
        self._write(conn.handshake_response())
        last = (await self._events(lambda e: isinstance(e, (Ok, Err))))[-1]
        if isinstance(last, Err):
            # SQL state 28000 is "invalid authorization specification" (1045, 1698...);
            # anything else (1049 unknown database, 1040 too many connections) is not
            # about the credentials.
            cls = AuthError if last.sqlstate == "28000" else ServerError
            raise cls(last.code, last.sqlstate, last.message)

    async def _start_tls(self, mode: str) -> None:
        assert self._writer is not None
        ctx = self._opts["ssl_context"]
        if ctx is None:
            if mode == "verify":
                ca = self._opts["ssl_ca"]
                ctx = _ssl.create_default_context(cafile=str(ca) if ca else None)
            else:
                ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = _ssl.CERT_NONE
        assert isinstance(ctx, _ssl.SSLContext)
        await self._writer.drain()
        await self._writer.start_tls(
            ctx, server_hostname=str(self._opts["host"]) if ctx.check_hostname else None
        )
        self.tls = True

    def _abort(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()

    # ------------------------------------------------------------------- commands
    async def _command(self, data: bytes) -> Response:
        async with self._lock:
            self._write(data)
            t = self._opts["timeout"]
            async with asyncio.timeout(float(t) if t is not None else None):  # type: ignore[arg-type]
                events = await self._events(lambda e: self.conn.state.value == "ready")
        last = events[-1]
        if isinstance(last, Err):
            raise ServerError(last.code, last.sqlstate, last.message)
        return Response(events)

    async def query(self, sql: str, params: Sequence[object] | None = None) -> Response:
        """Run ``sql``: as COM_QUERY, or with ``params`` as a prepared statement (prepare,
        execute with the values bound through the binary protocol, close).

        Raises:
            ServerError: the server answered with ERR (code, SQL state, message).
            TypeError, ValueError: a parameter has no MySQL encoding (see
                :func:`mywire.packets.prepared.encode_params`).
        """
        if params is None:
            return await self._command(self.conn.send(Query(sql=sql)))
        h = self.conn.handshake
        if h is not None and h.is_mariadb:
            return await self._pipelined_query(sql, params)
        stmt = await self.prepare(sql)
        try:
            return await self.execute(stmt, params)
        finally:
            await self.close_statement(stmt)

    async def _pipelined_query(self, sql: str, params: Sequence[object]) -> Response:
        """MariaDB: prepare and execute (statement id 0xFFFFFFFF) in one round trip."""
        block = encode_params(list(params)) if params else b""
        async with self._lock:
            conn = self.conn
            execute = StmtExecute(statement_id=LAST_STATEMENT, params=block)
            self._write(conn.send(StmtPrepare(sql=sql)) + conn.send(execute))
            t = self._opts["timeout"]
            async with asyncio.timeout(float(t) if t is not None else None):  # type: ignore[arg-type]
                events = await self._events(lambda e: conn.state.value == "ready")
            prepared = [e for e in events if isinstance(e, StmtPrepared)]
            if prepared:
                self._write(conn.send(StmtClose(statement_id=prepared[0].statement_id)))
        errors = [e for e in events if isinstance(e, Err)]
        if errors:  # the prepare's error, if any, explains the execute's
            raise ServerError(errors[0].code, errors[0].sqlstate, errors[0].message)
        return Response([e for e in events if not isinstance(e, StmtPrepared)])

    # ------------------------------------------------------------------ transcoding
    async def stream(
        self,
        sql: str,
        params: Sequence[object] | None = None,
        *,
        format: str = "ndjson",
        multi: bool = False,
        int64_as_string: bool = False,
        decimal_as_number: bool = False,
        max_rows: int | None = None,
        max_bytes: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Run ``sql`` and yield its result transcoded (see :mod:`mywire.transcode`) in
        chunks as the rows arrive, ending with the document's closing bytes.

        ``params`` are bound through the binary protocol (prepare, execute, close; one
        round trip on MariaDB).  Server errors, lost connections, timeouts and limits
        end the output with an ``error`` member instead of raising, so the output is
        always a whole document; after a limit the rest of the response is read and
        dropped.  Abandoning the iterator in the middle closes the connection (the
        rest of the response would otherwise stay unread).
        """
        t = Transcoder(
            format,
            multi=multi,
            int64_as_string=int64_as_string,
            decimal_as_number=decimal_as_number,
            max_rows=max_rows,
            max_bytes=max_bytes,
        )
        async for chunk in self._transcoded(sql, params, t):
            yield chunk

    async def _transcoded(
        self,
        sql: str,
        params: Sequence[object] | None,
        t: Transcoder,
        before_finish: Callable[[], None] | None = None,
    ) -> AsyncIterator[bytes]:
        conn = self.conn
        async with self._lock:
            complete = False
            try:
                t_opt = self._opts["timeout"]
                try:
                    async with asyncio.timeout(float(t_opt) if t_opt is not None else None):  # type: ignore[arg-type]
                        prepared = await self._start_statement(sql, params)
                        async for ev in self._iter_events():
                            if isinstance(ev, StmtPrepared):  # MariaDB's pipelined prepare
                                prepared = ev.statement_id
                                continue
                            chunk = t.feed(ev)
                            if chunk:
                                yield chunk
                        if prepared is not None:
                            self._write(conn.send(StmtClose(statement_id=prepared)))
                except ServerError as exc:  # the prepare failed, or the connection is lost
                    if exc.code == _CR_SERVER_LOST:
                        self._abort()
                    tail = t.fail(exc)
                    if tail:
                        yield tail
                except (MywireError, OSError, TimeoutError) as exc:
                    self._abort()
                    tail = t.fail(exc)
                    if tail:
                        yield tail
                complete = True
            finally:
                if not complete:
                    self._abort()
        if before_finish is not None:
            before_finish()
        tail = t.finish()
        if tail:
            yield tail

    async def _start_statement(self, sql: str, params: Sequence[object] | None) -> int | None:
        """Send ``sql``: COM_QUERY, or with ``params`` a prepared statement (pipelined on
        MariaDB, else prepared first).  Returns the statement id to close afterwards
        when it is already known."""
        conn = self.conn
        if params is None:
            self._write(conn.send(Query(sql=sql)))
            return None
        block = encode_params(list(params)) if params else b""
        h = conn.handshake
        if h is not None and h.is_mariadb:
            execute = StmtExecute(statement_id=LAST_STATEMENT, params=block)
            self._write(conn.send(StmtPrepare(sql=sql)) + conn.send(execute))
            return None
        self._write(conn.send(StmtPrepare(sql=sql)))
        events = await self._events(lambda e: conn.state.value == "ready")
        last = events[-1]
        if isinstance(last, Err):
            raise ServerError(last.code, last.sqlstate, last.message)
        assert isinstance(last, StmtPrepared)
        self._write(conn.send(StmtExecute(statement_id=last.statement_id, params=block)))
        return last.statement_id

    async def _iter_events(self) -> AsyncIterator[Event]:
        """Events of the command in flight, read as needed, until the connection is ready."""
        assert self._reader is not None and self._writer is not None
        conn = self.conn
        while True:
            ev = conn.next_event()
            if isinstance(ev, NeedData):
                await self._writer.drain()
                data = await self._reader.read(_STREAM_LIMIT)
                conn.receive_data(data)
                continue
            if isinstance(ev, ConnectionClosed):
                raise ServerError(_CR_SERVER_LOST, "HY000", "Lost connection to server")
            yield ev
            if conn.state.value == "ready":
                return

    async def _transcode_all(
        self,
        sql: str,
        params: Sequence[object] | None,
        fmt: str,
        multi: bool | None,
        **options: Any,
    ) -> bytes:
        t = Transcoder(fmt, multi=multi is not False, **options)

        def decide() -> None:
            if multi is None and fmt == "msgpack":
                t.multi = t.elements > 1

        chunks = [chunk async for chunk in self._transcoded(sql, params, t, decide)]
        if multi is None and fmt == "json" and t.elements <= 1:
            # One result: drop the list's brackets ("[" opens the first chunk, "]"
            # ends the last) rather than copying the whole document.
            chunks[0] = chunks[0][1:]
            chunks[-1] = chunks[-1][:-1]
        return b"".join(chunks)

    async def query_json(
        self,
        sql: str,
        params: Sequence[object] | None = None,
        *,
        multi: bool | None = None,
        int64_as_string: bool = False,
        decimal_as_number: bool = False,
        max_rows: int | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """Run ``sql`` and return the whole result as one JSON document (bytes).

        ``multi=None`` gives one result object, or a list when the response holds
        several (multi-statements, procedures); True always a list; False the first
        result only.  Errors become the document's ``error`` member (see
        :meth:`stream`).
        """
        return await self._transcode_all(
            sql,
            params,
            "json",
            multi,
            int64_as_string=int64_as_string,
            decimal_as_number=decimal_as_number,
            max_rows=max_rows,
            max_bytes=max_bytes,
        )

    async def query_msgpack(
        self,
        sql: str,
        params: Sequence[object] | None = None,
        *,
        multi: bool | None = None,
        int64_as_string: bool = False,
        decimal_as_number: bool = False,
        max_rows: int | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """:meth:`query_json`, as msgpack."""
        return await self._transcode_all(
            sql,
            params,
            "msgpack",
            multi,
            int64_as_string=int64_as_string,
            decimal_as_number=decimal_as_number,
            max_rows=max_rows,
            max_bytes=max_bytes,
        )

    async def prepare(self, sql: str) -> PreparedStatement:
        """COM_STMT_PREPARE."""
        response = await self._command(self.conn.send(StmtPrepare(sql=sql)))
        (ev,) = response.events
        assert isinstance(ev, StmtPrepared)
        return PreparedStatement(ev.statement_id, sql, ev.params, ev.columns)

    async def execute(
        self,
        stmt: PreparedStatement,
        params: Sequence[object] = (),
        *,
        cursor: bool = False,
        long_data: Sequence[int] = (),
    ) -> Response:
        """COM_STMT_EXECUTE with ``params`` bound (binary protocol).

        With ``cursor=True`` the server opens a read-only cursor and sends no rows yet;
        take them with :meth:`fetch`.
        """
        if len(params) != len(stmt.params):
            raise ValueError(
                f"the statement takes {len(stmt.params)} parameters, got {len(params)}"
            )
        block = encode_params(list(params), long_data=long_data) if params else b""
        flags = CursorType.CURSOR_TYPE_READ_ONLY if cursor else 0
        cmd = StmtExecute(statement_id=stmt.statement_id, flags=flags, params=block)
        return await self._command(self.conn.send(cmd))

    async def fetch(
        self, stmt: PreparedStatement, count: int = 1000
    ) -> tuple[list[tuple[object, ...]], bool]:
        """COM_STMT_FETCH from an open cursor.

        Returns:
            Up to ``count`` decoded rows, and whether the cursor is exhausted.
        """
        response = await self._command(
            self.conn.send(StmtFetch(statement_id=stmt.statement_id, num_rows=count))
        )
        rows: list[tuple[object, ...]] = []
        done = False
        for ev in response.events:
            if isinstance(ev, Rows):
                rows.extend(decode_rows(stmt.columns, ev.data, ev.spans, binary=True))
            elif isinstance(ev, ResultsetEnd):
                done = bool(ev.status_flags & ServerStatus.SERVER_STATUS_LAST_ROW_SENT)
        return rows, done

    async def send_long_data(self, stmt: PreparedStatement, param: int, data: bytes) -> None:
        """COM_STMT_SEND_LONG_DATA: stream a parameter's value in pieces before
        :meth:`execute` (name it there in ``long_data``; its value in ``params`` only
        gives the type).  The server does not answer."""
        async with self._lock:
            cmd = StmtSendLongData(statement_id=stmt.statement_id, param_id=param, data=data)
            self._write(self.conn.send(cmd))
            assert self._writer is not None
            await self._writer.drain()

    async def reset_statement(self, stmt: PreparedStatement) -> None:
        """COM_STMT_RESET: drop long data sent so far and close the statement's cursor."""
        await self._command(self.conn.send(StmtReset(statement_id=stmt.statement_id)))

    async def close_statement(self, stmt: PreparedStatement) -> None:
        """COM_STMT_CLOSE (the server does not answer)."""
        async with self._lock:
            self._write(self.conn.send(StmtClose(statement_id=stmt.statement_id)))
            assert self._writer is not None
            await self._writer.drain()

    async def ping(self) -> None:
        await self._command(self.conn.send(Ping()))

    async def reset_connection(self) -> None:
        """COM_RESET_CONNECTION: roll back, drop temporary tables, prepared statements,
        user variables and locks, and restore the session's defaults, keeping the
        connection and its login (what a pool does before reusing a connection)."""
        await self._command(self.conn.send(ResetConnection()))

    @property
    def is_usable(self) -> bool:
        """The connection is open and between commands."""
        return self._writer is not None and self.conn.state.value == "ready"

    async def init_db(self, schema: str) -> None:
        await self._command(self.conn.send(InitDb(schema=schema)))

    async def close(self) -> None:
        """Send COM_QUIT and close the transport (idempotent)."""
        if self._writer is None:
            return
        try:
            if self.conn.state.value == "ready":
                self._write(self.conn.send(Quit()))
                await self._writer.drain()
            self._writer.close()
            await self._writer.wait_closed()
        except (OSError, MywireError):
            pass
        finally:
            self._writer = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
