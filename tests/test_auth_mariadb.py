"""mywire.auth against a live MariaDB (``MYWIRE_TEST_DSN``, default root@127.0.0.1/test).

* ``PASSWORD()`` and ``ed25519_password()`` computed by the server equal the values in
  :class:`mywire.auth.Credential` (queried through PyMySQL).
* Real logins: accounts created here with mysql_native_password and ed25519 are logged
  into over a plain socket by a small hand-written handshake in this file that asks
  mywire's client plugins for every auth packet (HandshakeResponse41, the
  AuthSwitchResponse after MariaDB switches to client_ed25519).  A wrong password must
  get ERR 1045.

MariaDB 10.11 has no caching_sha2_password or sha256_password server plugin, and its
cleartext consumers (PAM) need system configuration, so those plugins are checked only in
tests/test_auth.py (formulas, PyMySQL, in-memory round trips).

The ed25519 plugin is installed with ``INSTALL SONAME 'auth_ed25519'`` and its SQL
function with ``CREATE FUNCTION ed25519_password ... SONAME 'auth_ed25519.so'`` (10.11
does not register the function with the plugin); both stay installed.  If the plugin
library is missing the ed25519 tests skip with that reason.
"""

from __future__ import annotations

import base64
import secrets
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import pymysql
import pytest

from mywire.auth import ClientAuth, Credential, client_plugin
from mywire.auth.ed25519 import Ed25519Client, Ed25519Server, ed25519_public_key

from helpers import (
    BASE_CAPABILITIES,
    CLIENT_CONNECT_WITH_DB,
    UTF8MB4_GENERAL_CI,
    Dsn,
    parse_handshake,
)

pytestmark = pytest.mark.mariadb

PASSWORD = b"s3cret"
ER_ACCESS_DENIED_ERROR = 1045
ER_CANT_OPEN_LIBRARY = 1126
ER_UDF_EXISTS = 1125
ER_PLUGIN_INSTALLED = 1968


def connect(dsn: Dsn) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=dsn.host,
        port=dsn.port,
        user=dsn.user,
        password=dsn.password,
        database=dsn.database or None,
        autocommit=True,
    )


def scalar(dsn: Dsn, sql: str, *args: object) -> object:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, args or None)
        row = cur.fetchone()
        assert row is not None
        return row[0]


def execute(dsn: Dsn, *statements: str) -> None:
    with connect(dsn) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


# ------------------------------------------------------------------------------------
# A minimal login driven by mywire's client plugins
# ------------------------------------------------------------------------------------


@dataclass
class LoginResult:
    ok: bool
    error_code: int
    plugins: list[str]  # the plugin named in the Handshake, then any AuthSwitchRequest


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return bytes(buf)

    head = exactly(4)
    length = head[0] | head[1] << 8 | head[2] << 16
    return head[3], exactly(length)


def _send(sock: socket.socket, seq: int, payload: bytes) -> None:
    assert len(payload) < 0xFFFFFF
    sock.sendall(struct.pack("<I", len(payload))[:3] + bytes((seq & 0xFF,)) + payload)


def login(dsn: Dsn, user: str, password: bytes) -> LoginResult:
    """Handshake + authentication only, every auth byte produced by mywire.auth."""
    with socket.create_connection((dsn.host, dsn.port), timeout=10.0) as sock:
        seq, payload = _read_packet(sock)
        handshake = parse_handshake(payload)
        name = handshake.auth_plugin_name.decode()
        plugins = [name]
        plugin: ClientAuth = client_plugin(name)(password, secure=False)
        response = plugin.start(handshake.auth_plugin_data)
        caps = BASE_CAPABILITIES & ~CLIENT_CONNECT_WITH_DB
        assert len(response) < 251
        body = struct.pack("<IIB23x", caps, 1 << 24, UTF8MB4_GENERAL_CI)
        body += user.encode() + b"\0" + bytes((len(response),)) + response
        body += handshake.auth_plugin_name + b"\0"
        _send(sock, seq + 1, body)
        for _ in range(10):
            seq, payload = _read_packet(sock)
            marker = payload[:1]
            if marker == b"\x00":
                return LoginResult(True, 0, plugins)
            if marker == b"\xff":
                return LoginResult(False, int.from_bytes(payload[1:3], "little"), plugins)
            if marker == b"\xfe":  # AuthSwitchRequest: plugin name NUL, plugin data
                raw_name, _, data = payload[1:].partition(b"\0")
                plugins.append(raw_name.decode())
                plugin = client_plugin(raw_name)(password, secure=False)
                _send(sock, seq + 1, plugin.start(data))
            elif marker == b"\x01":  # AuthMoreData
                answer = plugin.more(payload[1:])
                if answer is not None:
                    _send(sock, seq + 1, answer)
            else:
                raise AssertionError(f"unexpected packet during authentication: {payload!r}")
        raise AssertionError("authentication did not finish")


