"""Generic responses: OK, ERR (and MariaDB's progress report), EOF, session-state changes.

OK: header 0x00 (0xFE when it ends a resultset under CLIENT_DEPRECATE_EOF), length-encoded
affected rows and last insert id (full 64 bits), status flags and warnings (4.1), then the
info string and, with CLIENT_SESSION_TRACK and SERVER_SESSION_STATE_CHANGED, the
session-state block.  Without CLIENT_SESSION_TRACK the documentation says the info is
string<EOF>, but servers write it length-encoded (net_send_ok stores it with
net_store_data); the parser takes it as length-encoded when that reading covers the rest
of the packet exactly, and as string<EOF> otherwise.

ERR: 0xFF, the code, ``#`` and a 5-character SQL state (absent in errors sent before the
capabilities are known), the message.  Code 0xFFFF is MariaDB's progress report.

EOF: 0xFE, warnings and status flags; always shorter than 9 bytes.
"""

from __future__ import annotations

from ..codec import Reader, Writer, unpack_from
from ..constants import Capability as C
from ..constants import ServerStatus, SessionTrack
from ..errors import MalformedPacket
from ..events import Eof, Err, Ok, Progress, SessionState
from ._text import as_bytes, as_int, dec, enc

__all__ = [
    "build_eof",
    "build_err",
    "build_ok",
    "build_progress",
    "is_eof",
    "parse_eof",
    "parse_err",
    "parse_ok",
    "parse_session_state",
    "session_state",
]

_PROGRESS = 0xFFFF


def _header(payload: bytes, allowed: tuple[int, ...], what: str) -> None:
    if not payload:
        raise MalformedPacket(
            "truncated packet: expected a header byte at offset 0, 0 bytes left",
            offset=0,
            expected=what,
        )
    if payload[0] not in allowed:
        raise MalformedPacket(
            f"malformed packet: header 0x{payload[0]:02x} at offset 0",
            offset=0,
            expected=what,
        )


def is_eof(payload: bytes) -> bool:
    """True for a classic EOF packet: 0xFE and shorter than 9 bytes."""
    return len(payload) < 9 and payload[:1] == b"\xfe"


# ------------------------------------------------------------------------ session state


def session_state(kind: int, *parts: str | bytes) -> SessionState:
    """Build a :class:`SessionState` from its decoded parts (system variable: name and
    value; GTIDs: the GTID string; others: their one string)."""
    w = Writer()
    raw = [p if isinstance(p, bytes) else enc(p) for p in parts]
    if kind == SessionTrack.SESSION_TRACK_GTIDS:
        w.int1(0)
    if kind == SessionTrack.SESSION_TRACK_STATE_CHANGE:
        data = b"".join(raw)  # the entry is the bare "1", not a length-encoded string
    else:
        for p in raw:
            w.pack("S", p)
        data = w.getvalue()
    return _decode_state(kind, data, 0, len(data))


def _decode_state(kind: int, buf: bytes, start: int, end: int) -> SessionState:
    """Decode one entry whose data is ``buf[start:end]`` (offsets count from ``buf``)."""
    data = buf[start:end]
    r = Reader(buf[:end], start)
    name = value = None
    if kind == SessionTrack.SESSION_TRACK_SYSTEM_VARIABLES:
        n, v = r.unpack("SS")
        name, value = dec(n), dec(v)
    elif kind == SessionTrack.SESSION_TRACK_GTIDS:
        _, v = r.unpack("BS")
        value = dec(v)
    elif kind == SessionTrack.SESSION_TRACK_STATE_CHANGE:
        # MySQL and MariaDB send the entry as the bare character "1" (Session_state_
        # change_tracker::store writes its length, then '1'), not length-encoded.
        value = dec(r.rest())
    elif kind in (
        SessionTrack.SESSION_TRACK_SCHEMA,
        SessionTrack.SESSION_TRACK_TRANSACTION_CHARACTERISTICS,
        SessionTrack.SESSION_TRACK_TRANSACTION_STATE,
    ):
        value = dec(r.lenenc_str())
    else:
        return SessionState(kind=kind, data=data)
    r.expect_end()
    if kind == SessionTrack.SESSION_TRACK_SCHEMA:
        name, value = value, None
    return SessionState(kind=kind, data=data, name=name, value=value)


def parse_session_state(
    buf: bytes, start: int = 0, end: int | None = None
) -> tuple[SessionState, ...]:
    """Parse the entries (type byte + length-encoded data each) of a session-state block
    lying in ``buf[start:end]``; error offsets count from the start of ``buf``."""
    end = len(buf) if end is None else end
    r = Reader(buf[:end], start)
    out = []
    while not r.at_end():
        kind, data = r.unpack("BS")
        n = len(as_bytes(data))
        out.append(_decode_state(as_int(kind), buf, r.offset - n, r.offset))
    return tuple(out)


# ----------------------------------------------------------------------------------- OK


