"""mysql_native_password: one round trip, SHA-1 challenge/response.

The exchange
------------
1. The server puts a 20-byte random challenge in the Handshake (auth-plugin-data, parts
   1 and 2, the latter NUL-terminated) or in an AuthSwitchRequest.  MySQL makes it with
   ``generate_user_salt``: 7-bit bytes with no NUL (mysql-server
   ``mysys/crypt_genhash_impl.cc``).
2. The client answers in HandshakeResponse41 (or the AuthSwitchResponse) with
   ``SHA1(password) XOR SHA1(challenge + SHA1(SHA1(password)))``, 20 bytes; "Client side
   requires an 20-byte random challenge from server; Client side sends a 20-byte response"
   (https://dev.mysql.com/doc/dev/mysql-server/8.0.44/page_protocol_connection_phase_authentication_methods_native_password_authentication.html).
   An empty password is sent as an empty response (PyMySQL
   ``_auth.py::scramble_native_password`` returns ``b""``; the servers accept it only for
   accounts without a password).
3. The server stores ``SHA1(SHA1(password))`` ("The following is stored into
   mysql.user.authentication_string: SHA1( SHA1( password ) )", same page) and checks the
   response: ``candidate = response XOR SHA1(challenge + stored)`` must satisfy
   ``SHA1(candidate) == stored``.  It answers OK or ERR; there is no AuthMoreData.
"""

from __future__ import annotations

import hashlib
import hmac

from mywire.auth import AuthStep, ClientAuth, ServerAuth, take_nonce, xor_bytes

__all__ = ["NativePasswordClient", "NativePasswordServer", "scramble_native"]

NAME = "mysql_native_password"
SCRAMBLE_LENGTH = 20


def scramble_native(password: bytes, nonce: bytes) -> bytes:
    """``SHA1(pw) XOR SHA1(nonce[:20] + SHA1(SHA1(pw)))``; ``b""`` for an empty password.

    Raises:
        TruncatedPacket: ``nonce`` is shorter than 20 bytes.
    """
    nonce = take_nonce(nonce, SCRAMBLE_LENGTH)
    if not password:
        return b""
    stage1 = hashlib.sha1(password).digest()
    stage2 = hashlib.sha1(stage1).digest()
    return xor_bytes(stage1, hashlib.sha1(nonce + stage2).digest())


class NativePasswordClient(ClientAuth):
    """Client side of mysql_native_password (no AuthMoreData: :meth:`more` always raises)."""

    name = NAME

    def start(self, scramble: bytes) -> bytes:
        return scramble_native(self._password, scramble)


class NativePasswordServer(ServerAuth):
    """Server side of mysql_native_password; checks ``credential.native_hash``."""

    name = NAME

    def _step(self, data: bytes) -> AuthStep:
        cred = self.credential
        if not data:
            return self._ok() if cred is not None and cred.empty_password else self._fail(False)
        if (
            cred is None
            or cred.empty_password
            or cred.native_hash is None
            or len(data) != SCRAMBLE_LENGTH
        ):
            return self._fail(True)
        stage1 = xor_bytes(data, hashlib.sha1(self._scramble + cred.native_hash).digest())
        if hmac.compare_digest(hashlib.sha1(stage1).digest(), cred.native_hash):
            return self._ok()
        return self._fail(True)
