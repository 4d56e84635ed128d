"""TCP segments out of pcap and pcapng files.

Theory of operation
-------------------
``dpkt`` reads the file (``pcap.UniversalReader``: classic pcap in either byte order and
microsecond or nanosecond resolution, or pcapng) and parses the link layer, IP and TCP;
this module only picks the link-layer class for the file's link type, keeps the TCP
segments and says when one is shorter than its IP header declares (a snap length cut
it: those bytes are missing from the capture, not from the connection).

Link types: Ethernet (with VLAN tags), Linux cooked capture v1 (SLL) and v2 (SLL2),
BSD loopback / null (``DLT_NULL``, ``DLT_LOOP``) and raw IP (``DLT_RAW`` and its
per-platform numbers, ``DLT_IPV4``, ``DLT_IPV6``).  IPv4 and IPv6 (extension headers
included).  IP fragments are not reassembled: they are counted and skipped, and the
TCP layer above sees the missing bytes as a gap.

A file that is not a capture raises :class:`CaptureError` when opened; a file that ends
in the middle of a record stops the iteration and sets :attr:`Capture.truncated`.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import MywireError

try:
    import dpkt  # type: ignore[import-untyped]  # no stubs, no py.typed
except ImportError:  # pragma: no cover - depends on the environment
    dpkt = None

__all__ = ["Capture", "CaptureError", "LINK_TYPES", "Segment", "require_dpkt"]

#: Link types this reader understands, by their LINKTYPE_* number.
LINK_TYPES: dict[int, str] = {
    0: "null",
    1: "ethernet",
    12: "raw",  # DLT_RAW on OpenBSD
    14: "raw",  # DLT_RAW on BSD/OS
    101: "raw",  # LINKTYPE_RAW
    108: "loop",
    113: "linux_sll",
    228: "ipv4",
    229: "ipv6",
    276: "linux_sll2",
}

TH_FIN, TH_SYN, TH_RST, TH_ACK = 0x01, 0x02, 0x04, 0x10


class CaptureError(MywireError, ValueError):
    """The file is not a capture mywire can read (not pcap/pcapng, or a link type it
    does not know), or ``dpkt`` is not installed."""


def require_dpkt() -> Any:
    """The ``dpkt`` module, or :class:`CaptureError` saying how to install it."""
    if dpkt is None:  # pragma: no cover - depends on the environment
        raise CaptureError("reading captures needs the 'dpkt' package: pip install 'mywire[pcap]'")
    return dpkt


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One TCP segment as captured."""

    #: Frame number in the file, from 1 (as Wireshark counts).
    frame: int
    #: Capture timestamp, seconds since the epoch.
    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    #: TCP flags (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10...).
    flags: int
    #: The TCP payload as captured.
    data: bytes
    #: Payload bytes the IP header declares beyond ``data`` (cut by the snap length).
    missing: int = 0

    @property
    def syn(self) -> bool:
        return bool(self.flags & TH_SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & TH_FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & TH_RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & TH_ACK)


