"""The mywire exception hierarchy.

Everything mywire raises on purpose derives from :class:`MywireError`.  Errors about bytes
that break the protocol carry the byte offset where the problem was found and a short
description of what was expected there, so a gateway can log something actionable.

Both backends (C and pure Python) raise these classes with identical messages: the C
adapter turns a status code into the same constructor call the pure code makes.  Any
other exception escaping a parser is a bug.

Server ERR packets are *not* exceptions here; they are events (see the connection layer).
"""

from __future__ import annotations

__all__ = [
    "MalformedPacket",
    "MywireError",
    "PacketTooLarge",
    "PacketsOutOfSync",
    "ProtocolError",
    "TruncatedPacket",
    "UnsupportedFeature",
]


class MywireError(Exception):
    """Root of every exception mywire raises on purpose."""


class ProtocolError(MywireError):
    """Bytes that violate the protocol.

    Attributes:
        offset: byte offset of the problem, counted from the start of the input the
            caller gave (a payload for packet parsers, the stream for framers).
        expected: what the parser expected at that offset, in words.
        code: the client error code (``CR_*``) that libmysqlclient would report.
    """

    code = 2027  # CR_MALFORMED_PACKET

    def __init__(self, message: str, *, offset: int, expected: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.expected = expected

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: teach pickle (multiprocessing, pytest-xdist) to rebuild it.
        return (_rebuild, (type(self), str(self), self.offset, self.expected))


def _rebuild(cls: type[ProtocolError], message: str, offset: int, expected: str) -> ProtocolError:
    return cls(message, offset=offset, expected=expected)


class MalformedPacket(ProtocolError, ValueError):
    """A packet's bytes cannot be parsed (bad marker, bad length prefix, missing NUL...)."""


class TruncatedPacket(MalformedPacket):
    """A packet ended before a field it declares was complete."""


class PacketsOutOfSync(ProtocolError, ValueError):
    """A packet arrived with an unexpected sequence id."""

    code = 2014  # CR_COMMANDS_OUT_OF_SYNC

    def __init__(self, message: str, *, offset: int, expected: str, actual: int = -1) -> None:
        super().__init__(message, offset=offset, expected=expected)
        self.actual = actual


class PacketTooLarge(ProtocolError, ValueError):
    """A declared length exceeds the configured maximum; raised before any allocation."""

    code = 2020  # CR_NET_PACKET_TOO_LARGE


class UnsupportedFeature(MywireError):
    """The peer asked for something mywire does not implement (e.g. zstd without the package)."""
