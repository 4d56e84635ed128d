"""Is this MySQL?  Tests on the first bytes of a stream, for traffic whose start is
missing from a capture or that runs on another port.

:func:`looks_like_greeting` accepts a complete HandshakeV10 with sequence id 0 and a
printable version.  :func:`looks_like_command` accepts a packet header with sequence
id 0 and a command byte whose body fits what that command carries (SQL and names start
with printable ASCII; statement commands have their fixed sizes; an execute's iteration
count is 1).  :func:`recognise` also looks inside a compressed frame (raw, or zlib) and
at the start of a TLS record.  They are deliberately strict: a false "yes" costs error
records, a false "no" only the start of a conversation.
"""

from __future__ import annotations

import zlib

from ..constants import Command as Cmd
from ..errors import MywireError
from ..packets import handshake as phs

__all__ = ["looks_like_command", "looks_like_greeting", "recognise"]

# Command bytes the hunt accepts as the start of a command, with the payload lengths
# they can have (None: any length of at least 2).
_HUNTABLE: dict[int, tuple[int, int] | None] = {
    Cmd.COM_QUIT: (1, 1),
    Cmd.COM_INIT_DB: None,
    Cmd.COM_QUERY: None,
    Cmd.COM_FIELD_LIST: None,
    Cmd.COM_STATISTICS: (1, 1),
    Cmd.COM_PING: (1, 1),
    Cmd.COM_STMT_PREPARE: None,
    Cmd.COM_STMT_EXECUTE: (10, 1 << 24),
    Cmd.COM_STMT_SEND_LONG_DATA: (7, 1 << 24),
    Cmd.COM_STMT_CLOSE: (5, 5),
    Cmd.COM_STMT_RESET: (5, 5),
    Cmd.COM_SET_OPTION: (3, 3),
    Cmd.COM_STMT_FETCH: (9, 9),
    Cmd.COM_RESET_CONNECTION: (1, 1),
}
_TEXT_COMMANDS = (Cmd.COM_QUERY, Cmd.COM_INIT_DB, Cmd.COM_STMT_PREPARE, Cmd.COM_FIELD_LIST)


def _printable_start(text: bytes) -> bool:
    """SQL and names start with printable ASCII (after white space)."""
    stripped = text.lstrip(b" \t\r\n")
    return bool(stripped) and 0x20 < stripped[0] < 0x7F


def looks_like_command(chunk: bytes) -> bool:
    """True when ``chunk`` starts with a plausible command packet (sequence id 0)."""
    if len(chunk) < 5 or chunk[3] != 0:
        return False
    n = int.from_bytes(chunk[:3], "little")
    code = chunk[4]
    if n == 0 or code not in _HUNTABLE:
        return False
    bounds = _HUNTABLE[code]
    if bounds is not None and not bounds[0] <= n <= bounds[1]:
        return False
    if bounds is None and n < 2:
        return False
    body = chunk[5 : 4 + n]
    if code in _TEXT_COMMANDS:
        if code == Cmd.COM_QUERY and body[:2] == b"\x00\x01":
            body = body[2:]  # an empty query-attribute block (CLIENT_QUERY_ATTRIBUTES)
        return _printable_start(body[:64])
    if code == Cmd.COM_STMT_EXECUTE:
        # flags (cursor type, at most 0x0f with MySQL's PARAMETER_COUNT_AVAILABLE), then
        # the iteration count, always 1.
        return len(body) >= 9 and body[4] <= 0x0F and body[5:9] == b"\x01\x00\x00\x00"
    return n + 4 <= len(chunk)


def _compressed_inner(chunk: bytes) -> bytes | None:
    """The packet bytes of the first compressed frame in ``chunk``, or None."""
    if len(chunk) < 7 + 5 or chunk[3] != 0:
        return None
    clen = int.from_bytes(chunk[:3], "little")
    ulen = int.from_bytes(chunk[4:7], "little")
    body = chunk[7 : 7 + clen]
    if clen == 0 or len(body) < min(clen, 5):
        return None
    if ulen == 0:
        return body
    if body[:1] != b"\x78":
        return None
    try:
        return zlib.decompressobj().decompress(body, 64)
    except zlib.error:
        return None


def recognise(chunk: bytes) -> str | None:
    """How a client chunk starts a command: ``"plain"``, ``"zlib"``, ``"tls"`` or None."""
    plain = looks_like_command(chunk)
    if plain and int.from_bytes(chunk[:3], "little") + 4 == len(chunk):
        return "plain"
    inner = _compressed_inner(chunk)
    if inner is not None and looks_like_command(inner):
        return "zlib"
    if plain:
        return "plain"
    if len(chunk) >= 5 and chunk[0] in (0x16, 0x17) and chunk[1] == 3 and chunk[2] <= 4:
        return "tls"
    return None


def looks_like_greeting(chunk: bytes) -> bool:
    """True when ``chunk`` starts with a complete HandshakeV10 (sequence id 0)."""
    if len(chunk) < 5 or chunk[3] != 0 or chunk[4] != 10:
        return False
    n = int.from_bytes(chunk[:3], "little")
    if n + 4 > len(chunk):
        return False
    try:
        h = phs.parse_handshake(chunk[4 : 4 + n])
    except MywireError:
        return False
    v = h.server_version
    return bool(v) and v.isprintable() and v.isascii()
