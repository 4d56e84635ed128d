"""mysql_clear_password: the client sends the password itself, NUL-terminated.

Sources: the MySQL server documentation "Clear text client plugin"
(https://dev.mysql.com/doc/dev/mysql-server/9.4.0/page_protocol_connection_phase_authentication_methods_clear_text_password.html,
"D-clear") and the reference manual's "Client-Side Cleartext Pluggable Authentication"
(https://dev.mysql.com/doc/refman/8.0/en/cleartext-pluggable-authentication.html,
"D-cleartext").

The exchange
------------
1. Server -> client, in the Handshake or an AuthSwitchRequest: "Client side requires
   nothing from the server. But the server generates and sends a 20-byte
   mysql_native_password compatible scramble" (D-clear); the client ignores it.
2. Client -> server, in HandshakeResponse41 / AuthSwitchResponse: "Client side sends the
   password in clear text to the server" (D-clear), NUL-terminated (MariaDB Connector/C
   ``plugins/auth/mariadb_cleartext.c::clear_password_auth_client`` "write password
   including terminating zero character"; PyMySQL ``_process_auth`` sends
   ``password + b"\\0"``).
3. The server checks it (MySQL has no server plugin of this name: PAM and LDAP plugins
   use it, D-cleartext) and answers OK or ERR.

Because the password crosses the wire as is, the client refuses unless the connection is
secure or the caller set ``allow_cleartext`` (libmysqlclient likewise uses the plugin
only when enabled explicitly, e.g. by LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN, D-cleartext).  The
server side likewise verifies only over a secure connection unless ``allow_cleartext``.
"""

from __future__ import annotations

from mywire.auth import AuthStep, ClientAuth, ServerAuth

__all__ = ["ClearPasswordClient", "ClearPasswordServer"]

NAME = "mysql_clear_password"


class ClearPasswordClient(ClientAuth):
    """Client side: ``password + NUL`` if ``secure or allow_cleartext``, else AuthError."""

    name = NAME

    def start(self, scramble: bytes) -> bytes:
        if not (self.secure or self.allow_cleartext):
            raise self._refuse(
                "refusing to send the password in clear text over an insecure connection "
                "(use TLS, or allow_cleartext=True if the network is trusted)"
            )
        return self._password + b"\0"


class ClearPasswordServer(ServerAuth):
    """Server side: checks the clear password against ``credential.verifier``.

    Over an insecure connection without ``allow_cleartext`` every login fails (the
    password has already crossed the network, but the account is not opened that way).
    """

    name = NAME

    def _step(self, data: bytes) -> AuthStep:
        password = data[:-1] if data.endswith(b"\0") else data
        cred = self.credential
        if not (self.secure or self.allow_cleartext):
            return self._fail(bool(password))
        if not password:
            return self._ok() if cred is not None and cred.empty_password else self._fail(False)
        if cred is not None and cred.check_password(password):
            return self._ok()
        return self._fail(True)
