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
    "AuthError",
    "LimitExceeded",
    "MalformedPacket",
    "MywireError",
    "PacketTooLarge",
    "PacketsOutOfSync",
    "ProtocolError",
    "ServerError",
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

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_sync, (str(self), self.offset, self.expected, self.actual))


def _rebuild_sync(message: str, offset: int, expected: str, actual: int) -> PacketsOutOfSync:
    return PacketsOutOfSync(message, offset=offset, expected=expected, actual=actual)


class LimitExceeded(ProtocolError, ValueError):
    """A declared size or count exceeds a configured maximum (``max_payload``,
    ``max_columns``); raised on the declaration, before anything is allocated for it."""


class PacketTooLarge(LimitExceeded):
    """A declared length exceeds ``max_payload``; raised before any allocation."""

    code = 2020  # CR_NET_PACKET_TOO_LARGE


class UnsupportedFeature(MywireError):
    """The peer asked for something mywire does not implement (e.g. zstd without the package)."""


class ServerError(MywireError):
    """The server answered with an ERR packet (raised by adapters such as :mod:`mywire.aio`).

    The sans-IO connection reports ERR packets as events; adapters that offer a call/return
    API turn them into this exception.

    Attributes:
        code: the server error code (``ER_*``), or a client ``CR_*`` code for errors
            raised locally.
        sqlstate: the five-character SQL state.
        message: the server's message.
    """

    def __init__(self, code: int, sqlstate: str, message: str) -> None:
        super().__init__(f"({code}, {sqlstate!r}) {message}" if sqlstate else f"({code}) {message}")
        self.code = code
        self.sqlstate = sqlstate
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.code, self.sqlstate, self.message))


class AuthError(ServerError):
    """Authentication failed: the server refused us, or we refused to send a secret.

    Local refusals (e.g. a clear-text password over an unencrypted connection) use the
    client code 2061 (CR_AUTH_PLUGIN_ERR) and SQL state ``HY000``.
    """
