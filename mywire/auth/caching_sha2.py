"""caching_sha2_password: SHA-256 fast path against a server cache, else full auth.

Sources: the MySQL server documentation page "Caching_sha2_password information"
(https://dev.mysql.com/doc/dev/mysql-server/9.2.0/page_caching_sha2_authentication_exchanges.html,
"D-sha2"), MariaDB's protocol page
(https://mariadb.com/docs/server/reference/clientserver-protocol/1-connecting/caching_sha2_password-authentication-plugin,
"D-msha2"), and vitessio/vitess#6716 (a client implementation's description).

The exchange
------------
1. Server -> client, in the Handshake or an AuthSwitchRequest: a 20-byte nonce ("Nonce -
   20 byte long random data", D-sha2), followed by NUL on the wire.
2. Client -> server, in HandshakeResponse41 / AuthSwitchResponse: ``XOR(SHA256(password),
   SHA256(SHA256(SHA256(password)), Nonce))`` (D-sha2 "Scramble"), 32 bytes; an empty
   password is sent as an empty response (PyMySQL ``_auth.py`` sends ``b""``).
3. Server: empty response -> OK for an account without password, else ERR.  Otherwise
   "If server has cached hash entry for given user in memory, it uses scramble sent by
   client to perform fast authentication" (D-sha2); the cache holds "account_name ->
   SHA256(SHA256(user_password))".  Success: AuthMoreData ``0x03`` then OK.  No entry or
   a mismatch: AuthMoreData ``0x04`` ("0x03 value means success authentication. 0x04
   value means continue", D-msha2; a mismatch also leads to full auth, D-sha2 "If there
   is an error, server will signal client to switch to full authentication").
4. Full authentication, after ``0x04``:
   * secure connection: the client sends the password NUL-terminated ("If connection uses
     SSL ... Client sends a clear password answer", D-msha2);
   * otherwise, if the client does not know the server's RSA public key it sends ``0x02``
     ("Public Key Request: fixed 0x02 value", D-msha2) and the server answers with
     AuthMoreData(PEM public key) ("Public Key Response: fixed 0x01 value, public key
     data");
   * then the client sends ``RSA_OAEP(XOR(password + NUL, nonce))`` (D-msha2 "RSA
     encrypted value of XOR (password, seed) using server public key
     (RSA_PKCS1_OAEP_PADDING)"; details in :mod:`mywire.auth._rsa`).
   The server checks the password, caches ``SHA256(SHA256(password))`` for the account
   ("If it is a success, server caches hash entry for the account", D-sha2) and answers
   OK or ERR.
The clear password step is legal only on a secure connection (PROTOCOL_NOTES edge case
29); a server without an RSA key cannot do full authentication on an insecure one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar, Literal

from mywire.auth import (
    AuthStep,
    ClientAuth,
    ServerAuth,
    Sha2Cache,
    _rsa,
    take_nonce,
    xor_bytes,
)

__all__ = ["CachingSha2Client", "CachingSha2Server", "Sha2Cache", "scramble_caching_sha2"]

NAME = "caching_sha2_password"
SCRAMBLE_LENGTH = 20
DIGEST_LENGTH = 32

REQUEST_PUBLIC_KEY = b"\x02"
FAST_AUTH_SUCCESS = b"\x03"
PERFORM_FULL_AUTHENTICATION = b"\x04"


def scramble_caching_sha2(password: bytes, nonce: bytes) -> bytes:
    """``SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce[:20])``; ``b""`` if empty.

    Raises:
        TruncatedPacket: ``nonce`` is shorter than 20 bytes.
    """
    nonce = take_nonce(nonce, SCRAMBLE_LENGTH)
    if not password:
        return b""
    p1 = hashlib.sha256(password).digest()
    p2 = hashlib.sha256(p1).digest()
    return xor_bytes(p1, hashlib.sha256(p2 + nonce).digest())


def _fast_check(response: bytes, nonce: bytes, cached: bytes) -> bool:
    """Does ``response`` prove knowledge of the password whose double SHA-256 is cached?"""
    # response = SHA256(pw) XOR SHA256(cached + nonce), so this recovers SHA256(pw) ...
    candidate = xor_bytes(response, hashlib.sha256(cached + nonce).digest())
    # ... whose SHA-256 is the cached SHA256(SHA256(pw)) exactly when the password matches.
    return hmac.compare_digest(hashlib.sha256(candidate).digest(), cached)


_ClientState = Literal["new", "fast", "key", "done"]


class CachingSha2Client(ClientAuth):
    """Client side: fast path, then full auth in clear (secure) or with RSA."""

    name = NAME

    # Per-exchange state; instances start from these class defaults.
    _state: _ClientState = "new"
    _nonce = b""

    def start(self, scramble: bytes) -> bytes:
        self._nonce = take_nonce(scramble, SCRAMBLE_LENGTH)
        self._state = "fast"
        return scramble_caching_sha2(self._password, self._nonce)

    def more(self, data: bytes) -> bytes | None:
        if self._state == "fast":
            if data == FAST_AUTH_SUCCESS:
                self._state = "done"
                return None
            if data == PERFORM_FULL_AUTHENTICATION:
                return self._full_auth()
            raise self._unexpected(
                data, "0x03 (fast authentication succeeded) or 0x04 (full authentication)"
            )
        if self._state == "key":
            key = _rsa.parse_public_key(data)
            if key is None:
                raise self._unexpected(data, "the server's RSA public key in PEM form")
            self.server_public_key = bytes(data)
            self._state = "done"
            return _rsa.encrypt_password(key, self._password, self._nonce, self.name)
        if self._state == "new":
            raise self._unexpected(data, "nothing before start()")
        raise self._unexpected(data, "no more AuthMoreData (OK or ERR comes next)")

    def _full_auth(self) -> bytes:
        if self.secure:
            self._state = "done"
            return self._password + b"\0"
        if self.server_public_key is not None:
            key = _rsa.parse_public_key(self.server_public_key)
            if key is None:
                raise self._refuse("server_public_key is not a PEM-encoded RSA public key")
            self._state = "done"
            return _rsa.encrypt_password(key, self._password, self._nonce, self.name)
        self._state = "key"
        return REQUEST_PUBLIC_KEY


_ServerState = Literal["start", "full", "rsa"]


class CachingSha2Server(ServerAuth):
    """Server side: fast path from a :class:`Sha2Cache`, else full authentication.

    Without an injected ``cache`` the class-wide :attr:`shared_cache` is used, like the
    single cache of a MySQL server.  A cached value counts only while it equals the
    account's ``credential.sha2_cache_value`` (so a changed password is never accepted
    from a stale entry).  Full authentication checks ``credential.verifier``; over an
    insecure connection it needs ``rsa_private_key``.
    """

    name = NAME
    shared_cache: ClassVar[Sha2Cache] = Sha2Cache()

    _state: _ServerState = "start"

    @property
    def _cache(self) -> Sha2Cache:
        return self.cache if self.cache is not None else type(self).shared_cache

    def _step(self, data: bytes) -> AuthStep:
        if self._state == "start":
            return self._first(data)
        if self._state == "full":
            if self.secure:
                if not data.endswith(b"\0"):
                    return self._fail(True)
                return self._verify(data[:-1])
            if self._rsa_key is None:
                return self._fail(True)
            if data == REQUEST_PUBLIC_KEY:
                self._state = "rsa"
                return AuthStep("more", self._public_pem)
            return self._verify_rsa(data)
        return self._verify_rsa(data)

    def _first(self, data: bytes) -> AuthStep:
        cred = self.credential
        if data in (b"", b"\0"):
            return self._ok() if cred is not None and cred.empty_password else self._fail(False)
        if len(data) != DIGEST_LENGTH or (cred is not None and cred.empty_password):
            return self._fail(True)
        cached = self._cache.get(self.user)
        if (
            cached is not None
            and cred is not None
            and cred.sha2_cache_value is not None
            and hmac.compare_digest(cached, cred.sha2_cache_value)
            and _fast_check(data, self._scramble, cached)
        ):
            return self._ok(FAST_AUTH_SUCCESS)
        self._state = "full"
        return AuthStep("more", PERFORM_FULL_AUTHENTICATION)

    def _verify_rsa(self, ciphertext: bytes) -> AuthStep:
        if self._rsa_key is None:
            return self._fail(True)
        password = _rsa.decrypt_password(self._rsa_key, ciphertext, self._scramble)
        if password is None:
            return self._fail(True)
        return self._verify(password)

    def _verify(self, password: bytes) -> AuthStep:
        cred = self.credential
        if cred is None or not cred.check_password(password):
            return self._fail(True)
        self._cache.put(self.user, hashlib.sha256(hashlib.sha256(password).digest()).digest())
        return self._ok()
