"""mywire.auth: exact vectors, cross-checks with PyMySQL, client<->server round trips.

The vectors are computed here from the published formulas with hashlib, pinned as literals
(derived once and cross-checked with PyMySQL's ``pymysql._auth``), and compared with
PyMySQL on random inputs.  Every client plugin then talks to its server plugin in memory.
tests/test_auth_mariadb.py checks the same derivations against a live MariaDB.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from dataclasses import dataclass

import pymysql._auth as pymysql_auth
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import assume, given
from hypothesis import strategies as st

from mywire.auth import (
    DEFAULT_SCRYPT_N,
    AuthStep,
    ClientAuth,
    Credential,
    PasswordVerifier,
    ServerAuth,
    Sha2Cache,
    _rsa,
    client_plugin,
    server_plugin,
)
from mywire.auth.caching_sha2 import CachingSha2Client, CachingSha2Server, scramble_caching_sha2
from mywire.auth.clear import ClearPasswordClient, ClearPasswordServer
from mywire.auth.ed25519 import (
    Ed25519Client,
    Ed25519Server,
    ed25519_public_key,
    ed25519_sign,
    ed25519_verify,
)
from mywire.auth.native import NativePasswordClient, NativePasswordServer, scramble_native
from mywire.auth.sha256 import Sha256Client, Sha256Server
from mywire.errors import AuthError, MalformedPacket, TruncatedPacket, UnsupportedFeature

PASSWORD = b"s3cret"
NONCE20 = b"0123456789abcdefghij"
NONCE32 = bytes(range(32))
FAST_N = 16  # scrypt cost for tests: the verifier's logic, not its strength, is under test

# Derived once by hand from the formulas (hashlib), then checked against pymysql._auth
# (scramble_native_password, scramble_caching_sha2, ed25519_password) in the tests below.
NATIVE_S3CRET = bytes.fromhex("714e266755489c6c1ec8b62d32d3438489aaf42c")
CACHING_SHA2_S3CRET = bytes.fromhex(
    "b4e44a5ad3e00e792689879f9e96e7b673cccd90abdfc071692d5225e441d237"
)
ED25519_SIG_S3CRET = bytes.fromhex(
    "23159a9d42e52bfec5c47a6165262a7b75cf8695034fc5e6462b38562612d4cc"
    "2388adf4973be42a13b3e784d5a16bf52aad77292b4b9d9f9b36a1ee8fe4f60c"
)
# What MariaDB 10.11 prints for PASSWORD('s3cret') and ed25519_password('s3cret')
# (re-checked live by tests/test_auth_mariadb.py).
MARIADB_PASSWORD_S3CRET = "*B865CAE8F340F6CE1485A06F4492BB49718DF1EC"
MARIADB_ED25519_S3CRET = "VTpeMO9EoEH32KxFkC6VlQwbz7gSmI253Sqk3kQvx64"

PLUGIN_NAMES = (
    "mysql_native_password",
    "caching_sha2_password",
    "sha256_password",
    "mysql_clear_password",
    "client_ed25519",
)


@functools.cache
def rsa_pem(bits: int = 2048) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_of(private_pem: bytes) -> bytes:
    return _rsa.public_pem(_rsa.load_private_key(private_pem))


@functools.cache
def ec_public_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@functools.cache
def credential(password: bytes = PASSWORD) -> Credential:
    return Credential.from_password(password, scrypt_n=FAST_N)


@pytest.fixture(scope="module", autouse=True)
def _warm_keys() -> None:
    """Generate the RSA test key once, outside any hypothesis deadline."""
    public_of(rsa_pem())


# ------------------------------------------------------------------------------------
# The in-memory exchange
# ------------------------------------------------------------------------------------


@dataclass
class Transcript:
    packets: list[tuple[str, bytes]]  # ("client", payload) / ("server", AuthMoreData data)
    result: AuthStep

    @property
    def client_packets(self) -> list[bytes]:
        return [p for who, p in self.packets if who == "client"]

    @property
    def server_packets(self) -> list[bytes]:
        return [p for who, p in self.packets if who == "server"]


def exchange(client: ClientAuth, server: ServerAuth, *, wire_nul: bool = True) -> Transcript:
    """Run a plugin pair to the end, as a connection would move the packets."""
    scramble = server.scramble() + (b"\0" if wire_nul else b"")
    packets: list[tuple[str, bytes]] = []
    sent = client.start(scramble)
    packets.append(("client", sent))
    step = server.step(sent)
    for _ in range(5):
        if step.kind != "more":
            break
        packets.append(("server", step.data))
        answer = client.more(step.data)
        assert answer is not None, "the server waits for a client packet after AuthMoreData"
        packets.append(("client", answer))
        step = server.step(answer)
    else:
        raise AssertionError(f"no end after {packets}")
    if step.kind == "ok" and step.data:
        packets.append(("server", step.data))
        assert client.more(step.data) is None
    assert server.done
    return Transcript(packets, step)


def ok(t: Transcript) -> bool:
    return t.result.kind == "ok"


# ------------------------------------------------------------------------------------
# Exact vectors
# ------------------------------------------------------------------------------------


def native_by_formula(password: bytes, nonce: bytes) -> bytes:
    stage1 = hashlib.sha1(password).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mask = hashlib.sha1(nonce[:20] + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mask, strict=True))


def caching_sha2_by_formula(password: bytes, nonce: bytes) -> bytes:
    p1 = hashlib.sha256(password).digest()
    p2 = hashlib.sha256(p1).digest()
    mask = hashlib.sha256(p2 + nonce[:20]).digest()
    return bytes(a ^ b for a, b in zip(p1, mask, strict=True))


def test_native_vector() -> None:
    got = NativePasswordClient(PASSWORD, secure=False).start(NONCE20)
    assert got == NATIVE_S3CRET == native_by_formula(PASSWORD, NONCE20)
    assert got == pymysql_auth.scramble_native_password(PASSWORD, NONCE20)
    assert len(got) == 20


def test_native_trailing_nul_and_empty_password() -> None:
    assert scramble_native(PASSWORD, NONCE20 + b"\0") == NATIVE_S3CRET
    assert NativePasswordClient(b"", secure=False).start(NONCE20 + b"\0") == b""


def test_native_stored_hash_matches_mariadb_password_function() -> None:
    cred = credential()
    assert cred.native_hash == hashlib.sha1(hashlib.sha1(PASSWORD).digest()).digest()
    assert cred.native_password_string() == MARIADB_PASSWORD_S3CRET
    assert Credential.from_password(b"", scrypt_n=FAST_N).native_password_string() == ""


def test_caching_sha2_vector() -> None:
    got = CachingSha2Client(PASSWORD, secure=False).start(NONCE20 + b"\0")
    assert got == CACHING_SHA2_S3CRET == caching_sha2_by_formula(PASSWORD, NONCE20)
    assert got == pymysql_auth.scramble_caching_sha2(PASSWORD, NONCE20)
    assert scramble_caching_sha2(b"", NONCE20) == b""
    cred = credential()
    assert cred.sha2_cache_value == hashlib.sha256(hashlib.sha256(PASSWORD).digest()).digest()


def test_ed25519_vector() -> None:
    got = Ed25519Client(PASSWORD, secure=False).start(NONCE32)
    assert got == ED25519_SIG_S3CRET == pymysql_auth.ed25519_password(PASSWORD, NONCE32)
    public = ed25519_public_key(PASSWORD)
    import base64

    assert base64.b64encode(public).rstrip(b"=").decode() == MARIADB_ED25519_S3CRET
    assert credential().ed25519_public_key == public
    # Standard Ed25519 verification accepts it (what the server does).
    import nacl.bindings

    assert nacl.bindings.crypto_sign_open(got + NONCE32, public) == NONCE32
    assert ed25519_verify(public, got, NONCE32)
    assert not ed25519_verify(public, got, bytes(32))


@given(password=st.binary(max_size=80), nonce=st.binary(min_size=20, max_size=20))
def test_sha_scrambles_match_pymysql(password: bytes, nonce: bytes) -> None:
    assert scramble_native(password, nonce) == pymysql_auth.scramble_native_password(
        password, nonce
    )
    assert scramble_caching_sha2(password, nonce) == pymysql_auth.scramble_caching_sha2(
        password, nonce
    )
    if password:
        assert scramble_native(password, nonce) == native_by_formula(password, nonce)
        assert scramble_caching_sha2(password, nonce) == caching_sha2_by_formula(password, nonce)


@given(password=st.binary(max_size=80), nonce=st.binary(min_size=32, max_size=32))
def test_ed25519_matches_pymysql(password: bytes, nonce: bytes) -> None:
    signature = ed25519_sign(password, nonce)
    assert signature == pymysql_auth.ed25519_password(password, nonce)
    assert ed25519_verify(ed25519_public_key(password), signature, nonce)


@pytest.mark.parametrize(
    "client_cls, needed",
    [(NativePasswordClient, 20), (CachingSha2Client, 20), (Sha256Client, 20), (Ed25519Client, 32)],
)
def test_short_scramble_is_truncated(client_cls: type[ClientAuth], needed: int) -> None:
    with pytest.raises(TruncatedPacket) as info:
        client_cls(PASSWORD, secure=True).start(b"x" * (needed - 1))
    assert info.value.offset == needed - 1
    assert str(needed) in info.value.expected


def test_rsa_payload_is_oaep_sha1_of_password_xor_scramble() -> None:
    """Decrypt what the client sends with cryptography directly and undo the XOR."""
    private_pem = rsa_pem()
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    client = Sha256Client(PASSWORD, secure=False, server_public_key=public_of(private_pem))
    sent = client.start(NONCE20 + b"\0")
    assert len(sent) == 256
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    plain = key.decrypt(sent, oaep)
    unmasked = bytes(b ^ NONCE20[i % 20] for i, b in enumerate(plain))
    assert unmasked == PASSWORD + b"\0"


def test_pymysql_rsa_payload_is_accepted_by_our_server() -> None:
    private_pem = rsa_pem()
    sent = pymysql_auth.sha2_rsa_encrypt(PASSWORD, NONCE20, public_of(private_pem))
    server = Sha256Server(credential(), secure=False, scramble=NONCE20, rsa_private_key=private_pem)
    assert server.step(sent).kind == "ok"


def test_rsa_password_too_long_for_key_is_refused_locally() -> None:
    pem = public_of(rsa_pem())
    client = Sha256Client(b"x" * 214, secure=False, server_public_key=pem)
    with pytest.raises(AuthError) as info:
        client.start(NONCE20)
    assert info.value.code == 2061 and info.value.sqlstate == "HY000"
    assert "213" in info.value.message  # 256 - 2*20 - 2 = 214 bytes, one of them the NUL
    assert len(Sha256Client(b"x" * 213, secure=False, server_public_key=pem).start(NONCE20)) == 256


# ------------------------------------------------------------------------------------
# Round trips per plugin
# ------------------------------------------------------------------------------------


def test_native_round_trips() -> None:
    cred = credential()
    assert ok(
        exchange(
            NativePasswordClient(PASSWORD, secure=False), NativePasswordServer(cred, secure=False)
        )
    )
    wrong = exchange(
        NativePasswordClient(b"secret", secure=False),
        NativePasswordServer(cred, secure=False, user="bob"),
    )
    assert wrong.result == AuthStep(
        "fail", message="Access denied for user 'bob'@'localhost' (using password: YES)"
    )
    no_pw = exchange(
        NativePasswordClient(b"", secure=False), NativePasswordServer(cred, secure=False)
    )
    assert no_pw.result.kind == "fail" and "using password: NO" in no_pw.result.message
    empty = Credential.from_password(b"", scrypt_n=FAST_N)
    assert ok(
        exchange(NativePasswordClient(b"", secure=False), NativePasswordServer(empty, secure=False))
    )
    assert not ok(
        exchange(
            NativePasswordClient(PASSWORD, secure=False), NativePasswordServer(empty, secure=False)
        )
    )


def test_native_server_checks_only_the_stored_hash() -> None:
    """A server built from a mysql.user ``*HEX`` string alone authenticates the client."""
    stored = bytes.fromhex(MARIADB_PASSWORD_S3CRET[1:])
    cred = Credential(empty_password=False, native_hash=stored)
    assert ok(
        exchange(
            NativePasswordClient(PASSWORD, secure=False), NativePasswordServer(cred, secure=False)
        )
    )
    # ...and the other plugins refuse, having nothing to check against.
    assert not ok(
        exchange(ClearPasswordClient(PASSWORD, secure=True), ClearPasswordServer(cred, secure=True))
    )


def test_caching_sha2_full_auth_secure_then_fast_path() -> None:
    cache = Sha2Cache()
    cred = credential()

    def run(password: bytes) -> Transcript:
        server = CachingSha2Server(cred, secure=True, user="alice", cache=cache)
        return exchange(CachingSha2Client(password, secure=True), server)

    first = run(PASSWORD)
    assert ok(first)
    assert first.server_packets == [b"\x04"]  # cache empty: full authentication
    assert first.client_packets[1] == PASSWORD + b"\0"  # clear password inside TLS
    assert "alice" in cache

    second = run(PASSWORD)
    assert second.result == AuthStep("ok", b"\x03")  # AuthMoreData 0x03 then OK
    assert second.client_packets == [second.client_packets[0]]  # one packet only

    wrong = run(b"not it")
    assert wrong.result.kind == "fail"
    assert wrong.server_packets == [b"\x04"]  # a mismatch falls back to full authentication


def test_caching_sha2_full_auth_insecure_with_rsa_key_request() -> None:
    private_pem = rsa_pem()
    cache = Sha2Cache()
    server = CachingSha2Server(
        credential(), secure=False, cache=cache, user="u", rsa_private_key=private_pem
    )
    client = CachingSha2Client(PASSWORD, secure=False)
    t = exchange(client, server)
    assert ok(t)
    assert t.server_packets[0] == b"\x04"
    assert t.client_packets[1] == b"\x02"  # public key request
    assert t.server_packets[1] == public_of(private_pem)
    assert t.server_packets[1].startswith(b"-----BEGIN PUBLIC KEY-----")
    assert len(t.client_packets[2]) == 256
    assert client.server_public_key == public_of(private_pem)  # kept for the next connection
    # Next time the client knows the key and skips the request (cache cleared: full auth).
    cache.clear()
    again = CachingSha2Client(PASSWORD, secure=False, server_public_key=client.server_public_key)
    server = CachingSha2Server(
        credential(), secure=False, cache=cache, user="u", rsa_private_key=private_pem
    )
    t2 = exchange(again, server)
    assert ok(t2) and len(t2.client_packets) == 2 and len(t2.client_packets[1]) == 256


def test_caching_sha2_insecure_without_server_key_fails() -> None:
    server = CachingSha2Server(credential(), secure=False, cache=Sha2Cache())
    t = exchange(CachingSha2Client(PASSWORD, secure=False), server)
    assert t.result.kind == "fail"
    assert t.client_packets[1] == b"\x02"


def test_caching_sha2_wrong_password_rsa() -> None:
    server = CachingSha2Server(
        credential(), secure=False, cache=Sha2Cache(), rsa_private_key=rsa_pem()
    )
    assert exchange(CachingSha2Client(b"wrong", secure=False), server).result.kind == "fail"


def test_caching_sha2_empty_password() -> None:
    empty = Credential.from_password(b"", scrypt_n=FAST_N)
    t = exchange(CachingSha2Client(b"", secure=False), CachingSha2Server(empty, secure=False))
    assert ok(t) and t.packets == [("client", b"")]
    t = exchange(
        CachingSha2Client(b"", secure=False), CachingSha2Server(credential(), secure=False)
    )
    assert t.result.kind == "fail" and "using password: NO" in t.result.message
    t = exchange(CachingSha2Client(PASSWORD, secure=True), CachingSha2Server(empty, secure=True))
    assert t.result.kind == "fail"


def test_caching_sha2_stale_cache_entry_is_not_trusted() -> None:
    cache = Sha2Cache()
    cache.put("carol", hashlib.sha256(hashlib.sha256(b"old").digest()).digest())
    # The password changed to PASSWORD; the old password must not pass the fast path.
    server = CachingSha2Server(credential(), secure=True, user="carol", cache=cache)
    t = exchange(CachingSha2Client(b"old", secure=True), server)
    assert t.result.kind == "fail" and t.server_packets == [b"\x04"]


def test_caching_sha2_shared_cache_is_the_default() -> None:
    CachingSha2Server.shared_cache.remove("dave")
    s1 = CachingSha2Server(credential(), secure=True, user="dave")
    assert ok(exchange(CachingSha2Client(PASSWORD, secure=True), s1))
    s2 = CachingSha2Server(credential(), secure=True, user="dave")
    assert exchange(CachingSha2Client(PASSWORD, secure=True), s2).result.data == b"\x03"
    CachingSha2Server.shared_cache.remove("dave")


def test_sha256_round_trips() -> None:
    private_pem = rsa_pem()
    cred = credential()
    secure = exchange(Sha256Client(PASSWORD, secure=True), Sha256Server(cred, secure=True))
    assert ok(secure) and secure.client_packets == [PASSWORD + b"\0"]

    server = Sha256Server(cred, secure=False, rsa_private_key=private_pem)
    client = Sha256Client(PASSWORD, secure=False)
    requested = exchange(client, server)
    assert ok(requested)
    assert requested.client_packets[0] == b"\x01"
    assert requested.server_packets == [public_of(private_pem)]
    assert client.server_public_key == public_of(private_pem)

    server = Sha256Server(cred, secure=False, rsa_private_key=private_pem)
    pre_shared = Sha256Client(PASSWORD, secure=False, server_public_key=public_of(private_pem))
    t = exchange(pre_shared, server)
    assert ok(t) and len(t.client_packets) == 1 and len(t.client_packets[0]) == 256

    server = Sha256Server(cred, secure=False, rsa_private_key=private_pem)
    assert exchange(Sha256Client(b"nope", secure=False), server).result.kind == "fail"
    no_key = Sha256Server(cred, secure=False)
    assert exchange(Sha256Client(PASSWORD, secure=True), no_key).result.kind == "fail"


def test_sha256_empty_password() -> None:
    empty = Credential.from_password(b"", scrypt_n=FAST_N)
    for secure in (True, False):
        t = exchange(Sha256Client(b"", secure=secure), Sha256Server(empty, secure=secure))
        assert ok(t) and t.client_packets == [b"\0"]
    # MariaDB Connector/C sends an empty packet instead of a NUL byte.
    assert Sha256Server(empty, secure=False).step(b"").kind == "ok"
    t = exchange(Sha256Client(b"", secure=True), Sha256Server(credential(), secure=True))
    assert t.result.kind == "fail" and "using password: NO" in t.result.message


def test_clear_password() -> None:
    cred = credential()
    t = exchange(ClearPasswordClient(PASSWORD, secure=True), ClearPasswordServer(cred, secure=True))
    assert ok(t) and t.client_packets == [PASSWORD + b"\0"]
    with pytest.raises(AuthError) as info:
        ClearPasswordClient(PASSWORD, secure=False).start(NONCE20)
    assert info.value.code == 2061 and info.value.sqlstate == "HY000"
    assert "insecure" in info.value.message and "mysql_clear_password" in info.value.message
    allowed = ClearPasswordClient(PASSWORD, secure=False, allow_cleartext=True)
    assert not ok(exchange(allowed, ClearPasswordServer(cred, secure=False)))
    allowed = ClearPasswordClient(PASSWORD, secure=False, allow_cleartext=True)
    assert ok(exchange(allowed, ClearPasswordServer(cred, secure=False, allow_cleartext=True)))
    wrong = ClearPasswordClient(b"x", secure=True)
    assert not ok(exchange(wrong, ClearPasswordServer(cred, secure=True)))
    empty = Credential.from_password(b"", scrypt_n=FAST_N)
    assert ok(
        exchange(ClearPasswordClient(b"", secure=True), ClearPasswordServer(empty, secure=True))
    )


def test_ed25519_round_trips() -> None:
    cred = credential()
    assert ok(exchange(Ed25519Client(PASSWORD, secure=False), Ed25519Server(cred, secure=False)))
    assert not ok(
        exchange(Ed25519Client(b"s3creT", secure=False), Ed25519Server(cred, secure=False))
    )
    # An empty password is signed too, but MariaDB keeps no key for it and refuses.
    empty = Credential.from_password(b"", scrypt_n=FAST_N)
    assert empty.ed25519_public_key is None
    t = exchange(Ed25519Client(b"", secure=False), Ed25519Server(empty, secure=False))
    assert t.result.kind == "fail" and len(t.client_packets[0]) == 64
    # A server given the key of the empty password explicitly does accept the signature.
    explicit = Credential(empty_password=True, ed25519_public_key=ed25519_public_key(b""))
    assert ok(exchange(Ed25519Client(b"", secure=False), Ed25519Server(explicit, secure=False)))
    server = Ed25519Server(cred, secure=False)
    assert len(server.scramble()) == 32
    assert server.step(ED25519_SIG_S3CRET[:63]).kind == "fail"


@pytest.mark.parametrize("name", PLUGIN_NAMES)
def test_unknown_account_fails_like_a_wrong_password(name: str) -> None:
    server = server_plugin(name)(None, secure=True, user="ghost", rsa_private_key=rsa_pem())
    t = exchange(client_plugin(name)(PASSWORD, secure=True), server)
    assert t.result == AuthStep(
        "fail", message="Access denied for user 'ghost'@'localhost' (using password: YES)"
    )


@pytest.mark.parametrize("name", PLUGIN_NAMES)
def test_step_after_the_end_fails(name: str) -> None:
    server = server_plugin(name)(credential(), secure=True, cache=Sha2Cache())
    t = exchange(client_plugin(name)(PASSWORD, secure=True), server)
    assert ok(t)
    assert server.step(b"anything").kind == "fail"


# ------------------------------------------------------------------------------------
# Malformed AuthMoreData on the client
# ------------------------------------------------------------------------------------


def assert_malformed(client: ClientAuth, data: bytes) -> MalformedPacket:
    with pytest.raises(MalformedPacket) as info:
        client.more(data)
    assert info.value.offset == 0
    assert info.value.expected
    return info.value


@pytest.mark.parametrize("cls", [NativePasswordClient, ClearPasswordClient, Ed25519Client])
def test_single_round_trip_plugins_reject_any_more_data(cls: type[ClientAuth]) -> None:
    client = cls(PASSWORD, secure=True)
    client.start(NONCE32)
    for data in (b"", b"\x03", b"\x04", public_of(rsa_pem())):
        assert_malformed(client, data)


def test_caching_sha2_malformed_more() -> None:
    assert_malformed(CachingSha2Client(PASSWORD, secure=False), b"\x03")  # before start()
    for data in (b"", b"\x01", b"\x02", b"\x05", b"\x03\x00", b"\x04\x04", public_of(rsa_pem())):
        client = CachingSha2Client(PASSWORD, secure=False)
        client.start(NONCE20)
        err = assert_malformed(client, data)
        assert "0x03" in err.expected and "0x04" in err.expected
    done = CachingSha2Client(PASSWORD, secure=False)
    done.start(NONCE20)
    assert done.more(b"\x03") is None
    assert_malformed(done, b"\x03")


BAD_KEYS = [
    b"",
    b"\x03",
    b"not a key",
    b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 400 + b"\n-----END PUBLIC KEY-----\n",
    b"-----BEGIN RSA PRIVATE KEY-----\n\n-----END RSA PRIVATE KEY-----\n",
]


@pytest.mark.parametrize("bad", [*BAD_KEYS, "ec"])
def test_rsa_clients_reject_bad_public_keys(bad: bytes | str) -> None:
    data = ec_public_pem() if bad == "ec" else bad
    assert isinstance(data, bytes)
    sha2 = CachingSha2Client(PASSWORD, secure=False)
    sha2.start(NONCE20)
    assert sha2.more(b"\x04") == b"\x02"
    assert "PEM" in assert_malformed(sha2, data).expected
    sha256 = Sha256Client(PASSWORD, secure=False)
    assert sha256.start(NONCE20) == b"\x01"
    assert "PEM" in assert_malformed(sha256, data).expected


@given(data=st.binary(max_size=600))
def test_rsa_key_state_never_raises_anything_but_malformed(data: bytes) -> None:
    client = Sha256Client(PASSWORD, secure=False)
    client.start(NONCE20)
    try:
        client.more(data)
    except MalformedPacket as exc:
        assert exc.offset == 0


def test_bad_pre_shared_key_is_a_local_error() -> None:
    client = CachingSha2Client(PASSWORD, secure=False, server_public_key=b"garbage")
    client.start(NONCE20)
    with pytest.raises(AuthError) as info:
        client.more(b"\x04")
    assert info.value.code == 2061
    with pytest.raises(AuthError):
        Sha256Client(PASSWORD, secure=False, server_public_key=ec_public_pem()).start(NONCE20)


@pytest.mark.parametrize("name", PLUGIN_NAMES)
@given(packets=st.lists(st.binary(max_size=300), min_size=1, max_size=4))
def test_servers_answer_any_bytes_with_a_step(name: str, packets: list[bytes]) -> None:
    for secure in (False, True):
        server = server_plugin(name)(
            credential(), secure=secure, rsa_private_key=rsa_pem(), cache=Sha2Cache()
        )
        for data in packets:
            step = server.step(data)
            assert isinstance(step, AuthStep)


# ------------------------------------------------------------------------------------
# Property: right password accepted, other password refused
# ------------------------------------------------------------------------------------

CONFIGS = [
    ("mysql_native_password", False, False),
    ("caching_sha2_password", True, False),  # full auth, clear inside TLS
    ("caching_sha2_password", False, False),  # full auth, RSA key request
    ("caching_sha2_password", False, True),  # full auth, RSA with pre-shared key
    ("sha256_password", True, False),
    ("sha256_password", False, False),
    ("sha256_password", False, True),
    ("mysql_clear_password", True, False),
    ("client_ed25519", False, False),
]

nonces20 = st.binary(min_size=20, max_size=20).map(lambda b: bytes(x or 1 for x in b))
passwords = st.binary(max_size=60)


def run_config(
    name: str,
    secure: bool,
    pre_shared: bool,
    stored: Credential,
    password: bytes,
    nonce: bytes,
    cache: Sha2Cache,
) -> Transcript:
    server_cls = server_plugin(name)
    if server_cls.scramble_length == 32:
        nonce = hashlib.sha256(nonce).digest()
    server = server_cls(
        stored, secure=secure, scramble=nonce, rsa_private_key=rsa_pem(), cache=cache, user="p"
    )
    key = public_of(rsa_pem()) if pre_shared else None
    client = client_plugin(name)(password, secure=secure, server_public_key=key)
    return exchange(client, server)


@pytest.mark.parametrize("name, secure, pre_shared", CONFIGS)
@given(password=passwords, other=passwords, nonce=nonces20)
def test_server_accepts_right_and_refuses_other_password(
    name: str, secure: bool, pre_shared: bool, password: bytes, other: bytes, nonce: bytes
) -> None:
    assume(other != password)
    stored = Credential.from_password(password, scrypt_n=FAST_N)
    cache = Sha2Cache()
    accepted = ok(run_config(name, secure, pre_shared, stored, password, nonce, cache))
    # MariaDB refuses every ed25519 login to an account whose password is empty.
    assert accepted is not (name == "client_ed25519" and password == b"")
    assert not ok(run_config(name, secure, pre_shared, stored, other, nonce, cache))
    if name == "caching_sha2_password" and password:
        # The successful full auth filled the cache: now the fast path decides.
        fast = run_config(name, secure, pre_shared, stored, password, nonce, cache)
        assert fast.result == AuthStep("ok", b"\x03")
        assert not ok(run_config(name, secure, pre_shared, stored, other, nonce, cache))


# ------------------------------------------------------------------------------------
# Registry, credential, cache, scrambles, optional packages
# ------------------------------------------------------------------------------------


def test_registry() -> None:
    for name in PLUGIN_NAMES:
        assert client_plugin(name).name == name
        assert server_plugin(name).name == name
        assert client_plugin(name.encode()) is client_plugin(name)
    assert server_plugin("ed25519") is Ed25519Server
    for lookup in (client_plugin, server_plugin):
        with pytest.raises(AuthError) as info:
            lookup("dialog")
        assert info.value.code == 2059 and info.value.sqlstate == "HY000"
        assert info.value.message == "Authentication plugin 'dialog' cannot be loaded"
    with pytest.raises(AuthError):
        client_plugin("ed25519")  # the server-side name is not a client plugin


def test_credential_keeps_no_password() -> None:
    secret = b"correct horse battery staple"
    cred = Credential.from_password(secret)
    assert cred.verifier is not None and cred.verifier.n == DEFAULT_SCRYPT_N
    values = [cred.native_hash, cred.sha2_cache_value, cred.ed25519_public_key]
    values += [cred.verifier.salt, cred.verifier.digest]
    assert all(v is not None and secret not in v for v in values)
    assert secret.decode() not in repr(cred) and cred.verifier.digest.hex() not in repr(cred)
    assert cred.check_password(secret) and not cred.check_password(secret + b"!")
    assert not Credential(empty_password=False).check_password(secret)
    other = Credential.from_password(secret)
    assert other.verifier is not None and other.verifier.salt != cred.verifier.salt
    with pytest.raises(TypeError):
        Credential.from_password("text")  # type: ignore[arg-type]
    verifier = PasswordVerifier.create(b"pw", n=FAST_N)
    assert verifier.verify(b"pw") and not verifier.verify(b"pW")
    # HMAC zero-pads short keys: without the length prefix these would all collide.
    for stored, tried in ((b"", b"\0"), (b"pw", b"pw\0"), (b"pw\0", b"pw")):
        assert not PasswordVerifier.create(stored, n=FAST_N).verify(tried)


def test_sha2_cache_is_bounded_lru() -> None:
    cache = Sha2Cache(max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # "a" is now the most recent
    cache.put("c", b"3")
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    cache.remove("a")
    cache.remove("missing")
    assert cache.get("a") is None
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        Sha2Cache(max_entries=0)


@pytest.mark.parametrize("name", PLUGIN_NAMES)
def test_server_scrambles(name: str) -> None:
    cls = server_plugin(name)
    first = cls(credential(), secure=True).scramble()
    second = cls(credential(), secure=True).scramble()
    assert first != second
    if name == "client_ed25519":
        assert len(first) == 32
        return
    assert len(first) == 20
    for _ in range(50):  # MySQL's generate_user_salt: 7-bit, no NUL, no '$'
        s = cls(credential(), secure=True).scramble()
        assert all(0 < b < 0x80 and b != 0x24 for b in s)
    with pytest.raises(ValueError):
        cls(credential(), secure=True, scramble=b"x" * 19)
    with pytest.raises(ValueError):
        cls(credential(), secure=True, scramble=b"\0" * 20)


def test_server_rejects_unusable_private_keys() -> None:
    encrypted = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    )
    for pem in (b"not a key", encrypted, public_of(rsa_pem())):
        with pytest.raises(ValueError):
            Sha256Server(credential(), secure=False, rsa_private_key=pem)


def test_auth_step_kinds() -> None:
    with pytest.raises(ValueError):
        AuthStep("maybe")  # type: ignore[arg-type]
    assert AuthStep("more", b"\x04") == AuthStep(kind="more", data=b"\x04")


def test_client_password_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        NativePasswordClient("s3cret", secure=False)  # type: ignore[arg-type]
    assert "s3cret" not in repr(NativePasswordClient(PASSWORD, secure=False))


def test_without_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (
        "cryptography.exceptions",
        "cryptography.hazmat.primitives",
        "cryptography.hazmat.primitives.asymmetric",
    ):
        monkeypatch.setitem(sys.modules, module, None)
    _rsa.load_private_key.cache_clear()
    # TLS needs no RSA: the whole secure exchange works without the package.
    t = exchange(
        CachingSha2Client(PASSWORD, secure=True),
        CachingSha2Server(credential(), secure=True, cache=Sha2Cache()),
    )
    assert ok(t)
    client = CachingSha2Client(PASSWORD, secure=False)
    client.start(NONCE20)
    assert client.more(b"\x04") == b"\x02"
    with pytest.raises(UnsupportedFeature, match=r"mywire\[rsa\]"):
        client.more(b"-----BEGIN PUBLIC KEY-----\n")
    with pytest.raises(UnsupportedFeature, match=r"mywire\[rsa\]"):
        Sha256Server(credential(), secure=False, rsa_private_key=rsa_pem())
    _rsa.load_private_key.cache_clear()


def test_without_pynacl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nacl.bindings", None)
    with pytest.raises(UnsupportedFeature, match=r"mywire\[ed25519\]"):
        Ed25519Client(PASSWORD, secure=False).start(NONCE32)
    with pytest.raises(UnsupportedFeature, match=r"mywire\[ed25519\]"):
        Ed25519Server(credential(), secure=False, scramble=NONCE32)
    cred = Credential.from_password(PASSWORD, scrypt_n=FAST_N)
    assert cred.ed25519_public_key is None and cred.native_hash is not None
