"""Decode the MySQL conversations in a pcap or pcapng capture (``mywire decode``).

Reading the file is ``dpkt``'s job (an optional dependency: ``pip install
'mywire[pcap]'``); the rest is mywire's: TCP reassembly (:mod:`.tcp`), finding the
MySQL connections (:mod:`.sniff` for those not on a known port) and following each one
passively through the handshake, commands and results (:mod:`.observer`, :mod:`.decode`),
with rows in the JSON transcoder's mapping.

>>> from mywire.pcap import Decoder
>>> decoder = Decoder("capture.pcap", ports=(3306, 6033))      # doctest: +SKIP
>>> for record in decoder:                                      # doctest: +SKIP
...     print(record.conn, record.kind, record.details)
"""

from __future__ import annotations

from .capture import Capture, CaptureError, Segment
from .decode import DEFAULT_PORTS, Decoder, Record, decode
from .observer import DEFAULT_MAX_ROWS, Note, Observer
from .tcp import Chunk, End, Gap, HalfStream

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_PORTS",
    "Capture",
    "CaptureError",
    "Chunk",
    "Decoder",
    "End",
    "Gap",
    "HalfStream",
    "Note",
    "Observer",
    "Record",
    "Segment",
    "decode",
]
