"""RSA password exchange shared by sha256_password and caching_sha2_password.

Over an insecure connection the client sends ``RSA_encrypt(server_key, XOR(password +
NUL, scramble))``, the scramble repeated to the password's length, with
RSA_PKCS1_OAEP_PADDING: "RSA encrypted value of XOR(password, seed) using server public
key (RSA_PKCS1_OAEP_PADDING)" (https://mariadb.com/kb/en/sha256_password-plugin and
https://mariadb.com/docs/server/reference/clientserver-protocol/1-connecting/caching_sha2_password-authentication-plugin).
The NUL is part of the XORed text and the scramble repeats: mysql-server
``mysys/crypt_genhash_impl.cc::xor_string`` XORs ``to_len + 1`` bytes with
``pattern[i % pattern_len]``, and PyMySQL ``_auth.py::sha2_rsa_encrypt`` does the same.
OpenSSL's RSA_PKCS1_OAEP_PADDING is OAEP with SHA-1 and MGF1(SHA-1) and no label.

The server sends its key as PEM text (``-----BEGIN PUBLIC KEY-----``) in AuthMoreData.

RSA comes from the optional ``cryptography`` package (``pip install mywire[rsa]``),
imported only when an RSA step actually runs.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from mywire.errors import AuthError, UnsupportedFeature

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.padding import OAEP
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

__all__ = [
    "decrypt_password",
    "encrypt_password",
    "load_private_key",
    "parse_public_key",
    "public_pem",
    "xor_repeat",
]

_MISSING = "the RSA password exchange needs the 'cryptography' package: pip install mywire[rsa]"
_SHA1_BYTES = 20


def xor_repeat(data: bytes, pattern: bytes) -> bytes:
    """XOR ``data`` with ``pattern`` repeated to its length."""
    if not pattern:
        raise ValueError("empty XOR pattern")
    reps = len(data) // len(pattern) + 1
    key = (pattern * reps)[: len(data)]
    return bytes(a ^ b for a, b in zip(data, key, strict=True))


def _oaep() -> OAEP:
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError as exc:
        raise UnsupportedFeature(_MISSING) from exc
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None
    )


def parse_public_key(pem: bytes) -> RSAPublicKey | None:
    """Load a PEM RSA public key; None when ``pem`` is not one.

    Raises:
        UnsupportedFeature: ``cryptography`` is not installed.
    """
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as exc:
        raise UnsupportedFeature(_MISSING) from exc
    text = pem.rstrip(b"\0")
    if not text.lstrip().startswith(b"-----BEGIN "):
        return None
    try:
        key = serialization.load_pem_public_key(text)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def max_password_length(key: RSAPublicKey | RSAPrivateKey) -> int:
    """The longest password (without its NUL) that OAEP-SHA1 can carry under ``key``."""
    return key.key_size // 8 - 2 * _SHA1_BYTES - 2 - 1


def encrypt_password(key: RSAPublicKey, password: bytes, nonce: bytes, plugin: str) -> bytes:
    """``RSA-OAEP(key, XOR(password + NUL, nonce repeated))``.

    Raises:
        AuthError: the password is too long for the key (2061, CR_AUTH_PLUGIN_ERR).
        UnsupportedFeature: ``cryptography`` is not installed.
    """
    limit = max_password_length(key)
    if len(password) > limit:
        raise AuthError(
            2061,
            "HY000",
            f"Authentication plugin '{plugin}' reported error: the password is "
            f"{len(password)} bytes; the server's {key.key_size}-bit RSA key carries at "
            f"most {limit}",
        )
    return key.encrypt(xor_repeat(password + b"\0", nonce), _oaep())


@functools.lru_cache(maxsize=16)
def load_private_key(pem: bytes) -> RSAPrivateKey:
    """Load (once per distinct PEM) an unencrypted PEM RSA private key.

    Raises:
        ValueError: ``pem`` is not an unencrypted RSA private key.
        UnsupportedFeature: ``cryptography`` is not installed.
    """
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as exc:
        raise UnsupportedFeature(_MISSING) from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # encrypted PEM
        raise ValueError(f"rsa_private_key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("rsa_private_key is not an RSA key")
    return key


def public_pem(key: RSAPrivateKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of ``key``'s public half, as servers send it."""
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def decrypt_password(key: RSAPrivateKey, ciphertext: bytes, nonce: bytes) -> bytes | None:
    """Undo :func:`encrypt_password`; None when ``ciphertext`` does not decrypt to
    a NUL-terminated password."""
    if len(ciphertext) != key.key_size // 8:
        return None
    try:
        plain = key.decrypt(ciphertext, _oaep())
    except ValueError:
        return None
    text = xor_repeat(plain, nonce)
    if not text.endswith(b"\0"):
        return None
    return text[:-1]
