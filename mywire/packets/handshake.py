"""Connection phase: HandshakeV10, SSLRequest, HandshakeResponse41, auth switch and more data.

Layouts follow the MySQL protocol documentation (page_protocol_connection_phase_packets)
and MariaDB's "Connection" page; MariaDB differences:

* HandshakeV10's 10 reserved bytes end with 4 bytes of extended capabilities, valid only
  when the server clears CLIENT_MYSQL (bit 0); the same holds for the last 4 of the 23
  filler bytes of HandshakeResponse41 and SSLRequest.  mywire folds them into one 64-bit
  ``capabilities`` value, shifted left by 32.
* MariaDB 10.x+ prefixes its version with ``5.5.5-`` for replication compatibility.

Pre-4.1 forms (protocol version 9, HandshakeResponse320, the old 0xFE auth switch that
asks for mysql_old_password) raise :class:`~mywire.errors.UnsupportedFeature`.
"""

from __future__ import annotations

from ..codec import Reader, Writer
from ..constants import Capability as C
from ..errors import MalformedPacket, TruncatedPacket, UnsupportedFeature
from ..events import (
    AuthMoreData,
    AuthNextFactor,
    AuthSwitchRequest,
    Handshake,
    HandshakeResponse,
    SSLRequest,
)
from ._text import as_bytes, as_int, dec, enc

__all__ = [
    "EXT_SHIFT",
    "SSL_REQUEST_SIZE",
    "build_auth_more_data",
    "build_auth_next_factor",
    "build_auth_switch_request",
    "build_handshake",
    "build_handshake_response",
    "build_ssl_request",
    "parse_attributes",
    "parse_auth_more_data",
    "parse_auth_next_factor",
    "parse_auth_switch_request",
    "parse_client_hello",
    "parse_handshake",
    "parse_handshake_response",
    "parse_ssl_request",
    "read_attributes",
    "write_attributes",
]

EXT_SHIFT = 32
SSL_REQUEST_SIZE = 32
_LOW32 = 0xFFFFFFFF


def _ext(caps: int) -> int:
    """The 4 MariaDB extended-capability bytes a packet carries for ``caps``."""
    return 0 if caps & C.CLIENT_MYSQL else (caps >> EXT_SHIFT) & _LOW32


def _empty(what: str) -> TruncatedPacket:
    return TruncatedPacket(
        f"truncated packet: expected {what} at offset 0, 0 bytes left", offset=0, expected=what
    )


# ------------------------------------------------------------------------- HandshakeV10


def parse_handshake(payload: bytes) -> Handshake:
    """Parse the server greeting.

    Raises:
        UnsupportedFeature: protocol version 9 (servers before MySQL 3.21).
        MalformedPacket, TruncatedPacket: anything else that does not parse.
    """
    if not payload:
        raise _empty("protocol version 10")
    if payload[0] != 10:
        if payload[0] == 9:
            raise UnsupportedFeature(
                "the server speaks protocol version 9 (pre-4.1); not supported"
            )
        raise MalformedPacket(
            f"malformed packet: protocol version {payload[0]} at offset 0",
            offset=0,
            expected="protocol version 10",
        )
    r = Reader(payload)
    _, version, conn_id, part1, caps = r.unpack("BZI8sxH")
    caps = as_int(caps)
    charset = status = 0
    plugin_name: str | None = None
    data = as_bytes(part1)
    if not r.at_end():
        v_charset, v_status, caps_hi, v_plugin_len, ext = r.unpack("BHHB6xI")
        charset, status, plugin_len = as_int(v_charset), as_int(v_status), as_int(v_plugin_len)
        caps |= as_int(caps_hi) << 16
        if not caps & C.CLIENT_MYSQL:
            caps |= as_int(ext) << EXT_SHIFT
        if caps & C.CLIENT_SECURE_CONNECTION:
            # Part 2 is max(13, len - 8) bytes; its last byte is a NUL, not scramble.
            n = max(13, plugin_len - 8)
            part2 = r.fixed(n)
            keep = plugin_len - 9 if caps & C.CLIENT_PLUGIN_AUTH and plugin_len > 8 else n - 1
            data += part2[:keep]
        if caps & C.CLIENT_PLUGIN_AUTH:
            # MySQL 5.5.7-5.5.9 omitted the NUL, so take the rest and cut at a NUL.
            plugin_name = dec(r.rest().split(b"\0", 1)[0])
    return Handshake(
        server_version=dec(version),
        connection_id=as_int(conn_id),
        auth_plugin_data=data,
        capabilities=caps,
        character_set=charset,
        status_flags=status,
        auth_plugin_name=plugin_name,
    )


