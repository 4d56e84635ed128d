"""Wire primitives: fixed and length-encoded integers and strings, a reader and a writer.

The whole surface goes through one format language (see :mod:`mywire._format`) so a
packet is parsed or built by *one* backend call, never one call per field::

    >>> values, end = unpack_from("BZ", b"\\x0a5.5.5\\x00")
    >>> values
    (10, b'5.5.5')

Every read is bounds-checked.  Bad input raises :class:`~mywire.errors.TruncatedPacket`
or :class:`~mywire.errors.MalformedPacket` (both ``ValueError``) carrying the offset of
the failing field and its description; any other exception is a bug.
"""

from __future__ import annotations

from . import _backend
from . import _format as F

__all__ = ["Reader", "Value", "Writer", "check_values", "pack", "unpack", "unpack_from"]

Value = int | bytes | None

_INT_LIMITS = {code: 1 << (8 * width) for code, (_, width) in F.FORMAT_CODES.items() if width}
_BYTES_LIKE = (bytes, bytearray, memoryview)


def unpack_from(
    fmt: str, buf: bytes | bytearray | memoryview, offset: int = 0
) -> tuple[tuple[Value, ...], int]:
    """Parse the fields ``fmt`` describes, starting at ``offset``.

    Returns:
        The values (int, bytes, or None for a NULL marker under K/R) and the offset just
        after the last field.

    Raises:
        TruncatedPacket: the buffer ends inside a field.
        MalformedPacket: a length prefix is 0xFF, or 0xFB where NULL is not allowed.
        ValueError: ``fmt`` is invalid or ``offset`` is outside the buffer.
    """
    return _backend.IMPL.unpack_from(fmt, buf, offset)  # type: ignore[no-any-return]


def unpack(fmt: str, buf: bytes | bytearray | memoryview) -> tuple[Value, ...]:
    """Like :func:`unpack_from` from offset 0, but the fields must cover the whole buffer.

    Raises:
        MalformedPacket: bytes remain after the last field (as well as the errors of
            :func:`unpack_from`).
    """
    values, end = _backend.IMPL.unpack_from(fmt, buf, 0)
    left = len(buf) - end if not isinstance(buf, memoryview) else buf.nbytes - end
    if left:
        raise F.trailing(end, left)
    return values  # type: ignore[no-any-return]


def check_values(fmt: str, values: tuple[object, ...]) -> tuple[Value, ...]:
    """Validate values for ``fmt`` and normalise bytes-likes to ``bytes``.

    Raises:
        TypeError: a value has the wrong type.
        ValueError: a value is out of range, a fixed string has the wrong length, a
            NUL-terminated string contains NUL, or the number of values is wrong.
    """
    items = F.compile_format(fmt)
    wanted = sum(1 for code, _ in items if code != "x")
    if len(values) != wanted:
        raise ValueError(f"format {fmt!r} takes {wanted} values, got {len(values)}")
    out: list[Value] = []
    it = iter(values)
    for code, n in items:
        if code == "x":
            continue
        v = next(it)
        what = F.field_name(code, n)
        if code in "BHTIWQLK":
            if v is None and code == "K":
                out.append(None)
                continue
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{what} needs an int, got {type(v).__name__}")
            limit = _INT_LIMITS.get(code, 1 << 64)
            if not 0 <= v < limit:
                raise ValueError(f"{v} is out of range for a {what}")
            out.append(v)
            continue
        if v is None and code == "R":
            out.append(None)
            continue
        if not isinstance(v, _BYTES_LIKE):
            raise TypeError(f"{what} needs bytes, got {type(v).__name__}")
        b = bytes(v)
        if code == "Z" and b"\0" in b:
            raise ValueError(f"a {what} cannot contain NUL")
        if code == "s" and len(b) != n:
            raise ValueError(f"a {what} needs exactly {n} bytes, got {len(b)}")
        out.append(b)
    return tuple(out)


def pack(fmt: str, *values: object) -> bytes:
    """Build the bytes for ``values`` laid out as ``fmt`` describes.

    Raises:
        TypeError, ValueError: see :func:`check_values`.
    """
    checked = check_values(fmt, values)
    return _backend.IMPL.pack(F.compile_format(fmt), checked)  # type: ignore[no-any-return]


