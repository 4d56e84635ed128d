"""Differential fuzz targets: every entry point, C backend vs pure-Python backend.

Theory of operation
-------------------
Each target is a function ``target(data: bytes) -> None`` (the shape atheris and
libFuzzer call).  The first bytes of ``data`` are *control bytes* that pick the
options (parser, capabilities, chunking, column types, format...), the rest is the
protocol input.  :func:`differential` runs the same call once with
``mywire._backend.IMPL`` set to the C backend and once with the pure backend, and
requires both to return the same (normalised) output or both to raise a
:class:`~mywire.errors.MywireError` of the same class with the same message.  Anything
else is a finding and raises:

* :class:`Disagreement` when the backends differ;
* any non-``MywireError`` exception escapes as it is (a bug by the library's
  "any other exception is a bug" contract);
* a crash or a sanitizer report ends the process (the C core under ASan/UBSan).

The targets do not import atheris, so the normal test suite runs them
(tests/test_fuzz_targets.py); fuzz/fuzz.py is the atheris driver and fuzz/run.sh the
sanitized runner.  Seeds in the layout each target expects are written by
fuzz/make_corpus.py (see :func:`rows_seed`, :data:`SEED_PREFIX`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import ModuleType

import mywire._backend
from mywire import _tcspec as T
from mywire._pycore import ROWS_DEPRECATE_EOF, ROWS_EOF
from mywire.connection import (
    DEFAULT_CLIENT_CAPABILITIES,
    DEFAULT_SERVER_CAPABILITIES,
    ClientConnection,
    ServerConnection,
)
from mywire.constants import Capability as C
from mywire.errors import MywireError
from mywire.events import (
    AuthMoreData,
    AuthNextFactor,
    AuthResponse,
    AuthSwitchRequest,
    ColumnDefinition,
    ConnectionClosed,
    Event,
    Handshake,
    HandshakeResponse,
    NeedData,
    ResultsetEnd,
    ResultsetStart,
    Rows,
    SSLRequest,
    StmtExecute,
    StmtPrepare,
)
from mywire.framing import CompressedPacketReader, PacketReader
from mywire.packets import command as pcmd
from mywire.packets import generic as pgen
from mywire.packets import handshake as phs
from mywire.packets import prepared as pprep
from mywire.packets import resultset as prs
from mywire.transcode import Transcoder

__all__ = [
    "CAPABILITIES",
    "CHARSETS",
    "SEED_PREFIX",
    "TARGETS",
    "Disagreement",
    "c_backend",
    "differential",
    "encode_columns",
    "norm",
    "rows_seed",
]


class Disagreement(AssertionError):
    """The C and pure backends gave different results for the same input."""


def c_backend() -> ModuleType:
    """The C backend; fuzzing without it would compare pure Python with itself."""
    c = mywire._backend.load_c()
    if c is None:
        raise RuntimeError("the C extension mywire._cwire is not built: nothing to compare")
    return c


# ------------------------------------------------------------------ normalising


def norm(x: object) -> object:
    """A comparable, deterministic form of a result (events, rows, values)."""
    if x is None or isinstance(x, (bool, bytes, str)):
        return x
    if isinstance(x, enum.Enum):
        return (type(x).__name__, x.value)
    if isinstance(x, int):
        return x
    if isinstance(x, float):  # by repr: tells -0.0 from 0.0 and compares nan to nan
        return ("float", repr(x))
    if isinstance(x, Decimal):
        return ("Decimal", str(x))
    if isinstance(x, (bytearray, memoryview)):
        return ("buf", bytes(x) if isinstance(x, bytearray) else tuple(x.tolist()))
    if isinstance(x, Rows):
        # The buffer a Rows event points into is an implementation detail; the rows are not.
        return ("Rows", x.rows)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (
            type(x).__name__,
            tuple((f.name, norm(getattr(x, f.name))) for f in dataclasses.fields(x)),
        )
    if isinstance(x, (tuple, list)):
        return tuple(norm(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted((repr(k), norm(v)) for k, v in x.items()))
    return (type(x).__name__, repr(x))


Outcome = tuple[str, object]


def _outcome(call: Callable[[], object]) -> Outcome:
    try:
        return "ok", norm(call())
    except MywireError as exc:
        return "error", (type(exc).__name__, str(exc))


def differential(call: Callable[[], object]) -> Outcome:
    """Run ``call`` on the C backend and on the pure backend; return the common outcome.

    Raises:
        Disagreement: the outcomes differ.
    Any exception that is not a MywireError propagates (a finding).
    """
    saved = mywire._backend.IMPL
    outcomes: list[Outcome] = []
    try:
        for impl in (c_backend(), mywire._backend.PURE):
            mywire._backend.IMPL = impl
            outcomes.append(_outcome(call))
    finally:
        mywire._backend.IMPL = saved
    if outcomes[0] != outcomes[1]:
        raise Disagreement(f"C: {outcomes[0]!r}\npure: {outcomes[1]!r}")
    return outcomes[0]


# --------------------------------------------------------------------- options

#: Capability sets the packet targets parse under (picked by a control byte).
CAPABILITIES: tuple[int, ...] = (
    int(DEFAULT_CLIENT_CAPABILITIES),
    int(DEFAULT_CLIENT_CAPABILITIES) & ~int(C.CLIENT_DEPRECATE_EOF),
    int(DEFAULT_SERVER_CAPABILITIES),
    int(C.CLIENT_PROTOCOL_41),
    0xFFFFFFFF,
    (int(DEFAULT_CLIENT_CAPABILITIES) & ~int(C.CLIENT_MYSQL)),
    0xFFFFFFFFFFFFFFFF & ~int(C.CLIENT_MYSQL),
    0,
)

#: Collation ids for fuzzed columns: binary, utf8mb4, utf8mb3, latin1 x2, latin2, unknown.
CHARSETS: tuple[int, ...] = (63, 45, 33, 8, 5, 9, 9999, 224)

#: Control bytes that make each target read its input as plain protocol bytes; the corpus
#: builder puts them in front of the captured bytes.
SEED_PREFIX: dict[str, bytes] = {
    "framing": b"\x00\x00",
    "handshake": b"\x00",
    "generic": b"\x00\x00",
    "coldef": b"\x01\x00",
    "command": b"\x00",
    "client": b"\x00\x00\x00",
    "server": b"\x00\x00\x00",
}

_MAX_PAYLOADS = (1 << 30, 0xFFFFFF, 100, 5)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    if size <= 0:
        if data:
            yield data
        return
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _feed(
    conn: ClientConnection | ServerConnection,
    stream: bytes,
    chunk: int,
    drain: Callable[[], bool],
    log: list[object],
) -> list[object]:
    """Feed ``stream`` to ``conn`` in pieces of ``chunk`` bytes, then the end of the
    stream, calling ``drain`` after each (it returns False to stop); a mywire error ends
    the log."""
    try:
        for piece in _chunks(stream, chunk):
            conn.receive_data(piece)
            if not drain():
                return log
        conn.receive_data(b"")
        drain()
    except MywireError as exc:
        log.append(("error", type(exc).__name__, str(exc)))
    return log


# --------------------------------------------------------------------- framing


def _read_all(
    reader: PacketReader | CompressedPacketReader, data: bytes, chunk: int, how: int
) -> list[object]:
    out: list[object] = []

    def drain() -> None:
        for _ in range(100_000):
            if how == 1 and isinstance(reader, PacketReader):
                got = reader.read_payloads(7)
                out.extend(got)
                if not got:
                    return
            elif how >= 2 and isinstance(reader, PacketReader):
                run = reader.read_rows(5, ROWS_EOF if how == 2 else ROWS_DEPRECATE_EOF)
                if run is None:
                    p = reader.next_payload()
                    if p is None:
                        return
                    out.append(p)
                else:
                    spans = run.spans.tolist()
                    out.append(("rows", run.nrows, [run.data[o : o + n] for o, n in _pairs(spans)]))
            else:
                p = reader.next_payload()
                if p is None:
                    return
                out.append(p)

    for piece in _chunks(data, chunk):
        reader.feed(piece)
        drain()
    reader.feed(b"")
    drain()
    return out


def _pairs(spans: list[int]) -> Iterator[tuple[int, int]]:
    return zip(spans[0::2], spans[1::2], strict=True)


def target_framing(data: bytes) -> None:
    """PacketReader (or CompressedPacketReader) fed arbitrary bytes in chunks.

    Control: byte 0 = max_payload (bits 0-1), unchecked sequence ids (bit 2),
    compressed frames (bit 3), read API (bits 4-5: next_payload, read_payloads,
    read_rows EOF, read_rows DEPRECATE_EOF); byte 1 = chunk size (0: all at once).
    """
    if len(data) < 2:
        return
    flags, chunk, stream = data[0], data[1], data[2:]
    max_payload = _MAX_PAYLOADS[flags & 3]
    seq = None if flags & 4 else 0
    how = (flags >> 4) & 3

    def run() -> object:
        reader: PacketReader | CompressedPacketReader
        if flags & 8:
            reader = CompressedPacketReader(max_payload=max_payload, seq=seq)
        else:
            reader = PacketReader(max_payload=max_payload, seq=seq)
        return _read_all(reader, stream, chunk, how)

    differential(run)


# --------------------------------------------------------------------- packets


def target_handshake(data: bytes) -> None:
    """The connection-phase parsers: greeting, client hello, auth switch / more / factor."""
    if not data:
        return
    parsers: tuple[Callable[[bytes], object], ...] = (
        phs.parse_handshake,
        phs.parse_client_hello,
        phs.parse_auth_switch_request,
        phs.parse_auth_more_data,
        phs.parse_auth_next_factor,
        phs.parse_handshake_response,
    )
    parse, payload = parsers[data[0] % len(parsers)], data[1:]
    differential(lambda: parse(payload))


def target_generic(data: bytes) -> None:
    """OK / ERR / EOF (and the session-state tracker inside OK) under a capability set."""
    if len(data) < 2:
        return
    which, caps, payload = data[0] % 4, CAPABILITIES[data[1] % len(CAPABILITIES)], data[2:]
    if which == 0:
        differential(lambda: pgen.parse_ok(payload, caps))
    elif which == 1:
        differential(lambda: pgen.parse_err(payload))
    elif which == 2:
        differential(lambda: pgen.parse_eof(payload, caps))
    else:
        differential(lambda: pgen.is_eof(payload))


def target_coldef(data: bytes) -> None:
    """Column count, column definition (plain and COM_FIELD_LIST), COM_STMT_PREPARE OK."""
    if len(data) < 2:
        return
    which, caps, payload = data[0] % 4, CAPABILITIES[data[1] % len(CAPABILITIES)], data[2:]
    if which == 0:
        differential(lambda: prs.parse_column_count(payload, caps))
    elif which == 1:
        differential(lambda: prs.parse_column_definition(payload, caps))
    elif which == 2:
        differential(lambda: prs.parse_column_definition(payload, caps, field_list=True))
    else:
        differential(lambda: pprep.parse_prepare_ok(payload))


def target_command(data: bytes) -> None:
    """Command-phase packets as the server role parses them (COM_* with their arguments)."""
    if not data:
        return
    caps, payload = CAPABILITIES[data[0] % len(CAPABILITIES)], data[1:]
    differential(lambda: pcmd.parse_command(payload, caps))


# ------------------------------------------------------------------------ rows

_COLUMN_BYTES = 4


def encode_columns(columns: tuple[ColumnDefinition, ...]) -> bytes:
    """The control bytes that make :func:`decode_columns` return (about) ``columns``."""
    out = bytearray([len(columns)])
    for c in columns:
        cs = CHARSETS.index(c.character_set) if c.character_set in CHARSETS else 6
        bits = (1 if c.flags & 0x20 else 0) | (2 if c.extended_type == "json" else 0)
        bits |= 4 if c.flags & 0x80 else 0
        out += bytes((c.type & 0xFF, cs, bits, c.decimals & 0xFF))
    return bytes(out)


def decode_columns(data: bytes) -> tuple[tuple[ColumnDefinition, ...], bytes]:
    """Columns from control bytes: a count (mod 17), then 4 bytes per column."""
    if not data:
        return (), b""
    n = data[0] % 17
    cols = []
    pos = 1
    for i in range(n):
        spec = data[pos : pos + _COLUMN_BYTES].ljust(_COLUMN_BYTES, b"\x00")
        pos += _COLUMN_BYTES
        t, cs, bits, decimals = spec
        cols.append(
            ColumnDefinition(
                name=f"c{i}",
                character_set=CHARSETS[cs % len(CHARSETS)],
                type=t,
                flags=(0x20 if bits & 1 else 0) | (0x80 if bits & 4 else 0),
                decimals=decimals,
                extended_type="json" if bits & 2 else None,
            )
        )
    return tuple(cols), data[pos:]


def split_rows(data: bytes) -> list[bytes]:
    """Row payloads from a 2-byte little-endian length before each (the last one cut)."""
    rows: list[bytes] = []
    pos = 0
    while pos < len(data) and len(rows) < 64:
        n = int.from_bytes(data[pos : pos + 2], "little")
        rows.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return rows


def rows_seed(columns: tuple[ColumnDefinition, ...], rows: list[bytes], options: int = 0) -> bytes:
    """A seed for the row and transcoder targets: options byte, columns, framed rows."""
    return (
        bytes((options,))
        + encode_columns(columns)
        + b"".join(len(r).to_bytes(2, "little") + r for r in rows)
    )


def _spans(rows: list[bytes]) -> tuple[bytes, list[int]]:
    spans: list[int] = []
    pos = 0
    for r in rows:
        spans += (pos, len(r))
        pos += len(r)
    return b"".join(rows), spans


def _rows_input(data: bytes) -> tuple[int, tuple[ColumnDefinition, ...], list[bytes]]:
    if not data:
        return 0, (), []
    columns, rest = decode_columns(data[1:])
    return data[0], columns, split_rows(rest)


def _decode(binary: bool) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        _, columns, rows = _rows_input(data)
        buf, spans = _spans(rows)
        differential(lambda: mywire._backend.IMPL.decode_rows(columns, buf, spans, binary=binary))

    target.__doc__ = f"decode_rows over {'binary' if binary else 'text'}-protocol rows."
    return target


target_text_rows = _decode(False)
target_binary_rows = _decode(True)


def _transcoder(fmt_name: str) -> Callable[[bytes], None]:
    fmt = T.FORMATS[fmt_name]

    def target(data: bytes) -> None:
        options, columns, rows = _rows_input(data)
        binary = bool(options & 1)
        int64_as_string, decimal_as_number, sep = bool(options & 2), bool(options & 4), False
        sep = bool(options & 8)
        budget = (1 << 62) if not options & 0x10 else 64 + 16 * (options >> 5)
        buf, spans = _spans(rows)
        first = (options >> 5) % (len(rows) + 1)
        tspec = T.tspec_for(columns, int64_as_string, decimal_as_number)

        def rows_call() -> object:
            return mywire._backend.IMPL.transcode_rows(
                tspec,
                buf,
                spans,
                first,
                len(rows) - first,
                binary=binary,
                fmt=fmt,
                sep=sep,
                budget=budget,
            )

        differential(rows_call)

        def document() -> object:
            multi = bool(options & 0x40) and fmt_name != "psdb"
            tc = Transcoder(
                fmt_name,
                multi=multi,
                int64_as_string=int64_as_string,
                decimal_as_number=decimal_as_number,
                max_rows=None if not options & 0x80 else 2,
            )
            out = [tc.feed(ResultsetStart(columns=columns, binary=binary))]
            out.append(tc.feed(Rows(data=buf, spans=spans)))
            out.append(tc.feed(ResultsetEnd(status_flags=2)))
            out.append(tc.finish())
            return b"".join(out), tc.stopped

        differential(document)

    target.__doc__ = f"transcode_rows and the Transcoder document for {fmt_name}."
    return target


target_transcode_json = _transcoder("json")
target_transcode_ndjson = _transcoder("ndjson")
target_transcode_msgpack = _transcoder("msgpack")
target_transcode_psdb = _transcoder("psdb")


# ------------------------------------------------------------------ connections

_MAX_EVENTS = 2000


def _client_run(options: int, chunk: int, plan: int, stream: bytes) -> object:
    caps = CAPABILITIES[options % 3]
    client = ClientConnection(
        user="fuzz",
        password=b"secret",
        database="db" if options & 8 else None,
        capabilities=caps,
        compress=bool(options & 16),
        tls=bool(options & 32),
        allow_cleartext=bool(options & 64),
        max_payload=_MAX_PAYLOADS[(options >> 6) & 1],
    )
    log: list[object] = []
    commands = 0

    def act(ev: Event) -> None:
        nonlocal commands
        if isinstance(ev, Handshake):
            if client.wants_tls and client.capabilities & C.CLIENT_SSL:
                log.append(("sent", client.ssl_request()))
                client.tls_started()
            log.append(("sent", len(client.handshake_response())))
        elif isinstance(ev, (AuthSwitchRequest, AuthMoreData, AuthNextFactor)):
            # RSA padding is random: compare the reply's presence, not its bytes.
            log.append(("sent", len(client.auth_reply()) > 0))
        elif client.state.value == "ready":
            commands += 1
            which = (plan >> (2 * (commands % 4))) & 3
            if which == 0:
                log.append(("sent", client.query("SELECT 1")))
            elif which == 1:
                log.append(("sent", client.send(StmtPrepare(sql="SELECT ?"))))
            elif which == 2:
                log.append(("sent", client.send(StmtExecute(statement_id=1, params=b""))))
            else:
                log.append(("sent", client.ping()))

    def drain() -> bool:
        for _ in range(_MAX_EVENTS):
            ev = client.next_event()
            if isinstance(ev, NeedData):
                return True
            log.append(ev)
            if isinstance(ev, ConnectionClosed):
                return False
            act(ev)
        return False

    return _feed(client, stream, chunk, drain, log)


def target_client(data: bytes) -> None:
    """A ClientConnection fed a server byte stream, answering as a client would.

    Control: byte 0 = capabilities, database, compression, TLS, cleartext, max_payload;
    byte 1 = chunk size; byte 2 = which commands to send when idle.
    """
    if len(data) < 3:
        return
    differential(lambda: _client_run(data[0], data[1], data[2], data[3:]))


def _server_run(options: int, chunk: int, plan: int, stream: bytes) -> object:
    caps = CAPABILITIES[(options % 3)] | int(DEFAULT_SERVER_CAPABILITIES)
    if options & 8:
        caps |= int(C.CLIENT_SSL)
    if options & 16:
        caps &= ~int(C.CLIENT_DEPRECATE_EOF)
    server = ServerConnection(capabilities=caps, max_payload=_MAX_PAYLOADS[(options >> 6) & 1])
    log: list[object] = [server.greet(scramble=b"0123456789abcdefghij", connection_id=7)]
    answers = 0
    col = ColumnDefinition(name="c", character_set=45, type=253, flags=0, decimals=0)

    def act(ev: Event) -> None:
        nonlocal answers
        if isinstance(ev, SSLRequest):
            server.tls_started()
            return
        if isinstance(ev, (HandshakeResponse, AuthResponse)):
            if plan & 1 and isinstance(ev, HandshakeResponse):
                log.append(server.auth_switch("mysql_native_password", b"x" * 20))
            else:
                log.append(server.ok())
            return
        answers += 1
        which = (plan >> (1 + answers % 3)) & 3
        if which == 0:
            log.append(server.ok())
        elif which == 1:
            log.append(server.err(1064, "bad"))
        else:
            log.append(server.resultset([col], [b"\x01a", b"\xfb"]))

    def drain() -> bool:
        for _ in range(_MAX_EVENTS):
            ev = server.next_event()
            if isinstance(ev, NeedData):
                return True
            log.append(ev)
            if isinstance(ev, ConnectionClosed):
                return False
            try:
                act(ev)
            except MywireError as exc:  # e.g. answering a command that expects none
                log.append(("send refused", type(exc).__name__, str(exc)))
        return False

    return _feed(server, stream, chunk, drain, log)


def target_server(data: bytes) -> None:
    """A ServerConnection fed a client byte stream, answering OK / ERR / a resultset.

    Control: byte 0 = capabilities, TLS, classic EOF, max_payload; byte 1 = chunk size;
    byte 2 = how to answer.
    """
    if len(data) < 3:
        return
    differential(lambda: _server_run(data[0], data[1], data[2], data[3:]))


#: Every target by name (the names fuzz/run.sh and fuzz/fuzz.py take).
TARGETS: dict[str, Callable[[bytes], None]] = {
    "framing": target_framing,
    "handshake": target_handshake,
    "generic": target_generic,
    "coldef": target_coldef,
    "command": target_command,
    "text_rows": target_text_rows,
    "binary_rows": target_binary_rows,
    "transcode_json": target_transcode_json,
    "transcode_ndjson": target_transcode_ndjson,
    "transcode_msgpack": target_transcode_msgpack,
    "transcode_psdb": target_transcode_psdb,
    "client": target_client,
    "server": target_server,
}