# ------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ed25519_ready(mariadb_dsn: Dsn) -> Dsn:
    """Install the ed25519 plugin and its SQL function, or skip if the library is absent."""
    try:
        execute(mariadb_dsn, "INSTALL SONAME 'auth_ed25519'")
    except pymysql.err.MySQLError as exc:
        code = exc.args[0]
        if code == ER_CANT_OPEN_LIBRARY:
            pytest.skip(f"MariaDB's auth_ed25519 plugin library is not installed: {exc}")
        if code != ER_PLUGIN_INSTALLED:
            raise
    try:
        execute(
            mariadb_dsn,
            "CREATE FUNCTION ed25519_password RETURNS STRING SONAME 'auth_ed25519.so'",
        )
    except pymysql.err.MySQLError as exc:
        if exc.args[0] != ER_UDF_EXISTS:
            raise
    return mariadb_dsn


@pytest.fixture(scope="module")
def accounts(mariadb_dsn: Dsn, ed25519_ready: Dsn) -> Iterator[dict[str, str]]:
    """Throw-away accounts (unique names), dropped afterwards."""
    tag = secrets.token_hex(4)
    names = {
        "native": f"mywire_auth_native_{tag}",
        "ed25519": f"mywire_auth_ed_{tag}",
        "ed25519_empty": f"mywire_auth_ed0_{tag}",
    }
    execute(
        mariadb_dsn,
        f"CREATE USER '{names['native']}'@'%' IDENTIFIED VIA mysql_native_password "
        "USING PASSWORD('s3cret')",
        f"CREATE USER '{names['ed25519']}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('s3cret')",
        f"CREATE USER '{names['ed25519_empty']}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('')",
    )
    try:
        yield names
    finally:
        execute(mariadb_dsn, *(f"DROP USER IF EXISTS '{n}'@'%'" for n in names.values()))


# ------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------


SAMPLES = [b"s3cret", b"", b"foo", "pässwörd ✓".encode(), bytes(range(1, 256))]


def test_password_function_equals_native_hash(mariadb_dsn: Dsn) -> None:
    assert scalar(mariadb_dsn, "SELECT PASSWORD('s3cret')") == (
        Credential.from_password(PASSWORD, scrypt_n=16).native_password_string()
    )
    for sample in SAMPLES:
        cred = Credential.from_password(sample, scrypt_n=16)
        assert scalar(mariadb_dsn, "SELECT PASSWORD(%s)", sample) == cred.native_password_string()


def test_ed25519_password_function_equals_public_key(ed25519_ready: Dsn) -> None:
    for sample in SAMPLES:
        expected = base64.b64encode(ed25519_public_key(sample)).rstrip(b"=").decode()
        if sample:
            assert Credential.from_password(sample, scrypt_n=16).ed25519_public_key == (
                ed25519_public_key(sample)
            )
        assert len(expected) == 43
        got = scalar(ed25519_ready, "SELECT ED25519_PASSWORD(%s)", sample)
        assert isinstance(got, bytes)  # a UDF result: binary string
        assert got.decode() == expected, sample


def test_native_login(mariadb_dsn: Dsn, accounts: dict[str, str]) -> None:
    result = login(mariadb_dsn, accounts["native"], PASSWORD)
    assert result == LoginResult(True, 0, ["mysql_native_password"])
    wrong = login(mariadb_dsn, accounts["native"], b"s3creT")
    assert wrong == LoginResult(False, ER_ACCESS_DENIED_ERROR, ["mysql_native_password"])


def test_ed25519_login(mariadb_dsn: Dsn, accounts: dict[str, str]) -> None:
    result = login(mariadb_dsn, accounts["ed25519"], PASSWORD)
    assert result == LoginResult(True, 0, ["mysql_native_password", "client_ed25519"])
    wrong = login(mariadb_dsn, accounts["ed25519"], b"s3creT")
    assert not wrong.ok and wrong.error_code == ER_ACCESS_DENIED_ERROR
    assert wrong.plugins == ["mysql_native_password", "client_ed25519"]


def test_ed25519_empty_password_account_refuses_like_our_server(
    mariadb_dsn: Dsn, accounts: dict[str, str]
) -> None:
    """``USING PASSWORD('')`` stores an empty string; MariaDB then refuses every login.

    Credential.from_password(b"") keeps no ed25519 key, so Ed25519Server refuses too.
    """
    stored = scalar(
        mariadb_dsn,
        "SELECT JSON_VALUE(priv, '$.authentication_string') FROM mysql.global_priv "
        "WHERE user = %s AND host = '%%'",
        accounts["ed25519_empty"],
    )
    assert stored == ""
    for password in (b"", b"x"):
        result = login(mariadb_dsn, accounts["ed25519_empty"], password)
        assert result == LoginResult(
            False, ER_ACCESS_DENIED_ERROR, ["mysql_native_password", "client_ed25519"]
        )
    cred = Credential.from_password(b"", scrypt_n=16)
    server = Ed25519Server(cred, secure=False)
    assert server.step(Ed25519Client(b"", secure=False).start(server.scramble())).kind == "fail"
