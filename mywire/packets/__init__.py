"""Packet codecs: one module per packet family, each with parse_* and build_* functions.

Every parser takes a payload (``bytes``) and, where the layout depends on it, the
negotiated capability flags; every builder takes an event from :mod:`mywire.events` and
returns the payload.  Framing is :mod:`mywire.framing`'s job.  Parsers read through
:mod:`mywire.codec`, so the field loops run in whichever backend is selected, and they
raise :class:`~mywire.errors.ProtocolError` subclasses with the byte offset, never
``IndexError`` or ``struct.error``.
"""

from __future__ import annotations
