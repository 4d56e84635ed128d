"""MariaDB client_ed25519: the client signs the server's nonce with a password-derived key.

Sources: MariaDB's plugin page https://mariadb.com/kb/en/authentication-plugin-ed25519
("D-ed"); MariaDB/server@7120118a5e (MDEV-12160, "ED25519 authentication plugin"), which
added the server plugin and the ``ed25519_password()`` function; and PyMySQL
``_auth.py::ed25519_password`` (the derivation below, with RFC 8032 section 5.1.6 step
names).  tests/test_auth_mariadb.py checks the derivation against a live MariaDB 10.11
(its ``ed25519_password()`` output and a real client_ed25519 login).  Note: the expected
outputs in that 2017 commit's test file are not what 10.11 prints for the same passwords;
only the live server is used as the reference.

The exchange
------------
1. The account's plugin is ``ed25519`` on the server and ``client_ed25519`` on the client
   (D-ed: "CREATE USER ... IDENTIFIED VIA ed25519 USING PASSWORD('...')").  The server's
   Handshake carries a 20-byte mysql_native_password scramble, so the server sends an
   AuthSwitchRequest naming ``client_ed25519`` with a fresh 32-byte random nonce.
2. The client answers with a 64-byte Ed25519 signature of the nonce, made with a key
   derived from the password the way ref10's ``crypto_sign_keypair`` derives one from a
   seed, but with the whole password as the seed: ``h = SHA512(password)``, secret scalar
   ``s = clamp(h[0:32])``, ``A = [s]B``, ``r = SHA512(h[32:64] + M) mod L``, ``R = [r]B``,
   ``k = SHA512(R + A + M) mod L``, ``S = (r + k*s) mod L``, signature ``R + S``.  An
   empty password is signed like any other (the ``mariadb`` command-line client does the
   same: the server reports "using password: YES").
3. The server stores ``A`` (``ED25519_PASSWORD('...')`` prints it in base64 without
   padding, 43 characters) and checks the signature with the standard Ed25519
   verification, then answers OK or ERR.  For ``USING PASSWORD('')`` MariaDB stores an
   empty string instead, and no client_ed25519 login to that account succeeds (observed
   with MariaDB 10.11 and its own client); :class:`~mywire.auth.Credential` mirrors this.

Standard Ed25519 APIs (``cryptography``'s included) take a 32-byte seed and hash it, so
they cannot take a password of any length as the seed; the scalar arithmetic therefore
comes from libsodium's low-level functions through PyNaCl (``pip install
mywire[ed25519]``), imported only when needed.  Verification is ordinary
``crypto_sign_open``.
"""

from __future__ import annotations

import hashlib
import secrets
from types import ModuleType

from mywire.auth import AuthStep, ClientAuth, ServerAuth, take_nonce
from mywire.errors import UnsupportedFeature

__all__ = [
    "Ed25519Client",
    "Ed25519Server",
    "ed25519_public_key",
    "ed25519_sign",
    "ed25519_verify",
]

NAME = "client_ed25519"
NONCE_LENGTH = 32
SIGNATURE_LENGTH = 64
PUBLIC_KEY_LENGTH = 32


def _sodium() -> ModuleType:
    try:
        import nacl.bindings as sodium
    except ImportError as exc:
        raise UnsupportedFeature(
            "client_ed25519 needs the 'PyNaCl' package: pip install mywire[ed25519]"
        ) from exc
    if not (sodium.has_crypto_core_ed25519 and sodium.has_crypto_scalarmult_ed25519):
        raise UnsupportedFeature(
            "client_ed25519 needs libsodium's ed25519 core functions, which this PyNaCl "
            "build (a minimal libsodium) lacks"
        )
    return sodium


def _expand(password: bytes) -> tuple[bytes, bytes]:
    """``(clamp(h[:32]), h[32:])`` with ``h = SHA512(password)``."""
    h = hashlib.sha512(password).digest()
    s = bytearray(h[:32])
    s[0] &= 248
    s[31] &= 127
    s[31] |= 64
    return bytes(s), h[32:]


def _reduce(sodium: ModuleType, value: bytes) -> bytes:
    reduced: bytes = sodium.crypto_core_ed25519_scalar_reduce(value)
    return reduced


def _base(sodium: ModuleType, scalar: bytes) -> bytes:
    point: bytes = sodium.crypto_scalarmult_ed25519_base_noclamp(scalar)
    return point


def ed25519_public_key(password: bytes) -> bytes:
    """MariaDB's public key for ``password`` (32 bytes), as ED25519_PASSWORD() stores it.

    Raises:
        UnsupportedFeature: PyNaCl (or its ed25519 core functions) is missing.
    """
    sodium = _sodium()
    s, _ = _expand(password)
    return _base(sodium, s)


def ed25519_sign(password: bytes, message: bytes) -> bytes:
    """The 64-byte signature ``R + S`` of ``message`` under the password-derived key.

    Raises:
        UnsupportedFeature: PyNaCl (or its ed25519 core functions) is missing.
    """
    sodium = _sodium()
    s, prefix = _expand(password)
    a = _base(sodium, s)
    r = _reduce(sodium, hashlib.sha512(prefix + message).digest())
    big_r = _base(sodium, r)
    k = _reduce(sodium, hashlib.sha512(big_r + a + message).digest())
    s_reduced = _reduce(sodium, s + bytes(32))  # s mod L: same point, canonical scalar
    ks: bytes = sodium.crypto_core_ed25519_scalar_mul(k, s_reduced)
    big_s: bytes = sodium.crypto_core_ed25519_scalar_add(ks, r)
    return big_r + big_s


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Standard Ed25519 verification of ``signature`` over ``message``.

    Raises:
        UnsupportedFeature: PyNaCl is missing.
    """
    sodium = _sodium()
    if len(signature) != SIGNATURE_LENGTH or len(public_key) != PUBLIC_KEY_LENGTH:
        return False
    from nacl.exceptions import CryptoError

    try:
        sodium.crypto_sign_open(signature + message, public_key)
    except CryptoError:
        return False
    return True


class Ed25519Client(ClientAuth):
    """Client side of client_ed25519 (no AuthMoreData: :meth:`more` always raises)."""

    name = NAME

    def start(self, scramble: bytes) -> bytes:
        return ed25519_sign(self._password, take_nonce(scramble, NONCE_LENGTH))


class Ed25519Server(ServerAuth):
    """Server side of MariaDB's ed25519 plugin; checks ``credential.ed25519_public_key``.

    Raises:
        UnsupportedFeature: at construction, when PyNaCl is missing.
    """

    name = NAME
    scramble_length = NONCE_LENGTH

    def _require(self) -> None:
        _sodium()  # fail at construction, not at the first step

    def _new_scramble(self) -> bytes:
        # MariaDB's nonce is 32 random bytes, NUL included (it travels as string<EOF>).
        return secrets.token_bytes(NONCE_LENGTH)

    def _step(self, data: bytes) -> AuthStep:
        cred = self.credential
        key = None if cred is None else cred.ed25519_public_key
        if key is None or len(data) != SIGNATURE_LENGTH:
            return self._fail(bool(data))
        if ed25519_verify(key, data, self._scramble):
            return self._ok()
        return self._fail(True)
