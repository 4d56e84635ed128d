"""sha256_password: the password in clear over a secure connection, else RSA-encrypted.

Sources: MariaDB's protocol page https://mariadb.com/kb/en/sha256_password-plugin
("D-s256"), and the MySQL client ``sha256_password_auth_client`` as mirrored by PyMySQL
``_auth.py::sha256_password_auth`` and the initial response in
``connections.py::_request_authentication``.

The exchange
------------
1. Server -> client, in the Handshake or an AuthSwitchRequest: a 20-byte scramble
   (followed by NUL on the wire), as for mysql_native_password.
2. Client -> server, in HandshakeResponse41 / AuthSwitchResponse:
   * empty password: a single NUL byte (mysql-server ``sha256_password_auth_client``
     "We're not using a password" writes one zero byte; PyMySQL sends ``b"\\0"``).
     MariaDB Connector/C sends an empty packet instead; the server accepts both;
   * secure connection: the password NUL-terminated ("if connection use SSL ... client
     send a clear password answer: string<NUL> password without encryption", D-s256);
   * insecure, public key known: the RSA-encrypted password (below);
   * insecure, key unknown: ``0x01`` ("Public key request: byte<1> fixed 0x01 value",
     D-s256).  The server answers with AuthMoreData(PEM public key) ("server sends a public
     key response") and the client then sends the RSA-encrypted password.
3. The RSA-encrypted password is "RSA encrypted value of XOR(password, seed) using server
   public key (RSA_PKCS1_OAEP_PADDING)" (D-s256), 256 bytes for a 2048-bit key; details
   in :mod:`mywire.auth._rsa`.
4. The server checks the password and "ends with server sending either OK_Packet,
   ERR_Packet" (D-s256).  It never sends ``0x03``/``0x04`` (that is caching_sha2).
"""

from __future__ import annotations

from typing import Literal

from mywire.auth import AuthStep, ClientAuth, ServerAuth, _rsa, take_nonce

__all__ = ["Sha256Client", "Sha256Server"]

NAME = "sha256_password"
SCRAMBLE_LENGTH = 20
REQUEST_PUBLIC_KEY = b"\x01"

_ClientState = Literal["new", "key", "done"]


class Sha256Client(ClientAuth):
    """Client side of sha256_password."""

    name = NAME

    # Per-exchange state; instances start from these class defaults.
    _state: _ClientState = "new"
    _nonce = b""

    def start(self, scramble: bytes) -> bytes:
        self._nonce = take_nonce(scramble, SCRAMBLE_LENGTH)
        self._state = "done"
        if not self._password or self.secure:
            return self._password + b"\0"
        if self.server_public_key is not None:
            key = _rsa.parse_public_key(self.server_public_key)
            if key is None:
                raise self._refuse("server_public_key is not a PEM-encoded RSA public key")
            return _rsa.encrypt_password(key, self._password, self._nonce, self.name)
        self._state = "key"
        return REQUEST_PUBLIC_KEY

    def more(self, data: bytes) -> bytes | None:
        if self._state != "key":
            return super().more(data)
        key = _rsa.parse_public_key(data)
        if key is None:
            raise self._unexpected(data, "the server's RSA public key in PEM form")
        self.server_public_key = bytes(data)
        self._state = "done"
        return _rsa.encrypt_password(key, self._password, self._nonce, self.name)


class Sha256Server(ServerAuth):
    """Server side of sha256_password; checks ``credential.verifier``.

    Over an insecure connection it needs ``rsa_private_key``; without one only accounts
    with an empty password can log in there.
    """

    name = NAME

    _state: Literal["start", "rsa"] = "start"

    def _step(self, data: bytes) -> AuthStep:
        cred = self.credential
        if self._state == "start":
            if data in (b"", b"\0"):
                ok = cred is not None and cred.empty_password
                return self._ok() if ok else self._fail(False)
            if self.secure:
                if not data.endswith(b"\0"):
                    return self._fail(True)
                return self._verify(data[:-1])
            if self._rsa_key is None:
                return self._fail(True)
            if data == REQUEST_PUBLIC_KEY:
                self._state = "rsa"
                return AuthStep("more", self._public_pem)
        if self._rsa_key is None:  # pragma: no cover - "rsa" state implies a key
            return self._fail(True)
        password = _rsa.decrypt_password(self._rsa_key, data, self._scramble)
        if password is None:
            return self._fail(True)
        return self._verify(password)

    def _verify(self, password: bytes) -> AuthStep:
        cred = self.credential
        if cred is not None and cred.check_password(password):
            return self._ok()
        return self._fail(True)