class Reader:
    """A bounds-checked cursor over one payload.

    Offsets in errors are relative to the start of the buffer.  Prefer :meth:`unpack`
    with a multi-field format over many single-field calls: each call crosses into the
    backend once.
    """

    __slots__ = ("_buf", "offset")

    def __init__(self, buf: bytes | bytearray | memoryview, offset: int = 0) -> None:
        self._buf = bytes(buf)
        if not 0 <= offset <= len(self._buf):
            raise ValueError(f"offset {offset} outside a buffer of {len(self._buf)} bytes")
        self.offset = offset

    @property
    def buffer(self) -> bytes:
        """The whole buffer being read."""
        return self._buf

    @property
    def remaining(self) -> int:
        return len(self._buf) - self.offset

    def at_end(self) -> bool:
        return self.offset == len(self._buf)

    def unpack(self, fmt: str) -> tuple[Value, ...]:
        values, self.offset = _backend.IMPL.unpack_from(fmt, self._buf, self.offset)
        return values  # type: ignore[no-any-return]

    def _one(self, fmt: str) -> Value:
        values, self.offset = _backend.IMPL.unpack_from(fmt, self._buf, self.offset)
        return values[0]  # type: ignore[no-any-return]

    def _int(self, fmt: str) -> int:
        v = self._one(fmt)
        assert isinstance(v, int)
        return v

    def _bytes(self, fmt: str) -> bytes:
        v = self._one(fmt)
        assert isinstance(v, bytes)
        return v

    def int1(self) -> int:
        return self._int("B")

    def int2(self) -> int:
        return self._int("H")

    def int3(self) -> int:
        return self._int("T")

    def int4(self) -> int:
        return self._int("I")

    def int6(self) -> int:
        return self._int("W")

    def int8(self) -> int:
        return self._int("Q")

    def lenenc_int(self) -> int:
        return self._int("L")

    def lenenc_int_or_null(self) -> int | None:
        v = self._one("K")
        assert v is None or isinstance(v, int)
        return v

    def lenenc_str(self) -> bytes:
        return self._bytes("S")

    def lenenc_str_or_null(self) -> bytes | None:
        v = self._one("R")
        assert v is None or isinstance(v, bytes)
        return v

    def nul_str(self) -> bytes:
        return self._bytes("Z")

    def rest(self) -> bytes:
        return self._bytes("E")

    def _room(self, code: str, n: int) -> None:
        # Lengths here usually come off the wire: check them before building a format.
        if n < 0:
            raise ValueError(f"negative length {n}")
        if n > self.remaining:
            raise F.truncated(code, n, self.offset, self.remaining)

    def fixed(self, n: int) -> bytes:
        """``n`` bytes (n may come from the wire: checked against what is left)."""
        self._room("s", n)
        start = self.offset
        self.offset += n
        return self._buf[start : start + n]

    def skip(self, n: int) -> None:
        self._room("x", n)
        self.offset += n

    def expect_end(self) -> None:
        """Raise :class:`MalformedPacket` if bytes remain."""
        if self.remaining:
            raise F.trailing(self.offset, self.remaining)


class Writer:
    """Accumulates fields; :meth:`getvalue` returns the payload."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def pack(self, fmt: str, *values: object) -> Writer:
        self._parts.append(pack(fmt, *values))
        return self

    def raw(self, data: bytes | bytearray | memoryview) -> Writer:
        self._parts.append(bytes(data))
        return self

    def int1(self, v: int) -> Writer:
        return self.pack("B", v)

    def int2(self, v: int) -> Writer:
        return self.pack("H", v)

    def int3(self, v: int) -> Writer:
        return self.pack("T", v)

    def int4(self, v: int) -> Writer:
        return self.pack("I", v)

    def int6(self, v: int) -> Writer:
        return self.pack("W", v)

    def int8(self, v: int) -> Writer:
        return self.pack("Q", v)

    def lenenc_int(self, v: int | None) -> Writer:
        return self.pack("K", v)

    def lenenc_str(self, v: bytes | None) -> Writer:
        return self.pack("R", v)

    def nul_str(self, v: bytes) -> Writer:
        return self.pack("Z", v)

    def fixed(self, v: bytes) -> Writer:
        return self.raw(v)

    def zeros(self, n: int) -> Writer:
        if n < 0:
            raise ValueError(f"negative length {n}")
        self._parts.append(bytes(n))
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)
