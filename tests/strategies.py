"""Hypothesis strategies for wire primitives, formats, packet streams and chunking.

Sizes stay small by default so a property test costs milliseconds per example; the
16 MiB continuation logic is reached either with :func:`payload_sizes` ``(big=True)``
in tests that run a handful of examples, or through ``scan_packets``' ``partial``
argument in the differential tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from hypothesis import strategies as st

from mywire import Payload
from mywire.events import (
    AuthMoreData,
    AuthNextFactor,
    AuthSwitchRequest,
    ChangeUser,
    Command,
    Debug,
    Eof,
    Err,
    FieldList,
    Handshake,
    HandshakeResponse,
    InitDb,
    Ok,
    Ping,
    ProcessKill,
    Progress,
    Query,
    QueryAttribute,
    Quit,
    ResetConnection,
    SessionState,
    SetOption,
    SSLRequest,
    Statistics,
    StmtClose,
    StmtExecute,
    StmtFetch,
    StmtPrepare,
    StmtReset,
    StmtSendLongData,
    UnknownCommand,
)
from mywire.packets.generic import session_state

from helpers import MAX_PACKET, hand_stream, header

Value = int | bytes | None

# Where the length-encoded integer changes width (1, 3, 4 or 9 bytes) and the extremes.
LENENC_BOUNDARIES = (0, 250, 251, 0xFFFF, 0x10000, 0xFFFFFF, 0x1000000, 2**64 - 1)
NEAR_LENENC_BOUNDARIES = tuple(
    sorted({v + d for v in LENENC_BOUNDARIES for d in (-1, 0, 1) if 0 <= v + d < 2**64})
)

FIXED_WIDTHS = {"B": 1, "H": 2, "T": 3, "I": 4, "W": 6, "Q": 8}


def lenenc_ints() -> st.SearchStrategy[int]:
    """Integers for L/K, concentrated at the width boundaries, each band also covered."""
    return st.one_of(
        st.sampled_from(NEAR_LENENC_BOUNDARIES),
        st.integers(0, 250),
        st.integers(251, 0xFFFF),
        st.integers(0x10000, 0xFFFFFF),
        st.integers(0x1000000, 2**64 - 1),
    )


def fixed_ints(code: str) -> st.SearchStrategy[int]:
    """Values for a fixed-width integer code, with its extremes emphasised."""
    top = (1 << (8 * FIXED_WIDTHS[code])) - 1
    return st.one_of(st.sampled_from((0, 1, top - 1, top)), st.integers(0, top))


def lenenc_strings() -> st.SearchStrategy[bytes]:
    """Strings for S/R whose lengths hit the 1- and 3-byte prefix boundaries."""
    return st.one_of(
        st.binary(max_size=20),
        st.binary(min_size=249, max_size=253),
        st.sampled_from((0xFFFF, 0x10000)).map(lambda n: b"\xa5" * n),
    )


def nul_free() -> st.SearchStrategy[bytes]:
    return st.binary(max_size=30).map(lambda b: b.replace(b"\0", b"\x01"))


@st.composite
def format_items(draw: st.DrawFn, *, with_values: bool = True) -> tuple[str, tuple[Value, ...]]:
    """A valid format string and, if asked, a tuple of values that fits it.

    Counts (``3S``), lengths (``5s``), fillers (``2x``), spaces between items and a
    final ``E`` all appear.
    """
    tokens: list[str] = []
    values: list[Value] = []
    codes = st.sampled_from("BHTIWQLKSRZsx")
    for code in draw(st.lists(codes, max_size=8)):
        if code in "sx":
            n = draw(st.integers(0, 12))
            tokens.append(f"{n}{code}" if n != 1 or draw(st.booleans()) else code)
            if code == "s" and with_values:
                values.append(draw(st.binary(min_size=n, max_size=n)))
            continue
        count = draw(st.integers(1, 3))
        tokens.append(f"{count}{code}" if count > 1 or draw(st.booleans()) else code)
        if with_values:
            values.extend(draw(field_value(code)) for _ in range(count))
    if draw(st.booleans()):
        tokens.append("E")
        if with_values:
            values.append(draw(st.binary(max_size=30)))
    seps = [draw(st.sampled_from(("", "", " "))) for _ in tokens]
    fmt = "".join(sep + tok for sep, tok in zip(seps, tokens, strict=True))
    return fmt, tuple(values)


def formats() -> st.SearchStrategy[str]:
    """Valid format strings (no values)."""
    return format_items(with_values=False).map(lambda fv: fv[0])


def field_value(code: str) -> st.SearchStrategy[Value]:
    if code in FIXED_WIDTHS:
        return fixed_ints(code)
    if code == "L":
        return lenenc_ints()
    if code == "K":
        return st.one_of(st.none(), lenenc_ints())
    if code == "S":
        return lenenc_strings()
    if code == "R":
        return st.one_of(st.none(), lenenc_strings())
    if code == "Z":
        return nul_free()
    raise ValueError(code)


def payload_sizes(*, big: bool = False) -> st.SearchStrategy[int]:
    """Payload lengths: small ones by default; with ``big``, around multiples of 0xFFFFFF."""
    if big:
        return st.sampled_from(tuple(k * MAX_PACKET + d for k in (1, 2) for d in (-1, 0, 1)))
    return st.one_of(st.sampled_from((0, 1, 250, 251, 252)), st.integers(0, 300))


def payloads(*, max_size: int = 300) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=max_size),
        payload_sizes().map(lambda n: bytes(i % 251 for i in range(n))),
    )


def split_points(length: int, *, max_cuts: int = 20) -> st.SearchStrategy[list[int]]:
    """Sorted, distinct offsets strictly inside a stream of ``length`` bytes."""
    if length < 2:
        return st.just([])
    return st.lists(st.integers(1, length - 1), max_size=max_cuts, unique=True).map(sorted)


@st.composite
def streams(
    draw: st.DrawFn, *, max_payloads: int = 8, seq: int | None = None
) -> tuple[bytes, list[Payload], int]:
    """A well-formed packet stream, its expected payloads, and the first sequence id."""
    first = draw(st.integers(0, 255)) if seq is None else seq
    items = draw(st.lists(payloads(), max_size=max_payloads))
    stream, expected = hand_stream(items, first)
    return stream, expected, first


@st.composite
def streams_with_cuts(
    draw: st.DrawFn, *, max_payloads: int = 8
) -> tuple[bytes, list[Payload], int, list[int]]:
    stream, expected, first = draw(streams(max_payloads=max_payloads))
    return stream, expected, first, draw(split_points(len(stream)))


@st.composite
def rough_streams(draw: st.DrawFn) -> bytes:
    """Mostly packet-shaped bytes with wrong sequence ids, lying lengths and junk mixed in.

    Arbitrary bytes rarely look like packets; these reach the sequence, size and
    truncation checks far more often.
    """
    parts: list[bytes] = []
    seq = draw(st.integers(0, 255))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(("good", "good", "good", "badseq", "lie", "junk", "big")))
        body = draw(st.binary(max_size=40))
        if kind == "junk":
            parts.append(body)
            continue
        n = len(body)
        if kind == "lie":
            n = draw(st.integers(0, 60))
        elif kind == "big":
            n = draw(st.sampled_from((MAX_PACKET, MAX_PACKET - 1, 1 << 20, 1000)))
        s = draw(st.integers(0, 255)) if kind == "badseq" else seq
        parts.append(header(n, s) + body)
        seq = (s + 1) % 256
    return b"".join(parts)


def arbitrary_streams() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=200), rough_streams())


def cut_list(stream: bytes, cuts: Sequence[int]) -> list[bytes]:
    """The pieces of ``stream`` between the cut points (for drivers that want pieces)."""
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in pairwise(bounds)]


# ------------------------------------------------------------------------------------
# Packet events: what each builder in mywire.packets accepts (see its Raises section)
# ------------------------------------------------------------------------------------
# Capability bits by hand, from the protocol documentation's Capabilities Flags page.
_CLIENT_MYSQL = 1 << 0
_CLIENT_CONNECT_WITH_DB = 1 << 3
_CLIENT_PROTOCOL_41 = 1 << 9
_CLIENT_SSL = 1 << 11
_CLIENT_TRANSACTIONS = 1 << 13
_CLIENT_SECURE_CONNECTION = 1 << 15
_CLIENT_PLUGIN_AUTH = 1 << 19
_CLIENT_CONNECT_ATTRS = 1 << 20
_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
_CLIENT_SESSION_TRACK = 1 << 23
_CLIENT_ZSTD_COMPRESSION_ALGORITHM = 1 << 26
_CLIENT_QUERY_ATTRIBUTES = 1 << 27
_SERVER_SESSION_STATE_CHANGED = 1 << 14
# The COM_* bytes mywire decodes into their own event (every type in events.Command but
# UnknownCommand); any other byte is an UnknownCommand.
DECODED_COMMAND_BYTES = frozenset(
    (0x01, 0x02, 0x03, 0x04, 0x09, 0x0C, 0x0D, 0x0E, 0x11)
    + (0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1F)
)


def uints(nbytes: int) -> st.SearchStrategy[int]:
    """Unsigned integers of ``nbytes`` bytes, extremes emphasised."""
    top = (1 << (8 * nbytes)) - 1
    return st.one_of(st.sampled_from((0, 1, top)), st.integers(0, top))


def wire_texts(*, max_size: int = 20, nul: bool = True) -> st.SearchStrategy[str]:
    """Text that survives str -> bytes -> str: any str without surrogates (UTF-8), or any
    byte string decoded with surrogateescape (what the parsers produce).  ``nul=False``
    keeps NUL out, for NUL-terminated fields."""
    texts = st.one_of(
        st.text(max_size=max_size),
        st.binary(max_size=max_size).map(lambda b: b.decode("utf-8", "surrogateescape")),
    )
    return texts if nul else texts.map(lambda t: t.replace("\0", "\x01"))


def nul_free_bytes(max_size: int = 40) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=max_size).map(lambda b: b.replace(b"\0", b"\x01"))


@st.composite
def capabilities(draw: st.DrawFn, *, require: int = 0) -> int:
    """64-bit capability values: MariaDB's extended word (bits 32..63) only when
    CLIENT_MYSQL (bit 0) is clear, as the greeting and the response carry it."""
    caps = draw(st.integers(0, 2**32 - 1)) | require
    if not caps & _CLIENT_MYSQL:
        caps |= draw(uints(4)) << 32
    return caps


@st.composite
def handshakes(draw: st.DrawFn) -> Handshake:
    caps = draw(capabilities())
    if not caps & _CLIENT_SECURE_CONNECTION:
        n = 8
    elif not caps & _CLIENT_PLUGIN_AUTH:
        n = 20
    else:
        # The length byte holds len + 1, so 254 is the longest scramble it can describe.
        n = draw(st.sampled_from((8, 20, 21, 254)) | st.integers(8, 254))
    plugin = draw(wire_texts(nul=False)) if caps & _CLIENT_PLUGIN_AUTH else None
    return Handshake(
        server_version=draw(wire_texts(nul=False)),
        connection_id=draw(uints(4)),
        auth_plugin_data=draw(st.binary(min_size=n, max_size=n)),
        capabilities=caps,
        character_set=draw(uints(1)),
        status_flags=draw(uints(2)),
        auth_plugin_name=plugin,
    )


@st.composite
def ssl_requests(draw: st.DrawFn) -> SSLRequest:
    return SSLRequest(
        capabilities=draw(capabilities(require=_CLIENT_PROTOCOL_41 | _CLIENT_SSL)),
        max_packet_size=draw(uints(4)),
        character_set=draw(uints(1)),
    )


def connect_attributes() -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    return st.lists(st.tuples(wire_texts(), wire_texts()), max_size=4).map(tuple)


@st.composite
def handshake_responses(draw: st.DrawFn) -> HandshakeResponse:
    """Every layout: lenenc / 1-byte-length / NUL-terminated auth data, and each optional
    field present exactly when its capability is set (the builder writes an absent value
    empty, so None comes back as "")."""
    caps = draw(capabilities(require=_CLIENT_PROTOCOL_41))
    if caps & _CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        auth = draw(st.binary(max_size=20) | st.binary(min_size=250, max_size=300))
    elif caps & _CLIENT_SECURE_CONNECTION:
        auth = draw(st.binary(max_size=20) | st.binary(min_size=254, max_size=255))
    else:
        auth = draw(nul_free_bytes())
    return HandshakeResponse(
        capabilities=caps,
        max_packet_size=draw(uints(4)),
        character_set=draw(uints(1)),
        username=draw(wire_texts(nul=False)),
        auth_response=auth,
        database=draw(wire_texts(nul=False)) if caps & _CLIENT_CONNECT_WITH_DB else None,
        auth_plugin_name=draw(wire_texts(nul=False)) if caps & _CLIENT_PLUGIN_AUTH else None,
        attributes=draw(connect_attributes()) if caps & _CLIENT_CONNECT_ATTRS else (),
        zstd_level=draw(uints(1)) if caps & _CLIENT_ZSTD_COMPRESSION_ALGORITHM else None,
    )


def auth_switch_requests() -> st.SearchStrategy[AuthSwitchRequest]:
    return st.builds(
        AuthSwitchRequest, plugin_name=wire_texts(nul=False), data=st.binary(max_size=40)
    )


def auth_more_datas() -> st.SearchStrategy[AuthMoreData]:
    return st.builds(AuthMoreData, data=st.binary(max_size=40))


def auth_next_factors() -> st.SearchStrategy[AuthNextFactor]:
    return st.builds(AuthNextFactor, plugin_name=wire_texts(nul=False), data=st.binary(max_size=40))


@st.composite
def session_states(draw: st.DrawFn) -> SessionState:
    """Entries of every SESSION_TRACK_* type (0..5) and of unknown types, built with
    ``generic.session_state``."""
    kind = draw(st.integers(0, 5) | st.integers(6, 255))
    if kind == 0:  # SESSION_TRACK_SYSTEM_VARIABLES: name and value
        return session_state(kind, draw(wire_texts()), draw(wire_texts()))
    if kind <= 5:  # schema, state change, GTIDs, characteristics, transaction state
        return session_state(kind, draw(wire_texts()))
    return session_state(kind, *draw(st.lists(st.binary(max_size=10), max_size=3)))


@st.composite
def oks(draw: st.DrawFn) -> tuple[Ok, int]:
    """An OK packet and the capabilities it is built with (PROTOCOL_41, TRANSACTIONS and
    SESSION_TRACK each change the layout)."""
    caps = draw(st.integers(0, 2**32 - 1))
    p41 = caps & _CLIENT_PROTOCOL_41
    status = draw(uints(2)) if p41 or caps & _CLIENT_TRANSACTIONS else 0
    states: tuple[SessionState, ...] = ()
    if caps & _CLIENT_SESSION_TRACK and status & _SERVER_SESSION_STATE_CHANGED:
        states = tuple(draw(st.lists(session_states(), max_size=4)))
    ok = Ok(
        affected_rows=draw(lenenc_ints()),
        last_insert_id=draw(lenenc_ints()),
        status_flags=status,
        warnings=draw(uints(2)) if p41 else 0,
        info=draw(wire_texts() | st.text(min_size=251, max_size=260)),
        session_state=states,
        eof=draw(st.booleans()),
    )
    return ok, caps


SQLSTATE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def errs(draw: st.DrawFn) -> Err:
    """ERR packets with and without SQL state.  Without one, a message starting with '#'
    would read back as a state (see the ambiguity test), so it is avoided here."""
    sqlstate = draw(st.just("") | st.text(SQLSTATE_CHARS, min_size=5, max_size=5))
    message = draw(wire_texts(max_size=40))
    if not sqlstate and message.startswith("#"):
        message = "x" + message
    return Err(code=draw(st.integers(0, 0xFFFE)), message=message, sqlstate=sqlstate)


def progresses() -> st.SearchStrategy[Progress]:
    return st.builds(
        Progress, stage=uints(1), max_stage=uints(1), progress=uints(3), state=wire_texts()
    )


@st.composite
def eofs(draw: st.DrawFn) -> tuple[Eof, int]:
    caps = draw(st.integers(0, 2**32 - 1))
    if caps & _CLIENT_PROTOCOL_41:
        return Eof(warnings=draw(uints(2)), status_flags=draw(uints(2))), caps
    return Eof(), caps


@st.composite
def _query(draw: st.DrawFn, caps: int) -> Query:
    attrs = None
    if caps & _CLIENT_QUERY_ATTRIBUTES:
        values = st.none() | wire_texts()
        attrs = tuple(
            draw(st.lists(st.builds(QueryAttribute, name=wire_texts(), value=values), max_size=9))
        )
    return Query(sql=draw(wire_texts(max_size=40)), attributes=attrs)


@st.composite
def _change_user(draw: st.DrawFn, caps: int) -> ChangeUser:
    if caps & _CLIENT_SECURE_CONNECTION:
        auth = draw(st.binary(max_size=32) | st.binary(min_size=255, max_size=255))
    else:
        auth = draw(nul_free_bytes())
    charset = draw(st.none() | uints(2))
    plugin = None
    attributes: tuple[tuple[str, str], ...] = ()
    if charset is not None:
        if caps & _CLIENT_PLUGIN_AUTH:
            plugin = draw(wire_texts(nul=False))
        if caps & _CLIENT_CONNECT_ATTRS:
            attributes = draw(connect_attributes())
    return ChangeUser(
        username=draw(wire_texts(nul=False)),
        auth_response=auth,
        database=draw(wire_texts(nul=False)),
        character_set=charset,
        auth_plugin_name=plugin,
        attributes=attributes,
    )


def command_strategies(caps: int) -> dict[type[object], st.SearchStrategy[Command]]:
    """One strategy per command type, for the given capabilities."""
    unknown = st.integers(0, 255).filter(lambda b: b not in DECODED_COMMAND_BYTES)
    return {
        Quit: st.just(Quit()),
        Statistics: st.just(Statistics()),
        Debug: st.just(Debug()),
        Ping: st.just(Ping()),
        ResetConnection: st.just(ResetConnection()),
        InitDb: st.builds(InitDb, schema=wire_texts()),
        Query: _query(caps),
        FieldList: st.builds(FieldList, table=wire_texts(nul=False), wildcard=wire_texts()),
        ProcessKill: st.builds(ProcessKill, connection_id=uints(4)),
        SetOption: st.builds(SetOption, option=uints(2)),
        ChangeUser: _change_user(caps),
        StmtPrepare: st.builds(StmtPrepare, sql=wire_texts()),
        StmtExecute: st.builds(
            StmtExecute,
            statement_id=uints(4),
            flags=uints(1),
            iteration_count=uints(4),
            params=st.binary(max_size=30),
        ),
        StmtSendLongData: st.builds(
            StmtSendLongData, statement_id=uints(4), param_id=uints(2), data=st.binary()
        ),
        StmtClose: st.builds(StmtClose, statement_id=uints(4)),
        StmtReset: st.builds(StmtReset, statement_id=uints(4)),
        StmtFetch: st.builds(StmtFetch, statement_id=uints(4), num_rows=uints(4)),
        UnknownCommand: st.builds(UnknownCommand, command=unknown, data=st.binary(max_size=30)),
    }


@st.composite
def commands(draw: st.DrawFn) -> tuple[Command, int]:
    """Any command (all types equally likely) and the capabilities it is built with."""
    caps = draw(st.integers(0, 2**32 - 1))
    strategies = command_strategies(caps)
    kind = draw(st.sampled_from(sorted(strategies, key=lambda t: t.__name__)))
    return draw(strategies[kind]), caps


# ------------------------------------------------------------------------------------
# Resultset metadata (packets/resultset.py) and statement parameters (packets/prepared.py)
# ------------------------------------------------------------------------------------
import datetime as _dt  # noqa: E402
from decimal import Decimal as _Decimal  # noqa: E402

from mywire.events import ColumnDefinition  # noqa: E402

# MariaDB extended capabilities in the 64-bit value (extended word shifted left by 32).
_MARIADB_CLIENT_EXTENDED_METADATA = 1 << (32 + 3)
_MARIADB_CLIENT_CACHE_METADATA = 1 << (32 + 4)
_CLIENT_OPTIONAL_RESULTSET_METADATA = 1 << 25


def _names() -> st.SearchStrategy[str]:
    """Names, mostly short; sometimes over 250 bytes (a 3-byte length prefix)."""
    return wire_texts() | st.text(min_size=251, max_size=260)


@st.composite
def column_definitions(
    draw: st.DrawFn, *, extended: bool = False, field_list: bool = False
) -> ColumnDefinition:
    """ColumnDefinition41 values; MariaDB extended type/format only with ``extended``,
    a default value (bytes or None) only with ``field_list``."""
    return ColumnDefinition(
        catalog=draw(st.just("def") | wire_texts()),
        schema=draw(_names()),
        table=draw(_names()),
        org_table=draw(_names()),
        name=draw(_names()),
        org_name=draw(_names()),
        character_set=draw(uints(2)),
        column_length=draw(uints(4)),
        type=draw(uints(1)),
        flags=draw(uints(2)),
        decimals=draw(uints(1)),
        extended_type=draw(st.none() | wire_texts()) if extended else None,
        extended_format=draw(st.none() | wire_texts()) if extended else None,
        default_value=draw(st.none() | st.binary(max_size=300)) if field_list else None,
    )


@st.composite
def column_definition_cases(draw: st.DrawFn) -> tuple[ColumnDefinition, int, bool]:
    """A column definition, the capabilities it is built with (CLIENT_PROTOCOL_41 always;
    MARIADB_CLIENT_EXTENDED_METADATA in about half) and whether it answers
    COM_FIELD_LIST."""
    caps = draw(st.integers(0, 2**32 - 1)) | _CLIENT_PROTOCOL_41
    extended = draw(st.booleans())
    if extended:
        caps = (caps & ~_CLIENT_MYSQL) | _MARIADB_CLIENT_EXTENDED_METADATA
        caps |= draw(uints(4)) << 32
    elif not caps & _CLIENT_MYSQL:
        caps |= (draw(uints(4)) << 32) & ~_MARIADB_CLIENT_EXTENDED_METADATA
    field_list = draw(st.booleans())
    return draw(column_definitions(extended=extended, field_list=field_list)), caps, field_list


def metadata_modes() -> st.SearchStrategy[tuple[str, int]]:
    """The three column-count layouts and a capability value selecting each."""
    return st.sampled_from(
        (
            ("plain", _CLIENT_PROTOCOL_41),
            ("mysql", _CLIENT_PROTOCOL_41 | _CLIENT_OPTIONAL_RESULTSET_METADATA),
            ("mariadb", _CLIENT_PROTOCOL_41 | _MARIADB_CLIENT_CACHE_METADATA),
        )
    )


#: Integers at the edges of TINY/SHORT/LONG/LONGLONG and of LONGLONG UNSIGNED.
PARAM_INT_EDGES = tuple(
    sorted(
        v
        for v in {
            v + d for b in (7, 15, 31, 63) for v in (-(1 << b), (1 << b) - 1) for d in (-1, 0, 1)
        }
        | {0, (1 << 64) - 1, (1 << 64) - 2}
        if -(1 << 63) <= v < 1 << 64
    )
)
#: TIME's range: -838:59:59 .. 838:59:59.
TIME_LIMIT = _dt.timedelta(hours=838, minutes=59, seconds=59)
DECIMAL_EDGES = (
    _Decimal("-0.000000000000000000000000000001"),
    _Decimal("0.000000000000000000000000000001"),
    _Decimal("1E+2"),
    _Decimal("-1.5E-7"),
    _Decimal("-0"),
    _Decimal("0.00"),
    _Decimal("99999999999999999999999999999999999.999999999999999999999999999999"),
)


def _decimals() -> st.SearchStrategy[_Decimal]:
    scaled = st.builds(
        lambda i, e: _Decimal(i).scaleb(e),
        st.integers(-(10**40), 10**40),
        st.integers(-40, 20),
    )
    return st.sampled_from(DECIMAL_EDGES) | scaled


def _datetimes() -> st.SearchStrategy[_dt.datetime]:
    """Naive datetimes, including midnight and whole seconds (the 4- and 7-byte forms)."""
    any_dt = st.datetimes()
    return st.one_of(
        any_dt,
        any_dt.map(lambda d: d.replace(microsecond=0)),
        any_dt.map(lambda d: d.replace(hour=0, minute=0, second=0, microsecond=0)),
        st.sampled_from((_dt.datetime.min, _dt.datetime.max, _dt.datetime(1, 1, 1, 0, 0, 0, 1))),
    )


def _times() -> st.SearchStrategy[_dt.time]:
    return st.times() | st.times().map(lambda t: t.replace(microsecond=0)) | st.just(_dt.time())


def _timedeltas() -> st.SearchStrategy[_dt.timedelta]:
    """TIME-range durations, negative ones with days, and the exact limits."""
    edges = (
        TIME_LIMIT,
        -TIME_LIMIT,
        _dt.timedelta(0),
        _dt.timedelta(microseconds=-1),
        _dt.timedelta(days=-3, seconds=5, microseconds=7),
        -_dt.timedelta(minutes=30),
    )
    return st.sampled_from(edges) | st.timedeltas(min_value=-TIME_LIMIT, max_value=TIME_LIMIT)


def param_values() -> st.SearchStrategy[object]:
    """A Python value of every type ``encode_params`` maps, boundaries emphasised."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(PARAM_INT_EDGES) | st.integers(-(1 << 63), (1 << 64) - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        _decimals(),
        st.text(max_size=20) | st.text(min_size=251, max_size=260),
        st.binary(max_size=20),
        st.binary(max_size=20).map(bytearray),
        st.binary(max_size=20).map(lambda b: memoryview(b)),
        st.dates(),
        _datetimes(),
        _times(),
        _timedeltas(),
    )