@functools.lru_cache(maxsize=4096)
def _addr(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


class _Reads:
    """The capture file, noting a read cut short by the end of the file: dpkt hands a
    record cut by the end of a file out as it is, so this is how a cut file shows."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.name = getattr(f, "name", "")
        self.short = False

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if n > 0 and 0 < len(data) < n:
            self.short = True
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        self.short = False
        return self._f.seek(pos, whence)

    def tell(self) -> int:
        return self._f.tell()

    def fileno(self) -> int:
        return self._f.fileno()


class Capture:
    """A capture file opened for reading.

    Args:
        path: a pcap or pcapng file.

    Raises:
        CaptureError: not a capture, a link type this reader does not know, or no dpkt.
        OSError: the file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        mod = require_dpkt()
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self.size = os.fstat(self._file.fileno()).st_size
        self._reads = _Reads(self._file)
        try:
            self._reader = mod.pcap.UniversalReader(self._reads)
        except (ValueError, mod.Error, EOFError) as exc:
            self._file.close()
            raise CaptureError(f"{self.path.name}: not a pcap or pcapng file ({exc})") from None
        self.linktype: int = int(self._reader.datalink())
        if self.linktype not in LINK_TYPES:
            self._file.close()
            raise CaptureError(
                f"{self.path.name}: link type {self.linktype} is not supported "
                f"(supported: {', '.join(sorted(set(LINK_TYPES.values())))})"
            )
        #: Frames read so far.
        self.frames = 0
        #: Frames that were not TCP over IPv4/IPv6 (ARP, UDP, ICMP...).
        self.other_frames = 0
        #: IP fragments skipped.
        self.fragments = 0
        #: Frames whose headers did not parse.
        self.bad_frames = 0
        #: The file ended in the middle of a record.
        self.truncated = False

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def position(self) -> int:
        """Bytes of the file read so far (for progress reports)."""
        try:
            return self._file.tell()
        except ValueError:  # closed
            return self.size

    @property
    def link_name(self) -> str:
        return LINK_TYPES[self.linktype]

    def __iter__(self) -> Iterator[Segment]:
        mod = require_dpkt()
        link = self.link_name
        it = iter(self._reader)
        while True:
            try:
                ts, buf = next(it)
            except StopIteration:
                self.truncated = self.truncated or self._reads.short
                return
            except (mod.Error, ValueError, EOFError, OverflowError):
                # dpkt reads record headers with struct: a short read at the end of a
                # cut-off file raises NeedData (or struct errors as ValueError).
                self.truncated = True
                return
            self.frames += 1
            try:
                seg = self._segment(mod, link, float(ts), buf)
            except (mod.Error, ValueError, IndexError):
                self.bad_frames += 1
                continue
            if seg is not None:
                yield seg

    def _segment(self, mod: Any, link: str, ts: float, buf: bytes) -> Segment | None:
        ip = self._network(mod, link, buf)
        if isinstance(ip, mod.ip.IP):
            if ip.mf or ip.offset:
                self.fragments += 1
                return None
            tcp = ip.data
            if not isinstance(tcp, mod.tcp.TCP):
                self.other_frames += 1
                return None
            declared = ip.len - ip.hl * 4 - tcp.off * 4 if ip.len else len(tcp.data)
        elif isinstance(ip, mod.ip6.IP6):
            tcp = ip.data
            if not isinstance(tcp, mod.tcp.TCP):
                if ip.nxt == 44 or 44 in getattr(ip, "extension_hdrs", {}):
                    self.fragments += 1
                else:
                    self.other_frames += 1
                return None
            ext = sum(h.length for h in getattr(ip, "all_extension_headers", ()))
            declared = ip.plen - ext - tcp.off * 4 if ip.plen else len(tcp.data)
        else:
            self.other_frames += 1
            return None
        data = bytes(tcp.data)
        return Segment(
            frame=self.frames,
            ts=ts,
            src=_addr(ip.src),
            sport=tcp.sport,
            dst=_addr(ip.dst),
            dport=tcp.dport,
            seq=tcp.seq,
            ack=tcp.ack,
            flags=tcp.flags,
            data=data,
            missing=max(declared - len(data), 0),
        )

    @staticmethod
    def _network(mod: Any, link: str, buf: bytes) -> Any:
        if link == "ethernet":
            return mod.ethernet.Ethernet(buf).data
        if link == "linux_sll":
            return mod.sll.SLL(buf).data
        if link == "linux_sll2":
            return mod.sll2.SLL2(buf).data
        if link in ("null", "loop"):
            return mod.loopback.Loopback(buf).data
        # Raw IP: the version nibble says which.
        if buf and buf[0] >> 4 == 4:
            return mod.ip.IP(buf)
        if buf and buf[0] >> 4 == 6:
            return mod.ip6.IP6(buf)
        return None