def build_handshake(h: Handshake) -> bytes:
    """Build a greeting (server role).

    Raises:
        ValueError: the scramble is shorter than 8 bytes, or not 20 bytes without
            CLIENT_PLUGIN_AUTH, or a plugin name is given without CLIENT_PLUGIN_AUTH.
    """
    caps = h.capabilities
    data = h.auth_plugin_data
    if len(data) < 8:
        raise ValueError("auth_plugin_data needs at least 8 bytes")
    plugin = caps & C.CLIENT_PLUGIN_AUTH
    if (h.auth_plugin_name is not None) != bool(plugin):
        raise ValueError("auth_plugin_name must be given exactly when CLIENT_PLUGIN_AUTH is set")
    if not caps & C.CLIENT_SECURE_CONNECTION and len(data) != 8:
        raise ValueError("without CLIENT_SECURE_CONNECTION the scramble is 8 bytes")
    if caps & C.CLIENT_SECURE_CONNECTION and not plugin and len(data) != 20:
        raise ValueError("without CLIENT_PLUGIN_AUTH the scramble is 20 bytes")
    w = Writer().pack(
        "BZI8sxH",
        h.protocol_version,
        enc(h.server_version),
        h.connection_id,
        data[:8],
        caps & 0xFFFF,
    )
    plugin_len = len(data) + 1 if plugin else 0
    w.pack(
        "BHHB6xI",
        h.character_set,
        h.status_flags,
        (caps >> 16) & 0xFFFF,
        plugin_len,
        _ext(caps),
    )
    if caps & C.CLIENT_SECURE_CONNECTION:
        part2 = data[8:] + b"\0"
        w.fixed(part2 + bytes(max(0, 13 - len(part2))))
    if plugin and h.auth_plugin_name is not None:
        w.nul_str(enc(h.auth_plugin_name))
    return w.getvalue()


# --------------------------------------------------------- SSLRequest / HandshakeResponse41


def parse_client_hello(payload: bytes) -> SSLRequest | HandshakeResponse:
    """Parse the client's first packet: an SSLRequest (exactly 32 bytes with CLIENT_SSL)
    or a HandshakeResponse41."""
    if len(payload) == SSL_REQUEST_SIZE and len(payload) >= 4:
        caps = int.from_bytes(payload[:4], "little")
        if caps & C.CLIENT_SSL:
            return parse_ssl_request(payload)
    return parse_handshake_response(payload)


def _caps41(r: Reader) -> tuple[int, int, int]:
    # HandshakeResponse320 starts with 2 capability bytes: look at them before reading
    # the 4.1 layout, so an old client gets "unsupported", not "truncated".
    head = r.buffer[r.offset : r.offset + 2]
    if len(head) == 2 and not int.from_bytes(head, "little") & C.CLIENT_PROTOCOL_41:
        raise UnsupportedFeature(
            "the client sent a pre-4.1 HandshakeResponse320 (no CLIENT_PROTOCOL_41); not supported"
        )
    caps, max_packet, charset, ext = r.unpack("IIB19xI")
    caps = as_int(caps)
    if not caps & C.CLIENT_PROTOCOL_41:
        raise UnsupportedFeature(
            "the client sent a pre-4.1 HandshakeResponse320 (no CLIENT_PROTOCOL_41); not supported"
        )
    if not caps & C.CLIENT_MYSQL:
        caps |= as_int(ext) << EXT_SHIFT
    return caps, as_int(max_packet), as_int(charset)


def parse_ssl_request(payload: bytes) -> SSLRequest:
    r = Reader(payload)
    caps, max_packet, charset = _caps41(r)
    r.expect_end()
    return SSLRequest(capabilities=caps, max_packet_size=max_packet, character_set=charset)


def build_ssl_request(s: SSLRequest) -> bytes:
    """Build an SSLRequest (CLIENT_SSL is added).

    Raises:
        ValueError: no CLIENT_PROTOCOL_41 (the parser would refuse it).
    """
    if not s.capabilities & C.CLIENT_PROTOCOL_41:
        raise ValueError("mywire only builds the 4.1 SSLRequest (set CLIENT_PROTOCOL_41)")
    return _build_caps41(s.capabilities | C.CLIENT_SSL, s.max_packet_size, s.character_set)


def _build_caps41(caps: int, max_packet: int, charset: int) -> bytes:
    return Writer().pack("IIB19xI", caps & _LOW32, max_packet, charset, _ext(caps)).getvalue()


def parse_attributes(
    data: bytes, start: int = 0, end: int | None = None
) -> tuple[tuple[str, str], ...]:
    """Parse a connection-attribute block (pairs of length-encoded strings) that lies in
    ``data[start:end]``; error offsets count from the start of ``data``."""
    r = Reader(data[:end] if end is not None else data, start)
    out = []
    while not r.at_end():
        k, v = r.unpack("SS")
        out.append((dec(k), dec(v)))
    return tuple(out)


def read_attributes(r: Reader, payload: bytes) -> tuple[tuple[str, str], ...]:
    """Read a length-encoded attribute block at the reader's offset in ``payload``."""
    block = r.lenenc_str()
    return parse_attributes(payload, r.offset - len(block), r.offset)


def write_attributes(w: Writer, attributes: tuple[tuple[str, str], ...]) -> None:
    block = Writer()
    for k, v in attributes:
        block.pack("SS", enc(k), enc(v))
    w.pack("S", block.getvalue())


