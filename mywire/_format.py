"""The field-format language shared by both backends, and the error texts they raise.

A format string describes the fields of a packet in order, the way :mod:`struct` does for
C structs, so that one backend call parses (or builds) a whole packet instead of one call
per field.  Codes::

    B H T I W Q   unsigned little-endian integers of 1, 2, 3, 4, 6 and 8 bytes
    L             length-encoded integer (0xFB and 0xFF rejected)
    K             length-encoded integer or NULL (0xFB gives None; rows only)
    S             length-encoded string
    R             length-encoded string or NULL (0xFB gives None; rows only)
    Z             NUL-terminated string (the NUL is consumed, not returned)
    E             rest-of-packet string (only as the last code)
    <n>s          fixed-length string of n bytes
    <n>x          n filler bytes, skipped when reading and written as zeros

A decimal count before any other code repeats it (``3S`` is ``SSS``).  Spaces are ignored.

Error messages live here too, so the C adapter and the pure code produce the same text.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import MalformedPacket, TruncatedPacket

__all__ = ["FORMAT_CODES", "compile_format", "field_name"]

# code -> (C opcode, byte width for fixed ints or 0)
FORMAT_CODES: dict[str, tuple[int, int]] = {
    "B": (1, 1),
    "H": (2, 2),
    "T": (3, 3),
    "I": (4, 4),
    "W": (5, 6),
    "Q": (6, 8),
    "L": (7, 0),
    "K": (8, 0),
    "S": (9, 0),
    "R": (10, 0),
    "Z": (11, 0),
    "E": (12, 0),
    "s": (13, 0),
    "x": (14, 0),
}
OPCODE_CHARS = {op: ch for ch, (op, _) in FORMAT_CODES.items()}

_NAMES = {
    "B": "1-byte integer",
    "H": "2-byte integer",
    "T": "3-byte integer",
    "I": "4-byte integer",
    "W": "6-byte integer",
    "Q": "8-byte integer",
    "L": "length-encoded integer",
    "K": "length-encoded integer or NULL",
    "S": "length-encoded string",
    "R": "length-encoded string or NULL",
    "Z": "NUL-terminated string",
    "E": "rest-of-packet string",
}

# The largest fixed-length field a format may declare.  Formats are written by code, not
# read off the wire, so this only guards against typos that would allocate absurdly.
MAX_FIXED = 1 << 24


def field_name(code: str, n: int) -> str:
    """Words for a field, used in error messages (``"20-byte string"``)."""
    if code == "s":
        return f"{n}-byte string"
    if code == "x":
        return f"{n} filler bytes"
    return _NAMES[code]


@lru_cache(maxsize=512)
def compile_format(fmt: str) -> tuple[tuple[str, int], ...]:
    """Parse a format string into ``((code, n), ...)``; counts on s/x are lengths.

    Raises:
        ValueError: the format string itself is invalid.
    """
    items: list[tuple[str, int]] = []
    count = ""
    for ch in fmt:
        if ch.isspace():
            if count:
                raise ValueError(f"bad format {fmt!r}: space after a count")
            continue
        if "0" <= ch <= "9":
            count += ch
            continue
        if ch not in FORMAT_CODES:
            raise ValueError(f"bad format {fmt!r}: unknown code {ch!r}")
        n = int(count) if count else 1
        count = ""
        if n > MAX_FIXED:
            raise ValueError(f"bad format {fmt!r}: count {n} too large")
        if ch in "sx":
            items.append((ch, n))
        else:
            items.extend((ch, 1) for _ in range(n))
    if count:
        raise ValueError(f"bad format {fmt!r}: count without a code")
    for code, _ in items[:-1]:
        if code == "E":
            raise ValueError(f"bad format {fmt!r}: 'E' must be the last code")
    return tuple(items)


def truncated(code: str, n: int, offset: int, left: int) -> TruncatedPacket:
    what = field_name(code, n)
    return TruncatedPacket(
        f"truncated packet: expected {what} at offset {offset}, {left} bytes left",
        offset=offset,
        expected=what,
    )


def truncated_body(code: str, offset: int, declared: int, left: int) -> TruncatedPacket:
    what = field_name(code, 1)
    return TruncatedPacket(
        f"truncated packet: {what} at offset {offset} declares {declared} bytes, "
        f"{left} left after its length",
        offset=offset,
        expected=what,
    )


def no_nul(offset: int, left: int) -> TruncatedPacket:
    what = _NAMES["Z"]
    return TruncatedPacket(
        f"truncated packet: {what} at offset {offset} has no NUL in the {left} bytes left",
        offset=offset,
        expected=what,
    )


def bad_prefix(code: str, offset: int, prefix: int) -> MalformedPacket:
    what = field_name(code, 1)
    reason = "is the NULL marker 0xFB" if prefix == 0xFB else "starts with invalid prefix 0xFF"
    return MalformedPacket(
        f"malformed packet: {what} at offset {offset} {reason}", offset=offset, expected=what
    )


def trailing(offset: int, left: int) -> MalformedPacket:
    return MalformedPacket(
        f"malformed packet: {left} unexpected bytes at offset {offset} after the last field",
        offset=offset,
        expected="end of packet",
    )
