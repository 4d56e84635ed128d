"""Sans-IO connections: the client role and the server role.

Theory of operation
-------------------
A connection never touches a socket.  Bytes from the peer go in through
:meth:`receive_data` (``b""`` when the peer closed); :meth:`next_event` turns them into
events (:mod:`mywire.events`) or returns :data:`~mywire.events.NEED_DATA`.  Every method
that sends something returns the bytes to write; nothing is written behind the caller's
back, so an adapter is a loop of "write what a method returned, feed what the socket
read".  All state transitions live in :mod:`mywire._state`; an event the table does not
allow raises :class:`~mywire.errors.ProtocolError` and leaves the connection in
``State.ERROR``, and so does any malformed packet.

Sequence ids: every command starts at 0 and the response continues from the last id
sent; :class:`~mywire.framing.PacketReader` checks them.  In the idle state the client
accepts any id, because servers send an ERR with id 0 before closing an idle connection.

Capabilities are negotiated once, from the greeting and the client's wishes, and stay
inspectable: ``server_capabilities``, ``client_capabilities`` (what we asked for) and
``capabilities`` (what both sides agreed on, which every parser uses).

With CLIENT_COMPRESS negotiated, both directions switch to compressed frames after the
OK that ends authentication, each command restarting the compressed sequence at 0.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable

from ._pycore import ROWS_DEPRECATE_EOF, ROWS_EOF
from ._state import CLIENT, SERVER, TRANSITIONS, State
from .auth import ClientAuth, client_plugin
from .constants import Capability as C
from .constants import MariaDBCapability, ServerStatus
from .errors import (
    LimitExceeded,
    MalformedPacket,
    MywireError,
    PacketsOutOfSync,
    ProtocolError,
    TruncatedPacket,
    UnsupportedFeature,
)
from .events import (
    NEED_DATA,
    AuthMoreData,
    AuthResponse,
    AuthSwitchRequest,
    ChangeUser,
    ColumnDefinition,
    Command,
    ConnectionClosed,
    Eof,
    Err,
    Event,
    FieldListResult,
    Handshake,
    HandshakeResponse,
    LocalInfileRequest,
    NeedData,
    Ok,
    Ping,
    Query,
    ResultsetEnd,
    ResultsetStart,
    Rows,
    SSLRequest,
    StatisticsResult,
    StmtExecute,
    StmtFetch,
    StmtPrepared,
)
from .framing import (
    DEFAULT_MAX_PAYLOAD,
    MAX_PACKET,
    CompressedPacketReader,
    PacketReader,
    Payload,
    compress_frames,
    frame_payload,
)
from .packets import command as pcmd
from .packets import generic as pgen
from .packets import handshake as phs
from .packets import prepared as pprep
from .packets import resultset as prs
from .packets._text import dec

__all__ = [
    "DEFAULT_CLIENT_CAPABILITIES",
    "DEFAULT_MAX_COLUMNS",
    "LAST_STATEMENT",
    "DEFAULT_SERVER_CAPABILITIES",
    "ClientConnection",
    "ServerConnection",
    "State",
]

#: MariaDB extended capabilities the client asks for (as 64-bit values): extended
#: metadata says which text columns hold JSON (and other formats), which the transcoder
#: embeds as JSON values.  They are sent only to servers that announce extended
#: capabilities (by clearing CLIENT_MYSQL); everyone else sees CLIENT_MYSQL set.
CLIENT_MARIADB_EXTENDED = MariaDBCapability.MARIADB_CLIENT_EXTENDED_METADATA.to_u64()

#: Distinct column definitions a client connection keeps parsed.
_DEFINITION_CACHE = 4096

#: The largest column count a client accepts by default.  Servers have no small limit of
#: their own (MariaDB answers a SELECT of 70,000 columns), so this is far above any real
#: result and far below the 2^64-1 a length-encoded count can declare: a count in the
#: millions is refused on the spot instead of waiting for (and holding) its definitions.
DEFAULT_MAX_COLUMNS = 1 << 20

#: What the client asks for unless told otherwise.
DEFAULT_CLIENT_CAPABILITIES = (
    CLIENT_MARIADB_EXTENDED
    | C.CLIENT_MYSQL
    | C.CLIENT_LONG_FLAG
    | C.CLIENT_PROTOCOL_41
    | C.CLIENT_TRANSACTIONS
    | C.CLIENT_SECURE_CONNECTION
    | C.CLIENT_MULTI_RESULTS
    | C.CLIENT_PS_MULTI_RESULTS
    | C.CLIENT_PLUGIN_AUTH
    | C.CLIENT_CONNECT_ATTRS
    | C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | C.CLIENT_SESSION_TRACK
    | C.CLIENT_DEPRECATE_EOF
)

#: What the server role offers unless told otherwise (no TLS: the adapter adds
#: CLIENT_SSL when it has a certificate).
DEFAULT_SERVER_CAPABILITIES = (
    (DEFAULT_CLIENT_CAPABILITIES & ~CLIENT_MARIADB_EXTENDED)
    | C.CLIENT_CONNECT_WITH_DB
    | C.CLIENT_FOUND_ROWS
    | C.CLIENT_MULTI_STATEMENTS
    | C.CLIENT_LOCAL_FILES
    | C.CLIENT_IGNORE_SPACE
    | C.CLIENT_INTERACTIVE
    | C.CLIENT_COMPRESS
)

UTF8MB4_GENERAL_CI = 45
#: MariaDB's statement id meaning "the statement prepared last" (COM_STMT_EXECUTE).
LAST_STATEMENT = 0xFFFFFFFF
_MAX_PACKET_SIZE = 0xFFFFFF
_ROW_BATCH = 1024


class _Incomplete(Exception):
    """Internal: a multi-packet response is not complete yet."""


class _Base:
    """Framing, sequence ids, compression and the transition table; no role logic."""

    role: str

    def __init__(self, *, max_payload: int) -> None:
        self._max_payload = max_payload
        self._reader: PacketReader | CompressedPacketReader = PacketReader(
            max_payload=max_payload, seq=0
        )
        self._pushback: deque[Payload] = deque()
        self._seq = 0  # sequence id of the next packet we send
        self._compressed = False
        self._cseq = 0
        self.state = State.CONNECTING
        self.capabilities = 0
        self._closed_by_peer = False
        self._taken: list[Payload] = []
        # Set while re-reading from a packet with id 0 that must be an ERR to be allowed.
        self._err_only: PacketsOutOfSync | None = None
        # Between an SSLRequest and the caller's switch to TLS, bytes belong to TLS.
        self._tls_pending = False
        self.trailing_data = b""

    # ---------------------------------------------------------------- transitions
    def _move(self, inp: str, *, received: bool) -> None:
        table = TRANSITIONS.get((self.role, self.state), {})
        nxt = table.get(inp)
        if nxt is None:
            what = inp.removeprefix("send:")
            if received:
                state, self.state = self.state, State.ERROR
                raise ProtocolError(
                    f"unexpected {what} from the peer in state {state.value}",
                    offset=0,
                    expected=f"one of {sorted(k for k in table if not k.startswith('send:'))}",
                )
            raise ProtocolError(
                f"cannot send {what} in state {self.state.value}",
                offset=0,
                expected=f"one of {sorted(k[5:] for k in table if k.startswith('send:'))}",
            )
        self.state = nxt

    def _check_can_send(self, inp: str) -> None:
        if inp not in TRANSITIONS.get((self.role, self.state), {}):
            self._move(inp, received=False)  # raises with the message above

    # ------------------------------------------------------------------ input
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed the connection.

        Between an SSLRequest and :meth:`tls_started`, bytes are TLS records, not packets:
        they collect in ``trailing_data`` for the caller's TLS layer.
        """
        if self._tls_pending and data:
            self.trailing_data += data
            return
        if not data:
            self._closed_by_peer = True
        self._reader.feed(data)

    def tls_started(self) -> None:
        """The caller has wrapped the transport in TLS; bytes fed from now on are the
        decrypted stream.  Clears ``trailing_data`` (the caller has taken it)."""
        self._tls_pending = False
        self.trailing_data = b""

    def _next_payload(self) -> Payload | None:
        p = self._pushback.popleft() if self._pushback else self._reader.next_payload()
        if p is not None and self._err_only is not None:
            if p.data[:1] != b"\xff":
                raise self._err_only
            self._err_only = None
        if p is not None:
            self._taken.append(p)
            # A reply continues the sequence after the last packet of this payload.
            self._seq = (p.seq + len(p.data) // MAX_PACKET + 1) & 0xFF
        return p

    def next_event(self) -> Event | NeedData:
        """The next event from the peer, or NEED_DATA.

        Raises:
            ProtocolError: malformed bytes, or an event the state does not allow.
            AuthError: the server asked for a plugin the client cannot run.
            UnsupportedFeature: the peer uses a pre-4.1 form.
        The connection is in State.ERROR after any of these.  Any other exception is a
        bug.
        """
        if self.state is State.ERROR:
            raise ProtocolError("the connection is in the error state", offset=0, expected="")
        if self._tls_pending:
            return NEED_DATA
        self._taken.clear()
        try:
            return self._next_event()
        except PacketsOutOfSync as exc:
            if not self._resync_for_err(exc):
                self.state = State.ERROR
                raise
            return self.next_event()
        except _Incomplete:
            # A response of several payloads is not all here: put back what was taken
            # and wait; the next call starts it again from its first payload.
            self._pushback.extendleft(reversed(self._taken))
            self._taken.clear()
            if self._closed_by_peer and self._reader_at_eof():
                # ... unless no more can come: a cut-off response is an error, not a wait.
                self.state = State.ERROR
                raise TruncatedPacket(
                    "truncated stream: the connection closed in the middle of a response",
                    offset=0,
                    expected="the rest of the response",
                ) from None
            return NEED_DATA
        except MywireError:
            # Malformed bytes, a forbidden event, or an auth plugin that cannot answer:
            # the connection cannot go on either way.
            self.state = State.ERROR
            raise

    def _next_event(self) -> Event | NeedData:
        raise NotImplementedError

    def _resync_for_err(self, exc: PacketsOutOfSync) -> bool:
        """An ERR may replace a response or a row with sequence id 0 (server shutdown,
        timeouts; go-sql-driver exempts ERR packets from the check).  Restart framing at
        the offending packet, expecting id 0, and let it through only if it is an ERR."""
        r = self._reader
        if (
            self.role != CLIENT
            or exc.actual != 0
            or self.state in (State.READY, State.CONNECTING)
            or not isinstance(r, PacketReader)
            or self._err_only is not None
        ):
            return False
        try:
            raw = r.take_unread()
        except ValueError:  # in the middle of a multi-packet payload: no way back
            return False
        self._reader = PacketReader(max_payload=self._max_payload, seq=0)
        if raw:
            self._reader.feed(raw)
        if self._closed_by_peer:
            self._reader.feed(b"")
        self._err_only = exc
        return True

    def _reader_at_eof(self) -> bool:
        r = self._reader
        return r.packets.at_eof if isinstance(r, CompressedPacketReader) else r.at_eof

    def _expect_seq(self, seq: int | None, cseq: int | None) -> None:
        """Set the sequence id (plain) or compressed sequence id the peer sends next;
        None accepts any."""
        if isinstance(self._reader, CompressedPacketReader):
            self._reader.reset_sequence(cseq)
        else:
            self._reader.reset_sequence(seq)

    # ----------------------------------------------------------------- output
    def _send(
        self, payloads: Iterable[bytes], *, first_seq: int | None = None, expect: bool = True
    ) -> bytes:
        if first_seq is not None:
            self._seq = first_seq
            self._cseq = first_seq
        elif isinstance(self._reader, CompressedPacketReader):
            self._cseq = self._reader.seq
        parts = []
        for payload in payloads:
            framed, self._seq = frame_payload(payload, self._seq)
            parts.append(framed)
        data = b"".join(parts)
        if self._compressed:
            data, self._cseq = compress_frames(data, self._cseq)
        if expect:
            self._expect_seq(self._seq, self._cseq)
        return data

    def _start_compression(self) -> None:
        leftover = b""
        if isinstance(self._reader, PacketReader):
            leftover = self._reader.take_unread()
        self._reader = CompressedPacketReader(max_payload=self._max_payload, seq=0)
        if leftover:
            self._reader.feed(leftover)
        self._compressed = True

    def _fail(self, exc: MywireError) -> None:
        self.state = State.ERROR
        raise exc


# --------------------------------------------------------------------------------------
# Client role
# --------------------------------------------------------------------------------------


class ClientConnection(_Base):
    """The client side of one MySQL connection.

    Args:
        user: account name.
        password: the password (bytes or str, UTF-8 encoded).
        database: default schema, or None.
        capabilities: the CLIENT_* flags to ask for (negotiated with the server's).
        character_set: collation id for the session (default utf8mb4_general_ci).
        attributes: connection attributes sent with CLIENT_CONNECT_ATTRS.
        tls: ask for TLS (CLIENT_SSL); the caller sends :meth:`ssl_request`, wraps the
            socket, then sends :meth:`handshake_response`.
        secure_transport: the transport is already private (a Unix socket), so plugins
            may send secrets in the clear.
        compress: ask for zlib protocol compression.
        multi_statements: ask for CLIENT_MULTI_STATEMENTS (several statements per query).
        server_public_key: PEM of the server's RSA key, to skip asking for it.
        allow_cleartext: let mysql_clear_password send the password without TLS.
        max_payload: largest payload accepted from the server (default 1 GiB).
        max_columns: most columns accepted in one resultset (default 2^20, see
            DEFAULT_MAX_COLUMNS); a larger column count raises :class:`LimitExceeded`
            on the count itself, before a definition is waited for.
    """

    role = CLIENT

    def __init__(
        self,
        *,
        user: str,
        password: bytes | str = b"",
        database: str | None = None,
        capabilities: int = DEFAULT_CLIENT_CAPABILITIES,
        character_set: int = UTF8MB4_GENERAL_CI,
        attributes: tuple[tuple[str, str], ...] = (("_client_name", "mywire"),),
        tls: bool = False,
        secure_transport: bool = False,
        compress: bool = False,
        multi_statements: bool = False,
        server_public_key: bytes | None = None,
        allow_cleartext: bool = False,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        max_columns: int = DEFAULT_MAX_COLUMNS,
    ) -> None:
        super().__init__(max_payload=max_payload)
        self.max_columns = max_columns
        self.user = user
        self.password = password.encode() if isinstance(password, str) else password
        self.database = database
        caps = capabilities
        if database:
            caps |= C.CLIENT_CONNECT_WITH_DB
        if tls:
            caps |= C.CLIENT_SSL
        if compress:
            caps |= C.CLIENT_COMPRESS
        if multi_statements:
            caps |= C.CLIENT_MULTI_STATEMENTS
        self.client_capabilities = caps
        self.server_capabilities = 0
        self.character_set = character_set
        self.attributes = attributes
        self.secure = secure_transport
        self.server_public_key = server_public_key
        self.allow_cleartext = allow_cleartext
        self.handshake: Handshake | None = None
        self._definitions_seen: dict[bytes, ColumnDefinition] = {}
        self._saved_definitions: tuple[tuple[str, int], list[Payload]] | None = None
        self.server_status = 0
        self._auth: ClientAuth | None = None
        self._auth_reply: bytes | None = None
        self._binary = False
        self._pipelined: str | None = None  # a command sent before the previous answer
        self._pipelined_seq = (1, 1)

    # -------------------------------------------------------------- handshake
    @property
    def wants_tls(self) -> bool:
        return bool(self.client_capabilities & C.CLIENT_SSL)

    def ssl_request(self) -> bytes:
        """Ask the server for TLS; then wrap the transport and send :meth:`handshake_response`.

        Raises:
            UnsupportedFeature: the server does not offer TLS.
        """
        self._check_can_send("send:SSLRequest")
        if not self.capabilities & C.CLIENT_SSL:
            raise UnsupportedFeature("the server does not offer TLS (no CLIENT_SSL)")
        req = SSLRequest(
            capabilities=self.capabilities,
            max_packet_size=_MAX_PACKET_SIZE,
            character_set=self.character_set,
        )
        data = self._send([phs.build_ssl_request(req)], first_seq=1)
        self._move("send:SSLRequest", received=False)
        r = self._reader
        assert isinstance(r, PacketReader)
        self.trailing_data = r.take_unread()
        self._tls_pending = True
        return data

    def tls_started(self) -> None:
        super().tls_started()
        self.secure = True  # secrets may now go in the clear

    def handshake_response(self) -> bytes:
        """The HandshakeResponse41 for the greeting, with the first auth response."""
        self._check_can_send("send:HandshakeResponse")
        h = self.handshake
        assert h is not None
        plugin_name = h.auth_plugin_name or "mysql_native_password"
        self._auth = self._make_auth(plugin_name)
        auth = self._auth.start(h.auth_plugin_data)
        resp = HandshakeResponse(
            capabilities=self.capabilities,
            max_packet_size=_MAX_PACKET_SIZE,
            character_set=self.character_set,
            username=self.user,
            auth_response=auth,
            database=self.database,
            auth_plugin_name=plugin_name,
            attributes=self.attributes,
        )
        first = 2 if self.state is State.TLS else 1
        data = self._send([phs.build_handshake_response(resp)], first_seq=first)
        self._move("send:HandshakeResponse", received=False)
        return data

    def _make_auth(self, name: str) -> ClientAuth:
        return client_plugin(name)(
            self.password,
            secure=self.secure,
            server_public_key=self.server_public_key,
            allow_cleartext=self.allow_cleartext,
        )

    def auth_reply(self) -> bytes:
        """The answer to the last AuthSwitchRequest / AuthMoreData; b"" if none is due."""
        reply, self._auth_reply = self._auth_reply, None
        if reply is None:
            return b""
        self._check_can_send("send:AuthResponse")
        return self._send([reply])

    # --------------------------------------------------------------- commands
    def send(self, command: Command) -> bytes:
        """The bytes for a command (from :mod:`mywire.events`), checked against the state.

        COM_QUERY with query attributes needs CLIENT_QUERY_ATTRIBUTES negotiated.
        """
        name = type(command).__name__
        if (
            isinstance(command, StmtExecute)
            and command.statement_id == LAST_STATEMENT
            and self.state is State.PREPARE
        ):
            return self._pipeline_execute(command)
        self._check_can_send(f"send:{name}")
        if isinstance(command, ChangeUser):
            raise UnsupportedFeature("use change_user() for COM_CHANGE_USER")
        payload = pcmd.build_command(command, self.capabilities)
        data = self._send([payload], first_seq=0)
        self._binary = isinstance(command, (StmtExecute, StmtFetch))
        self._move(f"send:{name}", received=False)
        return data

    def _pipeline_execute(self, command: StmtExecute) -> bytes:
        """MariaDB's statement id 0xFFFFFFFF ("the statement just prepared") lets
        COM_STMT_EXECUTE follow COM_STMT_PREPARE without waiting for its answer: one
        round trip instead of two.  The execute's response is read once the prepare's
        is done (its sequence ids restart after the execute's own packets)."""
        h = self.handshake
        if h is None or not h.is_mariadb:
            raise UnsupportedFeature("statement id 0xFFFFFFFF (pipelined execute) is MariaDB's")
        if self._pipelined is not None:
            raise ProtocolError(
                "one pipelined COM_STMT_EXECUTE is already waiting",
                offset=0,
                expected="the prepare's answer first",
            )
        payload = pcmd.build_command(command, self.capabilities)
        # The prepare's answer is still coming: frame the new command from id 0 without
        # touching what the reader expects.
        data = self._send([payload], first_seq=0, expect=False)
        self._pipelined = "send:StmtExecute"
        # Its answer continues after its own last packet (a payload of 16 MiB or more
        # takes several ids).
        self._pipelined_seq = (self._seq, self._cseq)
        return data

    def query(self, sql: str) -> bytes:
        """Shorthand for ``send(Query(sql=sql))``."""
        return self.send(Query(sql=sql))

    def ping(self) -> bytes:
        """Shorthand for ``send(Ping())``."""
        return self.send(Ping())

    def change_user(self, user: str, password: bytes | str = b"", database: str = "") -> bytes:
        """COM_CHANGE_USER; authentication then runs as after the greeting."""
        self._check_can_send("send:ChangeUser")
        h = self.handshake
        assert h is not None
        self.user = user
        self.password = password.encode() if isinstance(password, str) else password
        plugin_name = h.auth_plugin_name or "mysql_native_password"
        self._auth = self._make_auth(plugin_name)
        cmd = ChangeUser(
            username=user,
            auth_response=self._auth.start(h.auth_plugin_data),
            database=database,
            character_set=self.character_set,
            auth_plugin_name=plugin_name if self.capabilities & C.CLIENT_PLUGIN_AUTH else None,
            attributes=self.attributes if self.capabilities & C.CLIENT_CONNECT_ATTRS else (),
        )
        data = self._send([pcmd.build_command(cmd, self.capabilities)], first_seq=0)
        self._move("send:ChangeUser", received=False)
        return data

    def infile_data(self, chunks: Iterable[bytes]) -> bytes:
        """Answer a LocalInfileRequest: the file's bytes (any chunking), then the empty
        packet that ends it.  Send ``[]`` to refuse (the server then reports an error)."""
        self._check_can_send("send:InfileData")
        payloads = [c for c in chunks if c]
        payloads.append(b"")
        data = self._send(payloads)
        self._move("send:InfileData", received=False)
        return data

    # ------------------------------------------------------------------ events
    def _next_event(self) -> Event | NeedData:
        st = self.state
        if st is State.ROWS or st is State.FETCH:
            return self._rows()
        payload = self._next_payload()
        if payload is None:
            if self._closed_by_peer and self._reader_at_eof():
                self._move("ConnectionClosed", received=True)
                return ConnectionClosed()
            return NEED_DATA
        data = payload.data
        if st is State.CONNECTING:
            return self._greeting(data)
        if st is State.AUTH:
            return self._auth_event(data)
        if st is State.READY:
            return self._received(self._generic(data))
        if st is State.RESPONSE:
            return self._response(data)
        if st is State.PREPARE:
            return self._prepare(data)
        if st is State.STATISTICS:
            if data[:1] == b"\xff":
                return self._received(self._generic(data))
            return self._received(StatisticsResult(text=dec(data)))
        if st is State.FIELD_LIST:
            return self._field_list(data)
        return self._received(self._generic(data))

    def _received(self, ev: Event) -> Event:
        name = type(ev).__name__
        if isinstance(ev, Ok) and ev.status_flags & ServerStatus.SERVER_MORE_RESULTS_EXISTS:
            name += "+more"
        if isinstance(ev, ResultsetEnd) and ev.more_results:
            name += "+more"
        self._move(name, received=True)
        if isinstance(ev, (Ok, Eof, ResultsetEnd)):
            self.server_status = ev.status_flags
        if self.state is State.READY and self._pipelined is not None:
            # The prepare is answered; the pipelined execute's answer follows (ids from 1).
            self._move(self._pipelined, received=False)
            self._pipelined = None
            self._binary = True
            self._expect_seq(*self._pipelined_seq)
        elif self.state is State.READY:
            self._expect_seq(None, None)  # idle: accept the id-0 ERR of an idle timeout
        return ev

    def _generic(self, data: bytes) -> Event:
        head = data[:1]
        if head == b"\x00":
            return pgen.parse_ok(data, self.capabilities)
        if head == b"\xff":
            return pgen.parse_err(data)
        raise MalformedPacket(
            f"malformed packet: header 0x{data[0]:02x} at offset 0"
            if data
            else "truncated packet: empty payload at offset 0",
            offset=0,
            expected="OK (0x00) or ERR (0xff)",
        )

    def _greeting(self, data: bytes) -> Event:
        if data[:1] == b"\xff":
            return self._received(pgen.parse_err(data))
        h = phs.parse_handshake(data)
        if not h.capabilities & C.CLIENT_PROTOCOL_41:
            raise UnsupportedFeature("the server does not speak the 4.1 protocol")
        self.handshake = h
        self.server_capabilities = h.capabilities
        # CLIENT_MYSQL is ours to set: the server clears it to announce extended caps,
        # and we clear it to send ours (when we share any with the server).
        shared = self.client_capabilities & h.capabilities
        if h.capabilities & C.CLIENT_MYSQL or not shared >> 32:
            shared = (shared & 0xFFFFFFFF) | (self.client_capabilities & C.CLIENT_MYSQL)
        self.capabilities = shared
        if self.wants_tls and not h.capabilities & C.CLIENT_SSL:
            # int(): an IntFlag's complement is 32 bits wide and would drop the MariaDB
            # extended capabilities above them.
            self.capabilities &= ~int(C.CLIENT_SSL)
        self.server_status = h.status_flags
        return self._received(h)

    def _auth_event(self, data: bytes) -> Event:
        head = data[:1]
        if head == b"\x00":
            ok = pgen.parse_ok(data, self.capabilities)
            ev = self._received(ok)
            if self.capabilities & C.CLIENT_COMPRESS and not self._compressed:
                self._start_compression()
            self._expect_seq(None, None)
            return ev
        if head == b"\xff":
            return self._received(pgen.parse_err(data))
        assert self._auth is not None
        if head == b"\xfe":
            sw = phs.parse_auth_switch_request(data)
            self._auth = self._make_auth(sw.plugin_name)
            self._auth_reply = self._auth.start(sw.data)
            return self._received(sw)
        if head == b"\x01":
            more = phs.parse_auth_more_data(data)
            self._auth_reply = self._auth.more(more.data)
            return self._received(more)
        if head == b"\x02":
            nf = phs.parse_auth_next_factor(data)
            self._auth = self._make_auth(nf.plugin_name)
            self._auth_reply = self._auth.start(nf.data)
            return self._received(nf)
        raise MalformedPacket(
            f"malformed packet: header 0x{data[0]:02x} at offset 0"
            if data
            else "truncated packet: empty payload at offset 0",
            offset=0,
            expected="OK, ERR, auth switch (0xfe), more data (0x01) or next factor (0x02)",
        )

    # --------------------------------------------------------------- responses
    def _response(self, data: bytes) -> Event:
        head = data[:1]
        if head in (b"\x00", b"\xff"):
            return self._received(self._generic(data))
        if head == b"\xfb":
            return self._received(LocalInfileRequest(filename=dec(data[1:])))
        count, metadata_follows = prs.parse_column_count(data, self.capabilities)
        if count > self.max_columns:
            raise LimitExceeded(
                f"too many columns: the column count at offset 0 declares {count} columns, "
                f"more than the maximum of {self.max_columns}",
                offset=0,
                expected=f"at most {self.max_columns} columns (max_columns)",
            )
        if not metadata_follows:
            raise UnsupportedFeature(
                "the server skipped the column definitions (cached metadata); mywire does "
                "not negotiate MARIADB_CLIENT_CACHE_METADATA / CLIENT_OPTIONAL_RESULTSET_METADATA"
            )
        columns = self._definitions(count)
        return self._received(ResultsetStart(columns=columns, binary=self._binary))

    def _expect_eof(self, data: bytes) -> Eof:
        if not pgen.is_eof(data):
            raise MalformedPacket(
                "malformed packet: expected EOF after the definitions at offset 0",
                offset=0,
                expected="EOF (0xfe) after the column or parameter definitions",
            )
        return pgen.parse_eof(data, self.capabilities)

    def _is_terminator(self, data: bytes) -> bool:
        if data[:1] != b"\xfe":
            return False
        if self.capabilities & C.CLIENT_DEPRECATE_EOF:
            # A row can start with 0xFE only as an 8-byte length prefix, which needs a
            # payload of at least 16 MiB; never classify by the first byte alone.
            return len(data) < 0xFFFFFF
        return len(data) < 9

    def _rows(self) -> Event | NeedData:
        """The next chunk of rows, or the resultset's end.

        Runs of plain rows come straight from the receive buffer as one event (the C
        scan classifies the packets, no Python object per row); anything else (the
        terminator, an ERR, a row of 16 MiB or more, a row cut by a read boundary, the
        compressed stream) is taken one payload at a time.
        """
        r = self._reader
        if not self._pushback and self._err_only is None and isinstance(r, PacketReader):
            mode = ROWS_DEPRECATE_EOF if self.capabilities & C.CLIENT_DEPRECATE_EOF else ROWS_EOF
            run = r.read_rows(_ROW_BATCH, mode)
            if run is not None:
                return self._received(Rows(data=run.data, spans=run.spans))
        p = self._next_payload()
        if p is None:
            if self._closed_by_peer and self._reader_at_eof():
                raise MalformedPacket(
                    "truncated stream: the connection closed inside a resultset",
                    offset=0,
                    expected="the resultset's terminator",
                )
            return NEED_DATA
        data = p.data
        if data[:1] == b"\xff":
            return self._received(pgen.parse_err(data))
        if self._is_terminator(data):
            return self._received(self._terminator(data))
        return self._received(Rows(data=data, spans=(0, len(data))))

    def _terminator(self, data: bytes) -> ResultsetEnd:
        if self.capabilities & C.CLIENT_DEPRECATE_EOF:
            ok = pgen.parse_ok(data, self.capabilities)
            return ResultsetEnd(status_flags=ok.status_flags, warnings=ok.warnings, ok=ok)
        eof = pgen.parse_eof(data, self.capabilities)
        return ResultsetEnd(status_flags=eof.status_flags, warnings=eof.warnings)

    def _prepare(self, data: bytes) -> Event:
        if data[:1] == b"\xff":
            return self._received(pgen.parse_err(data))
        ok = pprep.parse_prepare_ok(data)
        if ok.metadata_follows is False:
            raise UnsupportedFeature("the server skipped the prepared statement's metadata")
        params = self._definitions(ok.num_params, key="params")
        columns = self._definitions(ok.num_columns)
        return self._received(
            StmtPrepared(
                statement_id=ok.statement_id,
                params=params,
                columns=columns,
                warnings=ok.warnings,
            )
        )

    def _definitions(
        self, n: int, *, field_list: bool = False, key: str = "columns"
    ) -> tuple[ColumnDefinition, ...]:
        # The payloads are collected first and parsed once all are here.  A response
        # split across reads is retried from its first payload (see next_event), but the
        # definitions collected so far are kept aside rather than pushed back, so a
        # server that trickles thousands of them costs linear work, not quadratic.
        saved = self._saved_definitions
        got: list[Payload] = []
        if saved is not None and saved[0] == (key, n):
            got = saved[1]
            self._saved_definitions = None
            # Taken again in this attempt: pushed back with the rest if a later part of
            # the response (the columns after the parameters) is incomplete.
            self._taken.extend(got)
        try:
            while len(got) < n:
                got.append(self._require_payload())
            if n and not self.capabilities & C.CLIENT_DEPRECATE_EOF:
                self._expect_eof(self._require_payload().data)
        except _Incomplete:
            if got:  # the last payloads taken: keep them aside instead
                del self._taken[len(self._taken) - len(got) :]
                self._saved_definitions = ((key, n), got)
            raise
        raw = [p.data for p in got]
        if field_list:
            caps = self.capabilities
            return tuple(prs.parse_column_definition(p, caps, field_list=True) for p in raw)
        return tuple(map(self._definition, raw))

    def _definition(self, payload: bytes) -> ColumnDefinition:
        """A column definition, parsed once per distinct payload on this connection: the
        same query sends the same definitions again, and parsing one costs more than a
        small result's rows (ColumnDefinition is immutable, so sharing is safe)."""
        cache = self._definitions_seen
        found = cache.get(payload)
        if found is None:
            found = prs.parse_column_definition(payload, self.capabilities)
            if len(cache) >= _DEFINITION_CACHE:
                cache.clear()
            cache[payload] = found
        return found

    def _require_payload(self) -> Payload:
        payload = self._next_payload()
        if payload is None:
            raise _Incomplete
        return payload

    def _field_list(self, data: bytes) -> Event:
        if data[:1] == b"\xff":
            return self._received(pgen.parse_err(data))
        raw = []
        while not (pgen.is_eof(data) or (data[:1] == b"\xfe" and len(data) < 0xFFFFFF)):
            raw.append(data)
            data = self._require_payload().data
        caps = self.capabilities
        cols = tuple(prs.parse_column_definition(p, caps, field_list=True) for p in raw)
        return self._received(FieldListResult(columns=cols))


# --------------------------------------------------------------------------------------
# Server role
# --------------------------------------------------------------------------------------


class ServerConnection(_Base):
    """The server side of one MySQL connection (proxies, test servers).

    The server application drives authentication and answers commands: :meth:`greet`,
    then for each event decide and call :meth:`auth_switch`, :meth:`auth_more_data`,
    :meth:`ok`, :meth:`err`, :meth:`resultset`...

    Args:
        capabilities: the CLIENT_* flags offered in the greeting.
        max_payload: largest payload accepted from the client.
    """

    role = SERVER

    def __init__(
        self,
        *,
        capabilities: int = DEFAULT_SERVER_CAPABILITIES,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        super().__init__(max_payload=max_payload)
        self.server_capabilities = capabilities
        self.client_capabilities = 0
        self.handshake: Handshake | None = None
        self.response: HandshakeResponse | None = None
        self.username = ""
        self.database: str | None = None

    def greet(
        self,
        *,
        server_version: str = "8.0.36-mywire",
        connection_id: int = 1,
        auth_plugin_name: str = "mysql_native_password",
        scramble: bytes | None = None,
        character_set: int = UTF8MB4_GENERAL_CI,
        status_flags: int = ServerStatus.SERVER_STATUS_AUTOCOMMIT,
    ) -> bytes:
        """Send the greeting (HandshakeV10)."""
        self._check_can_send("send:Handshake")
        if scramble is None:
            scramble = bytes(b % 127 + 1 for b in secrets.token_bytes(20))  # no NUL bytes
        h = Handshake(
            server_version=server_version,
            connection_id=connection_id,
            auth_plugin_data=scramble,
            capabilities=self.server_capabilities,
            character_set=character_set,
            status_flags=status_flags,
            auth_plugin_name=auth_plugin_name,
        )
        self.handshake = h
        data = self._send([phs.build_handshake(h)], first_seq=0)
        self._move("send:Handshake", received=False)
        return data

    def _next_event(self) -> Event | NeedData:
        payload = self._next_payload()
        if payload is None:
            if self._closed_by_peer and self._reader_at_eof():
                self._move("ConnectionClosed", received=True)
                return ConnectionClosed()
            return NEED_DATA
        data = payload.data
        st = self.state
        if st in (State.GREETED, State.TLS):
            hello = phs.parse_client_hello(data)
            if isinstance(hello, SSLRequest) and st is State.TLS:
                raise ProtocolError(
                    "unexpected second SSLRequest", offset=0, expected="HandshakeResponse41"
                )
            self.client_capabilities = hello.capabilities
            self.capabilities = self.server_capabilities & hello.capabilities
            if isinstance(hello, SSLRequest):
                self._move("SSLRequest", received=True)
                r = self._reader
                assert isinstance(r, PacketReader)
                self.trailing_data = r.take_unread()
                self._tls_pending = True
                return hello
            self.response = hello
            self.username = hello.username
            self.database = hello.database
            self._move("HandshakeResponse", received=True)
            return hello
        if st is State.AUTH:
            self._move("AuthResponse", received=True)
            return AuthResponse(data=data)
        if st is State.READY:
            cmd = pcmd.parse_command(data, self.capabilities)
            name = type(cmd).__name__
            if isinstance(cmd, ChangeUser):
                self.username = cmd.username
                self.database = cmd.database
            self._move(name, received=True)
            return cmd
        raise ProtocolError(
            f"unexpected packet from the client in state {st.value}",
            offset=0,
            expected="nothing until the server has answered",
        )

    # ------------------------------------------------------------- responses
    def auth_switch(self, plugin_name: str, data: bytes) -> bytes:
        self._check_can_send("send:AuthSwitchRequest")
        out = self._send(
            [phs.build_auth_switch_request(AuthSwitchRequest(plugin_name=plugin_name, data=data))]
        )
        self._move("send:AuthSwitchRequest", received=False)
        return out

    def auth_more_data(self, data: bytes) -> bytes:
        self._check_can_send("send:AuthMoreData")
        out = self._send([phs.build_auth_more_data(AuthMoreData(data=data))])
        self._move("send:AuthMoreData", received=False)
        return out

    def ok(self, ok: Ok | None = None) -> bytes:
        """Send OK: ends authentication, or answers a command."""
        ok = ok or Ok(status_flags=ServerStatus.SERVER_STATUS_AUTOCOMMIT)
        more = ok.status_flags & ServerStatus.SERVER_MORE_RESULTS_EXISTS
        inp = "send:Ok+more" if more and self.state is State.RESPONSE else "send:Ok"
        self._check_can_send(inp)
        out = self._send([pgen.build_ok(ok, self.capabilities)])
        was_auth = self.state is State.AUTH
        self._move(inp, received=False)
        if was_auth and self.capabilities & C.CLIENT_COMPRESS and not self._compressed:
            self._start_compression()
        if self.state is State.READY:
            self._expect_seq(0, 0)
        return out

    def err(self, code: int, message: str, sqlstate: str = "HY000") -> bytes:
        """Send ERR: fails authentication (and closes) or answers a command."""
        self._check_can_send("send:Err")
        # An ERR nobody asked for (idle timeout, shutdown) starts a sequence of its own,
        # as MySQL 8 sends it: id 0.
        first = 0 if self.state is State.READY else None
        out = self._send(
            [pgen.build_err(Err(code=code, message=message, sqlstate=sqlstate))], first_seq=first
        )
        self._move("send:Err", received=False)
        if self.state is State.READY:
            self._expect_seq(0, 0)
        return out

    def resultset(
        self,
        columns: Iterable[ColumnDefinition | bytes],
        rows: Iterable[bytes],
        *,
        status_flags: int = ServerStatus.SERVER_STATUS_AUTOCOMMIT,
        warnings: int = 0,
    ) -> bytes:
        """Send a whole resultset: column definitions (events, or payloads built
        already) and row payloads, with the terminator for the negotiated mode."""
        more = status_flags & ServerStatus.SERVER_MORE_RESULTS_EXISTS
        inp = "send:Resultset+more" if more else "send:Resultset"
        self._check_can_send(inp)
        caps = self.capabilities
        cols = [
            c if isinstance(c, bytes) else prs.build_column_definition(c, caps) for c in columns
        ]
        payloads = [prs.build_column_count(len(cols), caps), *cols]
        deprecate = self.capabilities & C.CLIENT_DEPRECATE_EOF
        eof = pgen.build_eof(Eof(warnings=warnings, status_flags=status_flags), self.capabilities)
        if not deprecate:
            payloads.append(eof)
        payloads.extend(rows)
        if deprecate:
            payloads.append(
                pgen.build_ok(
                    Ok(status_flags=status_flags, warnings=warnings, eof=True), self.capabilities
                )
            )
        else:
            payloads.append(eof)
        out = self._send(payloads)
        self._move(inp, received=False)
        if self.state is State.READY:
            self._expect_seq(0, 0)
        return out