def parse_ok(payload: bytes, capabilities: int) -> Ok:
    """Parse an OK packet (header 0x00 or 0xFE)."""
    _header(payload, (0x00, 0xFE), "OK header 0x00 or 0xfe")
    r = Reader(payload, 1)
    affected, insert_id = r.unpack("LL")
    status = warnings = 0
    if capabilities & C.CLIENT_PROTOCOL_41:
        v_status, v_warnings = r.unpack("HH")
        status, warnings = as_int(v_status), as_int(v_warnings)
    elif capabilities & C.CLIENT_TRANSACTIONS:
        status = r.int2()
    info = b""
    states: tuple[SessionState, ...] = ()
    if capabilities & C.CLIENT_SESSION_TRACK:
        if not r.at_end():
            info = r.lenenc_str()
        if status & ServerStatus.SERVER_SESSION_STATE_CHANGED and not r.at_end():
            block = r.lenenc_str()
            states = parse_session_state(payload, r.offset - len(block), r.offset)
        r.expect_end()
    elif not r.at_end():
        info = _lenenc_or_rest(r.rest())
    return Ok(
        affected_rows=as_int(affected),
        last_insert_id=as_int(insert_id),
        status_flags=status,
        warnings=warnings,
        info=dec(info),
        session_state=states,
        eof=payload[0] == 0xFE,
    )


def _lenenc_or_rest(rest: bytes) -> bytes:
    """The info string: length-encoded if that reading covers ``rest`` exactly."""
    try:
        (text,), end = unpack_from("S", rest)
    except MalformedPacket:
        return rest
    return as_bytes(text) if end == len(rest) else rest


def build_ok(ok: Ok, capabilities: int) -> bytes:
    """Build an OK packet.

    The info string is length-encoded, as servers send it.  Session-state entries are
    written only with CLIENT_SESSION_TRACK, and need SERVER_SESSION_STATE_CHANGED set.

    Raises:
        ValueError: session-state entries without CLIENT_SESSION_TRACK or without
            SERVER_SESSION_STATE_CHANGED in the status flags.
    """
    w = Writer().pack("BLL", 0xFE if ok.eof else 0x00, ok.affected_rows, ok.last_insert_id)
    if capabilities & C.CLIENT_PROTOCOL_41:
        w.pack("HH", ok.status_flags, ok.warnings)
    elif capabilities & C.CLIENT_TRANSACTIONS:
        w.int2(ok.status_flags)
    info = enc(ok.info)
    if capabilities & C.CLIENT_SESSION_TRACK:
        changed = ok.status_flags & ServerStatus.SERVER_SESSION_STATE_CHANGED
        if ok.session_state and not changed:
            raise ValueError("session-state entries need SERVER_SESSION_STATE_CHANGED")
        if info or changed:
            w.pack("S", info)
        if changed:
            block = Writer()
            for st in ok.session_state:
                block.pack("BS", st.kind, st.data)
            w.pack("S", block.getvalue())
    else:
        if ok.session_state:
            raise ValueError("session-state entries need CLIENT_SESSION_TRACK")
        if info:
            w.pack("S", info)
    return w.getvalue()


# ---------------------------------------------------------------------------------- ERR


def parse_err(payload: bytes) -> Err | Progress:
    """Parse an ERR packet, or MariaDB's progress report (code 0xFFFF)."""
    _header(payload, (0xFF,), "ERR header 0xff")
    r = Reader(payload, 1)
    code = r.int2()
    if code == _PROGRESS:
        # MariaDB's net_send_progress_packet: a "number of strings" byte (1) comes first.
        _, stage, max_stage, progress, state = r.unpack("BBBTS")
        r.expect_end()
        return Progress(
            stage=as_int(stage),
            max_stage=as_int(max_stage),
            progress=as_int(progress),
            state=dec(state),
        )
    sqlstate = ""
    if r.remaining >= 6 and payload[r.offset] == 0x23:  # '#'
        sqlstate = dec(r.fixed(6)[1:])
    return Err(code=code, message=dec(r.rest()), sqlstate=sqlstate)


def build_err(err: Err) -> bytes:
    """Build an ERR packet; an empty ``sqlstate`` omits the marker (pre-4.1 style).

    Raises:
        ValueError: a SQL state that is not 5 characters, or code 0xFFFF.
    """
    if err.code == _PROGRESS:
        raise ValueError("code 0xFFFF is reserved for progress reports")
    message = enc(err.message)
    if not err.sqlstate and message[:1] == b"#" and len(message) >= 6:
        raise ValueError("a message starting with '#' needs a SQL state, or it reads back as one")
    w = Writer().pack("BH", 0xFF, err.code)
    if err.sqlstate:
        state = enc(err.sqlstate)
        if len(state) != 5:
            raise ValueError("an SQL state has 5 characters")
        w.raw(b"#" + state)
    return w.raw(message).getvalue()


def build_progress(p: Progress) -> bytes:
    return (
        Writer()
        .pack("BHBBBTS", 0xFF, _PROGRESS, 1, p.stage, p.max_stage, p.progress, enc(p.state))
        .getvalue()
    )


# ---------------------------------------------------------------------------------- EOF


def parse_eof(payload: bytes, capabilities: int) -> Eof:
    _header(payload, (0xFE,), "EOF header 0xfe")
    if len(payload) >= 9:
        raise MalformedPacket(
            f"malformed packet: EOF packet of {len(payload)} bytes at offset 0",
            offset=0,
            expected="an EOF packet shorter than 9 bytes",
        )
    if not capabilities & C.CLIENT_PROTOCOL_41:
        Reader(payload, 1).expect_end()
        return Eof()
    r = Reader(payload, 1)
    warnings, status = r.unpack("HH")
    r.expect_end()
    return Eof(warnings=as_int(warnings), status_flags=as_int(status))


def build_eof(eof: Eof, capabilities: int) -> bytes:
    if not capabilities & C.CLIENT_PROTOCOL_41:
        return b"\xfe"
    return Writer().pack("BHH", 0xFE, eof.warnings, eof.status_flags).getvalue()
