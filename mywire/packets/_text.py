"""Text fields: protocol strings are bytes; events hold ``str``.

Names, versions and messages are UTF-8 on every current server.  Decoding uses
``surrogateescape`` so that any byte string survives a parse → build round trip (a
latin1 username from an old client comes back byte for byte).
"""

from __future__ import annotations

from ..codec import Value


def dec(b: Value) -> str:
    assert isinstance(b, bytes)
    return b.decode("utf-8", "surrogateescape")


def enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def as_int(v: Value) -> int:
    assert isinstance(v, int)
    return v


def as_bytes(v: Value) -> bytes:
    assert isinstance(v, bytes)
    return v
