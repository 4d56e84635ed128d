"""mywire.packets.handshake: greeting, SSLRequest, HandshakeResponse41, auth switch/more data.

Three kinds of evidence:

* round trips: for every event the builders accept, ``parse(build(e)) == e`` (hypothesis,
  strategies in strategies.py);
* real bytes: payloads captured from real servers and clients, decoded by hand here field
  by field (layouts from the MySQL "Connection Phase Packets" pages and MariaDB's
  "Connection" page), then ``build(parse(p)) == p`` byte for byte.  Sources: the bundled
  recording ``mywire/samples/mariadb-session.mwtrace`` (PyMySQL 1.2.4 and MariaDB
  10.11.19) and public captures listed in /work/shared/captures/SOURCES.md (arkime/arkime
  ``tests/pcap/mysql-tls.pcap``; zeek/zeek ``testing/btest/Traces/mysql/auth.pcap`` and
  ``caching_sha2_password.pcap``; deepflowio/deepflow ``.../mysql/mysql.pcap``), whose
  payloads are copied below as hex;
* robustness: every strict prefix of a valid payload, and arbitrary bytes, give an event
  or a ProtocolError (with an offset inside the input) or UnsupportedFeature, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mywire import MalformedPacket, ProtocolError, TruncatedPacket, UnsupportedFeature
from mywire.events import (
    AuthMoreData,
    AuthNextFactor,
    AuthSwitchRequest,
    Handshake,
    HandshakeResponse,
    SSLRequest,
)
from mywire.packets import handshake as hs

from helpers import check_prefixes, parse_or_error, trace_payloads
from strategies import (
    auth_more_datas,
    auth_next_factors,
    auth_switch_requests,
    handshake_responses,
    handshakes,
    ssl_requests,
)

# Capability bits, written out from the protocol's Capabilities Flags list.
CLIENT_MYSQL = 0x1  # CLIENT_LONG_PASSWORD to MySQL; MariaDB clears it to say "MariaDB"
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000

# ------------------------------------------------------------------------- real payloads

# MariaDB 10.11.19's greeting, first server payload of mariadb-session.mwtrace:
# 0a | "5.5.5-10.11.19-MariaDB-0+deb12u1" 00 | 14000000 (id 20) | "sx%J&{]?" | 00 |
# fef7 (caps low 0xf7fe: bit 0 CLIENT_MYSQL clear) | 2d (45) | 0200 | ff81 (caps high) |
# 15 (21 = 20 + NUL) | 6 zero bytes | 1d000000 (MariaDB extended caps) |
# "`G!n*%xPd(:(" 00 | "mysql_native_password" 00
MARIADB_CAPS = 0x81FFF7FE | 0x1D << 32
MARIADB_SCRAMBLE = b"sx%J&{]?" + b"`G!n*%xPd(:("

# PyMySQL 1.2.4's HandshakeResponse41 (second payload of the recording):
# 0da23a00 (caps 0x003aa20d) | ffffff00 (max packet 16777215) | 2d | 23 zero bytes |
# "root" 00 | 00 (lenenc auth: empty password) | "test" 00 | "mysql_native_password" 00 |
# 35 (53 bytes of attributes) then three lenenc pairs.
PYMYSQL_CAPS = 0x003AA20D

# MySQL 5.7.16's greeting and the client's SSLRequest (arkime mysql-tls.pcap, frames 4/6).
MYSQL57_GREETING = bytes.fromhex(
    "0a352e372e3136004d6820000937522b2f25462900ffff080200ffc115000000000000000000006964"
    "7844637e236654082b1b006d7973716c5f6e61746976655f70617373776f726400"
)
ARKIME_SSL_REQUEST = bytes.fromhex(
    "8faa3a00ffffff00210000000000000000000000000000000000000000000000"
)

# MySQL 5.1.67-log greeting without CLIENT_PLUGIN_AUTH (zeek mysql/auth.pcap, 4th
# connection): caps fff7 + 0000, auth-plugin-data length byte 00, 12 bytes + NUL.
MYSQL51_GREETING = bytes.fromhex(
    "0a352e312e36372d6c6f67001a000000345c536c434c325400fff72102000000000000000000000000"
    "00003443347b317c4270313f284c00"
)
# The 5.1-era client's answers in the same capture: no password (auth length 00), then a
# 20-byte response; CLIENT_PLUGIN_AUTH is set but the packet ends before the plugin name.
OLD_CLIENT_RESPONSE_NO_PASSWORD = bytes.fromhex(
    "05a60f0000000001210000000000000000000000000000000000000000000000726f6f745f6e6f70650000"
)
OLD_CLIENT_RESPONSE = bytes.fromhex(
    "05a60f0000000001210000000000000000000000000000000000000000000000726f6f745f6e6f706500"
    "140462a99c75e97363d10a6d4b06dc84dfd4da1a96"
)

# MySQL 8.0.32 with caching_sha2_password (zeek mysql/caching_sha2_password.pcap, 2nd
# connection): greeting, libmysql 8.0.32's response, then AuthMoreData 0x04 (perform full
# authentication) and the PEM public key after the client's 0x02 request.
MYSQL80_GREETING = bytes.fromhex(
    "0a382e302e333200090000003478603f6504692700ffffff0200ffdf15000000000000000000006b26"
    "2d50254c4944172f0f7b0063616368696e675f736861325f70617373776f726400"
)
MYSQL80_RESPONSE = bytes.fromhex(
    "8da6ff1900000001ff0000000000000000000000000000000000000000000000726f6f740020792e91"
    "3a11876917df495fd2ec9a22c22573421090bd1543f477c009707d8e45746573740063616368696e675f"
    "736861325f70617373776f72640079045f70696406393137353436095f706c6174666f726d06783836"
    "5f3634035f6f73054c696e75780c5f636c69656e745f6e616d65086c69626d7973716c076f735f7573"
    "6572096476616e656564656e0f5f636c69656e745f76657273696f6e06382e302e33320c70726f6772"
    "616d5f6e616d65056d7973716c"
)
MYSQL80_PUBLIC_KEY = bytes.fromhex(
    "012d2d2d2d2d424547494e205055424c4943204b45592d2d2d2d2d0a4d494942496a414e42676b7168"
    "6b6947397730424151454641414f43415138414d49494243674b434151454130564143792f62593630"
    "4d52755057366143785a0a62692b6f3045674367787a464f6262797a44666e546e564a65674f586272"
    "646362753171496c456a50796e37554d42666a51722b567565694a76506a7a324d380a642f36475831"
    "683466597577573462455842566f344847784d384e3049794f3142596a61664f616f55654c2f4e492b"
    "624c69664837304b6f7249635355522b680a383739444151307a6c4b7a3576777044594e324c567869"
    "646a4676793562615350692f6373444d7169326a697442417a624e573939324f2f763943506e683566"
    "0a6b64524d61326c4d504b785261506571417739553743416d52714161485a41666449356b596e6a33"
    "76734f46764b4c32646b452b636b5938736835483275746f0a33372b6d67366f6c6c35507379644d62"
    "53757646484c63304a5a6d2b2b6f656d357a3257735a4264786d6f68714a38466f6334335738494f74"
    "78732b59414f770a76774944415141420a2d2d2d2d2d454e44205055424c4943204b45592d2d2d2d2d0a"
)

# MySQL 8.0.21 asks a caching_sha2_password client to switch to mysql_native_password,
# resending the greeting's scramble (deepflow mysql.pcap, server payload seq 2).
AUTH_SWITCH_80 = bytes.fromhex(
    "fe6d7973716c5f6e61746976655f70617373776f7264003d504670126d6b117e793c716e333d706539797100"
)

# The Protocol::HandshakeResponse320 example of the MySQL documentation, without its
# 4-byte header: caps 0x2485 (no CLIENT_PROTOCOL_41), max packet 0, "old", "GDSCQYR_".
# https://dev.mysql.com/doc/dev/mysql-server/8.4.2/page_protocol_connection_phase_packets_protocol_handshake_response.html
DOCS_RESPONSE_320 = bytes.fromhex("85240000006f6c6400474453435159525f")


def trace_greeting() -> bytes:
    first = trace_payloads()[0]
    assert first.from_server and first.seq == 0
    return first.data


def trace_response() -> bytes:
    second = trace_payloads()[1]
    assert not second.from_server and second.seq == 1
    return second.data


# ---------------------------------------------------------------------------- greeting


def test_mariadb_greeting_from_the_recording() -> None:
    p = trace_greeting()
    h = hs.parse_handshake(p)
    assert h == Handshake(
        server_version="5.5.5-10.11.19-MariaDB-0+deb12u1",
        connection_id=20,
        auth_plugin_data=MARIADB_SCRAMBLE,
        capabilities=MARIADB_CAPS,
        character_set=45,
        status_flags=0x0002,
        auth_plugin_name="mysql_native_password",
    )
    assert not h.capabilities & CLIENT_MYSQL
    assert h.capabilities >> 32 == 0x1D  # PROGRESS, BULK, EXTENDED_METADATA, CACHE_METADATA
    assert h.is_mariadb
    assert h.version == "10.11.19-MariaDB-0+deb12u1"
    assert len(p) == 100
    assert hs.build_handshake(h) == p


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            MYSQL57_GREETING,
            Handshake(
                server_version="5.7.16",
                connection_id=0x0020684D,
                auth_plugin_data=bytes.fromhex("0937522b2f25462969647844637e236654082b1b"),
                capabilities=0xC1FFFFFF,
                character_set=8,
                status_flags=0x0002,
                auth_plugin_name="mysql_native_password",
            ),
            id="mysql-5.7.16",
        ),
        pytest.param(
            MYSQL51_GREETING,
            Handshake(
                server_version="5.1.67-log",
                connection_id=26,
                auth_plugin_data=b"4\\SlCL2T" + b"4C4{1|Bp1?(L",
                capabilities=0x0000F7FF,
                character_set=33,
                status_flags=0x0002,
                auth_plugin_name=None,
            ),
            id="mysql-5.1.67-no-plugin-auth",
        ),
        pytest.param(
            MYSQL80_GREETING,
            Handshake(
                server_version="8.0.32",
                connection_id=9,
                auth_plugin_data=bytes.fromhex("3478603f650469276b262d50254c4944172f0f7b"),
                capabilities=0xDFFFFFFF,
                character_set=255,
                status_flags=0x0002,
                auth_plugin_name="caching_sha2_password",
            ),
            id="mysql-8.0.32",
        ),
    ],
)
def test_real_mysql_greetings(payload: bytes, expected: Handshake) -> None:
    h = hs.parse_handshake(payload)
    assert h == expected
    assert not h.is_mariadb
    assert h.version == h.server_version
    assert hs.build_handshake(h) == payload


def test_greeting_plugin_name_without_nul_as_mysql_5_5_7_sent_it() -> None:
    # MySQL 5.5.7-5.5.9 ended the greeting right after the plugin name, without its NUL.
    h = hs.parse_handshake(MYSQL57_GREETING[:-1])
    assert h == hs.parse_handshake(MYSQL57_GREETING)
    assert h.auth_plugin_name == "mysql_native_password"


def test_greeting_that_ends_after_the_lower_capabilities() -> None:
    # HandshakeV10 says "if more data in the packet": character set, status and the rest
    # are optional.  0a "4.1.0" 00 | id 7 | 8-byte scramble | 00 | caps 0x822c.
    p = b"\x0a4.1.0\x00\x07\x00\x00\x00abcdefgh\x00\x2c\x82"
    assert hs.parse_handshake(p) == Handshake(
        server_version="4.1.0",
        connection_id=7,
        auth_plugin_data=b"abcdefgh",
        capabilities=0x822C,
        character_set=0,
        status_flags=0,
        auth_plugin_name=None,
    )


def test_protocol_version_9_is_unsupported() -> None:
    # HandshakeV9: int<1> 9, string<NUL> version, int<4> thread id, string<NUL> scramble
    # (https://dev.mysql.com/doc/dev/mysql-server/9.3.0/page_protocol_connection_phase_packets_protocol_handshake_v9.html)
    p = b"\x093.20.32\x00\x05\x00\x00\x00scrambl\x00"
    with pytest.raises(UnsupportedFeature):
        hs.parse_handshake(p)


@pytest.mark.parametrize("version", [0, 8, 11, 0xFF])
def test_other_protocol_versions_are_malformed(version: int) -> None:
    with pytest.raises(MalformedPacket) as info:
        hs.parse_handshake(bytes([version]) + MYSQL57_GREETING[1:])
    assert info.value.offset == 0


def test_extended_capabilities_only_travel_with_client_mysql_clear() -> None:
    # The 4 bytes at offset 1 + len(version) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6 hold
    # MariaDB's extended capabilities; with CLIENT_MYSQL set they are reserved zeros.
    version = "v"
    at = 1 + len(version) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6

    def greeting(caps: int) -> Handshake:
        return Handshake(
            server_version=version,
            connection_id=1,
            auth_plugin_data=bytes(range(1, 21)),
            capabilities=caps,
            character_set=45,
            status_flags=2,
            auth_plugin_name="p",
        )

    caps = CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_PROTOCOL_41
    mariadb = hs.build_handshake(greeting(caps | 0x12345678 << 32))
    assert mariadb[at : at + 4] == bytes.fromhex("78563412")
    mysql = hs.build_handshake(greeting(caps | CLIENT_MYSQL))
    assert mysql[at : at + 4] == bytes(4)
    # A MySQL greeting (CLIENT_MYSQL set) with junk in the reserved bytes: ignored.
    junk = mysql[:at] + b"\xff\xff\xff\xff" + mysql[at + 4 :]
    assert hs.parse_handshake(junk).capabilities == caps | CLIENT_MYSQL


@given(handshakes())
def test_handshake_round_trip(h: Handshake) -> None:
    assert hs.parse_handshake(hs.build_handshake(h)) == h


@given(handshakes())
@settings(max_examples=30)
def test_handshake_prefixes(h: Handshake) -> None:
    # The greeting may legitimately end early (pre-4.1 short form, 5.5.7 plugin name).
    check_prefixes(hs.parse_handshake, hs.build_handshake(h), strict=False)


@pytest.mark.parametrize(
    ("data", "caps"),
    [
        (b"1234567", 0),  # fewer than 8 bytes
        (b"12345678", CLIENT_SECURE_CONNECTION),  # not 20 without CLIENT_PLUGIN_AUTH
        (b"123456789", 0),  # not 8 without CLIENT_SECURE_CONNECTION
        (b"12345678", CLIENT_PLUGIN_AUTH),  # CLIENT_PLUGIN_AUTH but no plugin name
    ],
)
def test_handshake_builder_value_errors(data: bytes, caps: int) -> None:
    h = Handshake(
        server_version="x",
        connection_id=1,
        auth_plugin_data=data,
        capabilities=caps,
        character_set=8,
        status_flags=0,
    )
    with pytest.raises(ValueError):
        hs.build_handshake(h)
    with pytest.raises(ValueError):  # a plugin name without CLIENT_PLUGIN_AUTH
        hs.build_handshake(
            replace(h, auth_plugin_data=bytes(8), capabilities=0, auth_plugin_name="p")
        )


# ------------------------------------------------------------- SSLRequest / response


def test_pymysql_handshake_response_from_the_recording() -> None:
    p = trace_response()
    r = hs.parse_handshake_response(p)
    assert r == HandshakeResponse(
        capabilities=PYMYSQL_CAPS,
        max_packet_size=0xFFFFFF,
        character_set=45,
        username="root",
        auth_response=b"",
        database="test",
        auth_plugin_name="mysql_native_password",
        attributes=(("_client_name", "pymysql"), ("_client_version", "1.2.4"), ("_pid", "7836")),
        zstd_level=None,
    )
    assert len(p) == 32 + len(b"root\0") + 1 + len(b"test\0") + 22 + 1 + 53
    assert hs.build_handshake_response(r) == p
    assert hs.parse_client_hello(p) == r


def test_libmysql_8_handshake_response_with_lenenc_auth_data() -> None:
    r = hs.parse_handshake_response(MYSQL80_RESPONSE)
    assert r == HandshakeResponse(
        capabilities=0x19FFA68D,
        max_packet_size=0x01000000,
        character_set=255,
        username="root",
        auth_response=bytes.fromhex(
            "792e913a11876917df495fd2ec9a22c22573421090bd1543f477c009707d8e45"
        ),
        database="test",
        auth_plugin_name="caching_sha2_password",
        attributes=(
            ("_pid", "917546"),
            ("_platform", "x86_64"),
            ("_os", "Linux"),
            ("_client_name", "libmysql"),
            ("os_user", "dvaneeden"),
            ("_client_version", "8.0.32"),
            ("program_name", "mysql"),
        ),
    )
    assert hs.build_handshake_response(r) == MYSQL80_RESPONSE


def test_old_client_response_that_stops_before_the_plugin_name() -> None:
    # CLIENT_PLUGIN_AUTH is set (0x000fa605) but the packet ends after the auth data:
    # servers read the optional fields "while bytes remain", and so does mywire.
    base = HandshakeResponse(
        capabilities=0x000FA605,
        max_packet_size=0x01000000,
        character_set=33,
        username="root_nope",
        auth_response=b"",
        database=None,
        auth_plugin_name=None,
    )
    assert hs.parse_handshake_response(OLD_CLIENT_RESPONSE_NO_PASSWORD) == base
    assert hs.parse_handshake_response(OLD_CLIENT_RESPONSE) == replace(
        base, auth_response=bytes.fromhex("0462a99c75e97363d10a6d4b06dc84dfd4da1a96")
    )


def test_ssl_request_from_a_real_client() -> None:
    r = hs.parse_client_hello(ARKIME_SSL_REQUEST)
    assert r == SSLRequest(capabilities=0x003AAA8F, max_packet_size=0xFFFFFF, character_set=33)
    assert r.capabilities & CLIENT_SSL
    assert hs.parse_ssl_request(ARKIME_SSL_REQUEST) == r
    assert hs.build_ssl_request(r) == ARKIME_SSL_REQUEST
    assert len(ARKIME_SSL_REQUEST) == hs.SSL_REQUEST_SIZE == 32


def test_handshake_response_320_is_unsupported() -> None:
    # The documentation's own HandshakeResponse320 (17 bytes, no CLIENT_PROTOCOL_41): the
    # module promises UnsupportedFeature for pre-4.1 forms, not a truncation error.
    for parse in (hs.parse_handshake_response, hs.parse_client_hello):
        with pytest.raises(UnsupportedFeature):
            parse(DOCS_RESPONSE_320)


def test_handshake_response_without_protocol_41_is_unsupported() -> None:
    # A 4.1-sized packet whose capabilities lack CLIENT_PROTOCOL_41.
    p = bytearray(trace_response())
    p[1] &= ~(CLIENT_PROTOCOL_41 >> 8)
    for parse in (hs.parse_handshake_response, hs.parse_client_hello):
        with pytest.raises(UnsupportedFeature):
            parse(bytes(p))
    with pytest.raises(UnsupportedFeature):
        hs.parse_ssl_request(bytes(p[:32]))


def test_ssl_request_builder_rejects_what_its_parser_rejects() -> None:
    # build_handshake_response refuses capabilities without CLIENT_PROTOCOL_41; the
    # SSLRequest is the same 32-byte prefix and its parser refuses it too, so building it
    # must not succeed silently.
    with pytest.raises(ValueError):
        hs.build_ssl_request(
            SSLRequest(capabilities=CLIENT_SSL, max_packet_size=0xFFFFFF, character_set=45)
        )


def test_handshake_response_builder_value_errors() -> None:
    base = HandshakeResponse(
        capabilities=CLIENT_PROTOCOL_41, max_packet_size=0, character_set=8, username="u"
    )
    with pytest.raises(ValueError):  # no CLIENT_PROTOCOL_41
        hs.build_handshake_response(replace(base, capabilities=0))
    with pytest.raises(ValueError):  # > 255 bytes without the lenenc capability
        hs.build_handshake_response(
            replace(
                base,
                capabilities=CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION,
                auth_response=bytes(256),
            )
        )
    with pytest.raises(ValueError):  # NUL in a NUL-terminated auth response
        hs.build_handshake_response(replace(base, auth_response=b"a\0b"))


@given(ssl_requests())
def test_ssl_request_round_trip(r: SSLRequest) -> None:
    p = hs.build_ssl_request(r)
    assert len(p) == 32
    assert hs.parse_ssl_request(p) == r
    assert hs.parse_client_hello(p) == r


@given(handshake_responses())
def test_handshake_response_round_trip(r: HandshakeResponse) -> None:
    p = hs.build_handshake_response(r)
    assert hs.parse_handshake_response(p) == r
    assert hs.parse_client_hello(p) == r


LAYOUT_FLAGS = {
    "PLUGIN_AUTH_LENENC_CLIENT_DATA": 1 << 21,
    "SECURE_CONNECTION": 1 << 15,
    "CONNECT_WITH_DB": 1 << 3,
    "PLUGIN_AUTH": 1 << 19,
    "CONNECT_ATTRS": 1 << 20,
    "ZSTD_COMPRESSION_ALGORITHM": 1 << 26,
}


@pytest.mark.parametrize("combo", range(64))
def test_handshake_response_every_layout(combo: int) -> None:
    # Each of the 64 combinations of the flags that change the layout, with the bytes
    # written out by hand: caps | max packet | charset | 23 zeros | "bob" 00 | auth |
    # [db 00] [plugin 00] [lenenc attributes] [zstd level].
    caps = CLIENT_PROTOCOL_41
    for i, flag in enumerate(LAYOUT_FLAGS.values()):
        if combo >> i & 1:
            caps |= flag
    auth = b"\x01\x02\x03"
    wire = caps.to_bytes(4, "little") + bytes.fromhex("00000001") + b"\x21" + bytes(23)
    wire += b"bob\x00"
    if caps & LAYOUT_FLAGS["PLUGIN_AUTH_LENENC_CLIENT_DATA"]:
        wire += b"\x03" + auth  # length-encoded
    elif caps & CLIENT_SECURE_CONNECTION:
        wire += b"\x03" + auth  # 1-byte length
    else:
        wire += auth + b"\x00"  # NUL-terminated
    r = HandshakeResponse(
        capabilities=caps,
        max_packet_size=0x01000000,
        character_set=0x21,
        username="bob",
        auth_response=auth,
    )
    if caps & LAYOUT_FLAGS["CONNECT_WITH_DB"]:
        r = replace(r, database="db")
        wire += b"db\x00"
    if caps & CLIENT_PLUGIN_AUTH:
        r = replace(r, auth_plugin_name="mysql_native_password")
        wire += b"mysql_native_password\x00"
    if caps & LAYOUT_FLAGS["CONNECT_ATTRS"]:
        r = replace(r, attributes=(("_os", "Linux"),))
        wire += b"\x0a\x03_os\x05Linux"
    if caps & LAYOUT_FLAGS["ZSTD_COMPRESSION_ALGORITHM"]:
        r = replace(r, zstd_level=7)
        wire += b"\x07"
    assert hs.build_handshake_response(r) == wire
    assert hs.parse_handshake_response(wire) == r


@given(handshake_responses())
@settings(max_examples=30)
def test_handshake_response_prefixes(r: HandshakeResponse) -> None:
    check_prefixes(hs.parse_handshake_response, hs.build_handshake_response(r), strict=False)


@given(ssl_requests())
@settings(max_examples=20)
def test_ssl_request_prefixes(r: SSLRequest) -> None:
    check_prefixes(hs.parse_ssl_request, hs.build_ssl_request(r))


def test_connection_attribute_errors_point_into_the_attribute_block() -> None:
    # The trace response with its attribute block's first key length raised from 12 to
    # 60: the pair runs past the block.
    p = bytearray(trace_response())
    block = p.index(b"\x35\x0c_client_name")
    p[block + 1] = 60
    with pytest.raises(TruncatedPacket) as info:
        hs.parse_handshake_response(bytes(p))
    assert block <= info.value.offset < len(p)


# --------------------------------------------------- auth switch, more data, next factor


def test_auth_switch_request_from_mysql_8() -> None:
    a = hs.parse_auth_switch_request(AUTH_SWITCH_80)
    assert a == AuthSwitchRequest(
        plugin_name="mysql_native_password",
        data=bytes.fromhex("3d504670126d6b117e793c716e333d7065397971"),
    )
    assert hs.build_auth_switch_request(a) == AUTH_SWITCH_80


def test_bare_auth_switch_asks_for_old_password_and_is_unsupported() -> None:
    with pytest.raises(UnsupportedFeature):
        hs.parse_auth_switch_request(b"\xfe")


def test_auth_switch_data_without_trailing_nul() -> None:
    assert hs.parse_auth_switch_request(b"\xfeclient_ed25519\x00abc") == AuthSwitchRequest(
        plugin_name="client_ed25519", data=b"abc"
    )


@pytest.mark.parametrize(
    ("payload", "data"),
    [
        (b"\x01\x04", b"\x04"),  # caching_sha2_password: perform full authentication
        (b"\x01\x03", b"\x03"),  # caching_sha2_password: fast authentication succeeded
        (MYSQL80_PUBLIC_KEY, MYSQL80_PUBLIC_KEY[1:]),
    ],
)
def test_auth_more_data_from_mysql_8(payload: bytes, data: bytes) -> None:
    m = hs.parse_auth_more_data(payload)
    assert m == AuthMoreData(data=data)
    assert hs.build_auth_more_data(m) == payload


def test_public_key_payload_is_a_pem() -> None:
    data = hs.parse_auth_more_data(MYSQL80_PUBLIC_KEY).data
    assert data.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert data.endswith(b"-----END PUBLIC KEY-----\n")


def test_auth_next_factor() -> None:
    # 0x02, plugin name NUL-terminated, plugin data to the end (MySQL 8.0.27 MFA).
    p = b"\x02authentication_fido_client\x00\x01\x02\x03"
    a = hs.parse_auth_next_factor(p)
    assert a == AuthNextFactor(plugin_name="authentication_fido_client", data=b"\x01\x02\x03")
    assert hs.build_auth_next_factor(a) == p


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (hs.parse_auth_switch_request, b"\x01abc\x00"),
        (hs.parse_auth_more_data, b"\x02abc"),
        (hs.parse_auth_next_factor, b"\x01abc\x00"),
    ],
)
def test_wrong_auth_headers_are_malformed(parse: Callable[[bytes], object], payload: bytes) -> None:
    with pytest.raises(MalformedPacket) as info:
        parse(payload)
    assert info.value.offset == 0


@given(auth_switch_requests())
def test_auth_switch_round_trip(a: AuthSwitchRequest) -> None:
    p = hs.build_auth_switch_request(a)
    assert hs.parse_auth_switch_request(p) == a
    check_prefixes(hs.parse_auth_switch_request, p, strict=False)


@given(auth_more_datas())
def test_auth_more_data_round_trip(a: AuthMoreData) -> None:
    assert hs.parse_auth_more_data(hs.build_auth_more_data(a)) == a


@given(auth_next_factors())
def test_auth_next_factor_round_trip(a: AuthNextFactor) -> None:
    p = hs.build_auth_next_factor(a)
    assert hs.parse_auth_next_factor(p) == a
    check_prefixes(hs.parse_auth_next_factor, p, strict=False)


# ---------------------------------------------------------------- truncated and junk

PARSERS: dict[str, Callable[[bytes], object]] = {
    "handshake": hs.parse_handshake,
    "client_hello": hs.parse_client_hello,
    "ssl_request": hs.parse_ssl_request,
    "handshake_response": hs.parse_handshake_response,
    "auth_switch_request": hs.parse_auth_switch_request,
    "auth_more_data": hs.parse_auth_more_data,
    "auth_next_factor": hs.parse_auth_next_factor,
    "attributes": hs.parse_attributes,
}

REAL = [
    ("handshake", MYSQL57_GREETING, False),
    ("handshake", MYSQL51_GREETING, False),
    ("handshake", MYSQL80_GREETING, False),
    ("handshake_response", MYSQL80_RESPONSE, False),
    ("handshake_response", OLD_CLIENT_RESPONSE, False),
    ("client_hello", MYSQL80_RESPONSE, False),
    ("ssl_request", ARKIME_SSL_REQUEST, True),
    ("auth_switch_request", AUTH_SWITCH_80, False),
    ("auth_more_data", MYSQL80_PUBLIC_KEY, False),
]


@pytest.mark.parametrize(("parser", "payload", "strict"), REAL)
def test_every_prefix_of_real_payloads(parser: str, payload: bytes, strict: bool) -> None:
    check_prefixes(PARSERS[parser], payload, strict=strict)


def test_every_prefix_of_the_recorded_greeting_and_response() -> None:
    check_prefixes(hs.parse_handshake, trace_greeting(), strict=False)
    got = check_prefixes(hs.parse_handshake_response, trace_response(), strict=False)
    # Up to the end of the username's NUL every prefix is an error; after it, fields are
    # optional and short prefixes parse.
    end_of_user = 32 + len(b"root\0")
    assert all(isinstance(g, ProtocolError) for g in got[:end_of_user])


def test_greeting_truncated_inside_the_scramble() -> None:
    # Cut inside auth-plugin-data-part-2: a declared fixed-size field is missing.
    p = trace_greeting()
    part2 = p.index(b"`G!n")
    with pytest.raises(TruncatedPacket) as info:
        hs.parse_handshake(p[: part2 + 5])
    assert 0 <= info.value.offset <= part2 + 5


@pytest.mark.parametrize("parser", sorted(PARSERS))
@given(data=st.binary(max_size=120))
def test_arbitrary_bytes(parser: str, data: bytes) -> None:
    parse_or_error(PARSERS[parser], data)


@given(data=st.binary(min_size=32, max_size=120))
def test_arbitrary_client_hello_with_protocol_41(data: bytes) -> None:
    # Force CLIENT_PROTOCOL_41 so the fuzz gets past the capability check.
    p = data[:1] + bytes([data[1] | 0x02]) + data[2:]
    parse_or_error(hs.parse_client_hello, p)
