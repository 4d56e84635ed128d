"""mywire: the MySQL/MariaDB wire protocol, sans-IO, with a C core.

``mywire.backend`` is ``"c"`` when the compiled core is in use and ``"python"`` otherwise
(``MYWIRE_PURE=1`` forces the latter).  Both give identical results and errors.
"""

from __future__ import annotations

from ._backend import BACKEND as backend
from .codec import Reader, Writer, pack, unpack, unpack_from
from .errors import (
    LimitExceeded,
    MalformedPacket,
    MywireError,
    PacketsOutOfSync,
    PacketTooLarge,
    ProtocolError,
    TruncatedPacket,
    UnsupportedFeature,
)
from .framing import (
    DEFAULT_MAX_PAYLOAD,
    CompressedPacketReader,
    PacketReader,
    Payload,
    compress_frames,
    frame_payload,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "CompressedPacketReader",
    "LimitExceeded",
    "MalformedPacket",
    "MywireError",
    "PacketReader",
    "PacketTooLarge",
    "PacketsOutOfSync",
    "Payload",
    "ProtocolError",
    "Reader",
    "TruncatedPacket",
    "UnsupportedFeature",
    "Writer",
    "backend",
    "compress_frames",
    "frame_payload",
    "pack",
    "unpack",
    "unpack_from",
]