def parse_handshake_response(payload: bytes) -> HandshakeResponse:
    """Parse HandshakeResponse41 (server role).

    Fields after the username are read while bytes remain, as servers do, so a client
    that sets CLIENT_CONNECT_WITH_DB but sends no database still parses.
    """
    r = Reader(payload)
    caps, max_packet, charset = _caps41(r)
    username = dec(r.nul_str())
    if caps & C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        auth = r.lenenc_str()
    elif caps & C.CLIENT_SECURE_CONNECTION:
        auth = r.fixed(r.int1())
    else:
        auth = r.nul_str()
    database = plugin = None
    attributes: tuple[tuple[str, str], ...] = ()
    zstd = None
    if caps & C.CLIENT_CONNECT_WITH_DB and not r.at_end():
        database = dec(r.nul_str())
    if caps & C.CLIENT_PLUGIN_AUTH and not r.at_end():
        plugin = dec(r.nul_str())
    if caps & C.CLIENT_CONNECT_ATTRS and not r.at_end():
        attributes = read_attributes(r, payload)
    if caps & C.CLIENT_ZSTD_COMPRESSION_ALGORITHM and not r.at_end():
        zstd = r.int1()
    r.expect_end()
    return HandshakeResponse(
        capabilities=caps,
        max_packet_size=max_packet,
        character_set=charset,
        username=username,
        auth_response=auth,
        database=database,
        auth_plugin_name=plugin,
        attributes=attributes,
        zstd_level=zstd,
    )


def build_handshake_response(h: HandshakeResponse) -> bytes:
    """Build HandshakeResponse41 (client role).

    Optional fields are written when their capability is set; a missing value is
    written empty (database ""), except the zstd level which defaults to 3.

    Raises:
        ValueError: an auth response over 255 bytes without
            CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, or one containing NUL without
            CLIENT_SECURE_CONNECTION.
    """
    caps = h.capabilities
    if not caps & C.CLIENT_PROTOCOL_41:
        raise ValueError("mywire only builds the 4.1 HandshakeResponse (set CLIENT_PROTOCOL_41)")
    w = Writer().raw(_build_caps41(caps, h.max_packet_size, h.character_set))
    w.nul_str(enc(h.username))
    if caps & C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        w.pack("S", h.auth_response)
    elif caps & C.CLIENT_SECURE_CONNECTION:
        if len(h.auth_response) > 255:
            raise ValueError(
                "auth response over 255 bytes needs CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA"
            )
        w.int1(len(h.auth_response)).fixed(h.auth_response)
    else:
        w.nul_str(h.auth_response)
    if caps & C.CLIENT_CONNECT_WITH_DB:
        w.nul_str(enc(h.database or ""))
    if caps & C.CLIENT_PLUGIN_AUTH:
        w.nul_str(enc(h.auth_plugin_name or ""))
    if caps & C.CLIENT_CONNECT_ATTRS:
        write_attributes(w, h.attributes)
    if caps & C.CLIENT_ZSTD_COMPRESSION_ALGORITHM:
        w.int1(3 if h.zstd_level is None else h.zstd_level)
    return w.getvalue()


# ------------------------------------------------------- auth switch, more data, next factor


def parse_auth_switch_request(payload: bytes) -> AuthSwitchRequest:
    """Parse 0xFE + plugin name + plugin data (the data's trailing NUL is dropped).

    Raises:
        UnsupportedFeature: the bare 0xFE of the old auth switch (mysql_old_password).
    """
    if payload == b"\xfe":
        raise UnsupportedFeature(
            "the server asks for mysql_old_password (pre-4.1 authentication); not supported"
        )
    r = Reader(payload)
    header, name, data = r.unpack("BZE")
    if header != 0xFE:
        raise MalformedPacket(
            f"malformed packet: header 0x{as_int(header):02x} at offset 0",
            offset=0,
            expected="auth switch request header 0xfe",
        )
    data = as_bytes(data)
    return AuthSwitchRequest(
        plugin_name=dec(name), data=data[:-1] if data.endswith(b"\0") else data
    )


def build_auth_switch_request(a: AuthSwitchRequest) -> bytes:
    return Writer().pack("BZ", 0xFE, enc(a.plugin_name)).raw(a.data + b"\0").getvalue()


def parse_auth_more_data(payload: bytes) -> AuthMoreData:
    header, data = Reader(payload).unpack("BE")
    if header != 0x01:
        raise MalformedPacket(
            f"malformed packet: header 0x{as_int(header):02x} at offset 0",
            offset=0,
            expected="auth more data header 0x01",
        )
    return AuthMoreData(data=as_bytes(data))


def build_auth_more_data(a: AuthMoreData) -> bytes:
    return b"\x01" + a.data


def parse_auth_next_factor(payload: bytes) -> AuthNextFactor:
    header, name, data = Reader(payload).unpack("BZE")
    if header != 0x02:
        raise MalformedPacket(
            f"malformed packet: header 0x{as_int(header):02x} at offset 0",
            offset=0,
            expected="auth next factor header 0x02",
        )
    return AuthNextFactor(plugin_name=dec(name), data=as_bytes(data))


def build_auth_next_factor(a: AuthNextFactor) -> bytes:
    return Writer().pack("BZ", 0x02, enc(a.plugin_name)).raw(a.data).getvalue()
