"""Authentication plugins, client side and server side, as small sans-IO state machines.

Theory of operation
-------------------
Every plugin is one module with a client class and a server class.  Neither touches a
socket: the connection layer moves the bytes and asks the plugin what to send next.

Client side (:class:`ClientAuth`)::

    plugin = client_plugin(name)(password, secure=...)    # name from Handshake / AuthSwitch
    response = plugin.start(scramble)                      # -> HandshakeResponse41 auth data
                                                           #    or the AuthSwitchResponse
    # for every AuthMoreData packet (0x01 + data) the server sends:
    answer = plugin.more(data)                             # data = the bytes after 0x01
    if answer is not None: send it as the next packet      # None: wait for OK/ERR

Server side (:class:`ServerAuth`)::

    plugin = server_plugin(name)(credential, secure=..., user=...)
    challenge = plugin.scramble()                          # -> Handshake / AuthSwitchRequest
    step = plugin.step(first_auth_response)
    while step.kind == "more":                             # send AuthMoreData(step.data)
        step = plugin.step(next_client_packet)
    # "ok": send AuthMoreData(step.data) first if it is not empty, then OK
    # "fail": send ERR 1045 (ER_ACCESS_DENIED_ERROR) with step.message

The server keeps a :class:`Credential` per account instead of the password: the
mysql_native_password hash, the caching_sha2_password cache value, the ed25519 public key
and, for the plugins that receive the password itself, a salted scrypt verifier.

What "secure" means is the caller's decision.  MySQL counts TLS connections, Unix socket
files and shared memory as secure for sending a password in clear ("If the connection is
secure, an RSA key pair is unnecessary and is not used. This applies to TCP connections
encrypted using TLS, as well as Unix socket-file and shared-memory connections",
https://dev.mysql.com/doc/refman/8.0/en/caching-sha2-pluggable-authentication.html).

Errors: bytes from the peer that make no sense in the plugin's current state raise
:class:`~mywire.errors.MalformedPacket` (offset relative to the data given to the method);
a local refusal raises :class:`~mywire.errors.AuthError` with code 2061
(CR_AUTH_PLUGIN_ERR); a missing optional package raises
:class:`~mywire.errors.UnsupportedFeature`.  Any other exception is a bug.  A server plugin
never raises for bad client bytes: it answers ``fail``, as the servers do.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from mywire.errors import AuthError, MalformedPacket, TruncatedPacket, UnsupportedFeature

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "DEFAULT_SCRYPT_N",
    "AuthStep",
    "ClientAuth",
    "Credential",
    "PasswordVerifier",
    "ServerAuth",
    "Sha2Cache",
    "client_plugin",
    "server_plugin",
]

CR_AUTH_PLUGIN_CANNOT_LOAD = 2059
CR_AUTH_PLUGIN_ERR = 2061

# scrypt cost for the password verifier.  N=2**14, r=8, p=1 are the parameters scrypt's
# author gives for interactive logins (Percival, "Stronger key derivation via sequential
# memory-hard functions", 2009); one check takes ~16 MiB and tens of milliseconds, which a
# server pays once per full authentication (caching_sha2 then uses its cache).  Tests pass
# a small N to stay fast.
DEFAULT_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_VERIFIER_BYTES = 32


# ------------------------------------------------------------------------------------
# Small shared helpers (used by the plugin modules)
# ------------------------------------------------------------------------------------


def xor_bytes(a: bytes, b: bytes) -> bytes:
    """XOR two byte strings of the same length."""
    if len(a) != len(b):
        raise ValueError("xor_bytes needs equal lengths")
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


def take_nonce(scramble: bytes, length: int) -> bytes:
    """The first ``length`` bytes of a scramble; anything after (a trailing NUL) is ignored.

    Raises:
        TruncatedPacket: the scramble is shorter than ``length``.
    """
    if len(scramble) < length:
        raise TruncatedPacket(
            f"auth scramble has {len(scramble)} bytes, the plugin needs {length}",
            offset=len(scramble),
            expected=f"a {length}-byte scramble",
        )
    return bytes(scramble[:length])


def mysql_scramble(length: int = 20) -> bytes:
    """A random challenge without NUL bytes, as MySQL servers make it.

    mysql-server ``mysys/crypt_genhash_impl.cc::generate_user_salt`` masks each random byte
    to 7 bits and bumps ``\\0`` and ``$`` by one, so the scramble is a legal NUL-terminated
    UTF-8 string in the Handshake.
    """
    out = bytearray(secrets.token_bytes(length))
    for i, b in enumerate(out):
        b &= 0x7F
        if b in (0, 0x24):  # NUL, '$'
            b += 1
        out[i] = b
    return bytes(out)


def access_denied(user: str, host: str, used_password: bool) -> str:
    """The server's ER_ACCESS_DENIED_ERROR (1045) text."""
    return (
        f"Access denied for user '{user}'@'{host}' "
        f"(using password: {'YES' if used_password else 'NO'})"
    )


# ------------------------------------------------------------------------------------
# What the server stores
# ------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PasswordVerifier:
    """A salted scrypt hash of a password, for plugins that receive the password itself.

    Attributes:
        salt: random salt.
        n, r, p: scrypt cost parameters.
        digest: ``scrypt(password, salt, n, r, p)``, 32 bytes.
    """

    salt: bytes
    n: int
    r: int
    p: int
    digest: bytes

    @classmethod
    def create(cls, password: bytes, *, n: int = DEFAULT_SCRYPT_N) -> PasswordVerifier:
        """Hash ``password`` with a fresh random salt."""
        salt = secrets.token_bytes(_SALT_BYTES)
        return cls(salt, n, _SCRYPT_R, _SCRYPT_P, _scrypt(password, salt, n, _SCRYPT_R, _SCRYPT_P))

    def verify(self, password: bytes) -> bool:
        """Whether ``password`` is the one this verifier was made from (constant time)."""
        got = _scrypt(password, self.salt, self.n, self.r, self.p)
        return hmac.compare_digest(got, self.digest)

    def __repr__(self) -> str:
        return f"PasswordVerifier(scrypt n={self.n} r={self.r} p={self.p})"


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt keys HMAC-SHA256 with the password, and HMAC zero-pads short keys, so b"pw" and
    # b"pw\0" would give the same digest; a length prefix keeps binary passwords distinct.
    material = len(password).to_bytes(8, "big") + password
    # maxmem: 128 * r * n bytes are needed; leave headroom over OpenSSL's 32 MiB default.
    return hashlib.scrypt(
        material, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=_VERIFIER_BYTES
    )


@dataclass(frozen=True, repr=False)
class Credential:
    """What a server keeps for an account: derived values, never the password.

    Build one with :meth:`from_password`, or directly from stored values (for example the
    20 bytes behind a ``mysql.user`` ``*HEX`` string as ``native_hash`` alone).  A plugin
    whose value is missing refuses the account.  Treat a Credential as a secret: the hashes
    let whoever also records one handshake recover the hashed password.

    Attributes:
        empty_password: the account has no password (clients then send an empty response).
        native_hash: SHA1(SHA1(password)), what mysql_native_password checks.
        sha2_cache_value: SHA256(SHA256(password)), what caching_sha2_password caches.
        ed25519_public_key: MariaDB's ed25519 public key (32 bytes), or None.
        verifier: salted scrypt hash for plugins that receive the clear password.
    """

    empty_password: bool
    native_hash: bytes | None = None
    sha2_cache_value: bytes | None = None
    ed25519_public_key: bytes | None = None
    verifier: PasswordVerifier | None = None

    @classmethod
    def from_password(cls, password: bytes, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> Credential:
        """Derive every stored value from ``password``.

        The ed25519 key is computed only when PyNaCl is installed (else it is None and
        client_ed25519 logins fail), and not for the empty password: MariaDB stores an
        empty authentication_string for ``IDENTIFIED VIA ed25519 USING PASSWORD('')`` and
        then refuses every client_ed25519 login to that account (checked against 10.11 in
        tests/test_auth_mariadb.py), and this server does the same.

        Args:
            password: the password as bytes (what the client will send).
            scrypt_n: scrypt cost for the verifier (a power of two).
        """
        if not isinstance(password, bytes):
            raise TypeError("password must be bytes")
        stage1 = hashlib.sha1(password).digest()
        sha = hashlib.sha256(password).digest()
        public_key: bytes | None = None
        if password:
            try:
                from mywire.auth.ed25519 import ed25519_public_key

                public_key = ed25519_public_key(password)
            except UnsupportedFeature:
                pass
        return cls(
            empty_password=password == b"",
            native_hash=hashlib.sha1(stage1).digest(),
            sha2_cache_value=hashlib.sha256(sha).digest(),
            ed25519_public_key=public_key,
            verifier=PasswordVerifier.create(password, n=scrypt_n),
        )

    def check_password(self, password: bytes) -> bool:
        """Whether a clear password matches (False when there is no verifier)."""
        if self.verifier is None:
            return False
        return self.verifier.verify(password)

    def native_password_string(self) -> str:
        """``'*' + HEX(SHA1(SHA1(pw)))``, as ``PASSWORD()`` prints it ('' when empty)."""
        if self.empty_password or self.native_hash is None:
            return ""
        return "*" + self.native_hash.hex().upper()

    def __repr__(self) -> str:
        have = [
            name
            for name, value in (
                ("native_hash", self.native_hash),
                ("sha2_cache_value", self.sha2_cache_value),
                ("ed25519_public_key", self.ed25519_public_key),
                ("verifier", self.verifier),
            )
            if value is not None
        ]
        return f"Credential(empty_password={self.empty_password}, has={have})"


class Sha2Cache:
    """caching_sha2_password's server cache: account -> SHA256(SHA256(password)).

    Filled after a successful full authentication; a later login of the same account can
    then use the fast path.  Call :meth:`remove` when an account's password changes (MySQL
    drops the entry on ALTER USER); the server plugin also ignores an entry that no longer
    matches the account's :class:`Credential`.  Thread-safe.

    Args:
        max_entries: least recently used entries beyond this are dropped.  MySQL's cache is
            unbounded; a bound keeps a server with many accounts from growing without limit
            while any realistic working set (default 10,000 accounts) stays cached.
    """

    DEFAULT_MAX_ENTRIES = 10_000

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user: str) -> bytes | None:
        with self._lock:
            value = self._entries.get(user)
            if value is not None:
                self._entries.move_to_end(user)
            return value

    def put(self, user: str, value: bytes) -> None:
        with self._lock:
            self._entries[user] = value
            self._entries.move_to_end(user)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def remove(self, user: str) -> None:
        with self._lock:
            self._entries.pop(user, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, user: object) -> bool:
        return user in self._entries


# ------------------------------------------------------------------------------------
# Interfaces
# ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthStep:
    """What a server plugin wants sent after a client packet.

    Attributes:
        kind: ``"more"``: send AuthMoreData(``data``) and pass the client's next packet to
            :meth:`ServerAuth.step`.  ``"ok"``: authenticated; if ``data`` is not empty,
            send AuthMoreData(``data``) first and then OK without waiting (caching_sha2's
            fast-auth success ``0x03``).  ``"fail"``: send ERR 1045 with ``message``.
        data: the AuthMoreData payload after its 0x01 marker.
        message: the ERR message for ``"fail"``.
    """

    kind: Literal["ok", "fail", "more"]
    data: bytes = b""
    message: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("ok", "fail", "more"):
            raise ValueError(f"unknown AuthStep kind {self.kind!r}")


class ClientAuth(abc.ABC):
    """Client half of an authentication plugin: one object per exchange.

    Args:
        password: the password as bytes (encode text as the server expects, usually UTF-8).
        secure: the connection is protected (TLS; the caller may also count a Unix socket
            or shared memory, as MySQL does).  Plugins send the clear password only then.
        server_public_key: the server's RSA public key (PEM) if known in advance; the RSA
            plugins then skip the key request.  A key received from the server is stored
            here, so the caller can keep it for the next connection.
        allow_cleartext: let mysql_clear_password send the password over an insecure
            connection.
    """

    name: ClassVar[str]

    def __init__(
        self,
        password: bytes,
        *,
        secure: bool,
        server_public_key: bytes | None = None,
        allow_cleartext: bool = False,
    ) -> None:
        if not isinstance(password, bytes):
            raise TypeError("password must be bytes")
        self._password = password
        self.secure = secure
        self.server_public_key = server_public_key
        self.allow_cleartext = allow_cleartext

    @abc.abstractmethod
    def start(self, scramble: bytes) -> bytes:
        """The auth response for HandshakeResponse41 or the AuthSwitchResponse.

        Args:
            scramble: the auth-plugin-data from the Handshake or AuthSwitchRequest; bytes
                beyond the length the plugin uses (a trailing NUL) are ignored.

        Returns:
            The bytes to send (may be empty).

        Raises:
            TruncatedPacket: the scramble is too short for the plugin.
            AuthError: the plugin refuses to send the password (code 2061).
            UnsupportedFeature: an optional package the plugin needs is missing.
        """

    def more(self, data: bytes) -> bytes | None:
        """Answer an AuthMoreData packet.

        Args:
            data: the packet's payload after its 0x01 marker.

        Returns:
            The next packet to send, or None to send nothing and wait for OK or ERR.

        Raises:
            MalformedPacket: ``data`` is not what the plugin expects now (offset 0).
            AuthError: the plugin refuses to send the password (code 2061).
            UnsupportedFeature: an optional package the plugin needs is missing.
        """
        raise self._unexpected(data, "no AuthMoreData (this plugin has a single round trip)")

    def _unexpected(self, data: bytes, expected: str) -> MalformedPacket:
        shown = data[:16].hex() + ("..." if len(data) > 16 else "")
        return MalformedPacket(
            f"{self.name}: unexpected AuthMoreData ({len(data)} bytes: {shown})",
            offset=0,
            expected=expected,
        )

    def _refuse(self, reason: str) -> AuthError:
        return AuthError(
            CR_AUTH_PLUGIN_ERR,
            "HY000",
            f"Authentication plugin '{self.name}' reported error: {reason}",
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} secure={self.secure}>"


class ServerAuth(abc.ABC):
    """Server half of an authentication plugin: one object per exchange.

    Args:
        credential: the account's stored values; None for an unknown account (the
            exchange runs the same way and ends in ``fail``, so clients cannot tell an
            unknown account from a wrong password).
        secure: the connection is protected (see :class:`ClientAuth`).
        user, host: for the ERR message, and ``user`` keys the caching_sha2 cache.
        scramble: the challenge to use instead of a random one (tests); its length must be
            the plugin's and, for the 20-byte plugins, it must not contain NUL.
        allow_cleartext: accept mysql_clear_password over an insecure connection.
        rsa_private_key: PEM private key for the RSA exchange of sha256_password and
            caching_sha2_password over insecure connections (needs ``mywire[rsa]``).
        cache: the Sha2Cache for caching_sha2_password (default: one per server class).

    Raises:
        ValueError: a bad ``scramble``, or ``rsa_private_key`` is not an unencrypted PEM
            RSA private key.
        UnsupportedFeature: a package the plugin (or ``rsa_private_key``) needs is missing.
    """

    name: ClassVar[str]
    scramble_length: ClassVar[int] = 20

    def __init__(
        self,
        credential: Credential | None,
        *,
        secure: bool,
        user: str = "",
        host: str = "localhost",
        scramble: bytes | None = None,
        allow_cleartext: bool = False,
        rsa_private_key: bytes | None = None,
        cache: Sha2Cache | None = None,
    ) -> None:
        self.credential = credential
        self.secure = secure
        self.user = user
        self.host = host
        self.allow_cleartext = allow_cleartext
        self.cache = cache
        self._require()
        if scramble is None:
            scramble = self._new_scramble()
        elif len(scramble) != self.scramble_length:
            raise ValueError(f"{self.name} needs a {self.scramble_length}-byte scramble")
        elif self.scramble_length == 20 and 0 in scramble:
            raise ValueError("a 20-byte scramble must not contain NUL bytes")
        self._scramble = bytes(scramble)
        self._rsa_key: RSAPrivateKey | None = None
        self._public_pem = b""
        if rsa_private_key is not None:
            from mywire.auth import _rsa

            self._rsa_key = _rsa.load_private_key(rsa_private_key)
            self._public_pem = _rsa.public_pem(self._rsa_key)
        self._done = False

    def _require(self) -> None:
        """Raise UnsupportedFeature if an optional package the plugin needs is missing."""
        return None

    def _new_scramble(self) -> bytes:
        return mysql_scramble(self.scramble_length)

    def scramble(self) -> bytes:
        """The challenge for the Handshake or AuthSwitchRequest (without a trailing NUL)."""
        return self._scramble

    @property
    def done(self) -> bool:
        """True once ``step`` has returned ``ok`` or ``fail``."""
        return self._done

    def step(self, data: bytes) -> AuthStep:
        """Consume one client packet (the first is the auth response).

        After ``ok`` or ``fail`` the exchange is over and every further call returns
        ``fail``.

        Returns:
            What to send next (see :class:`AuthStep`).
        """
        if self._done:
            return AuthStep("fail", message=access_denied(self.user, self.host, bool(data)))
        result = self._step(bytes(data))
        if result.kind != "more":
            self._done = True
        return result

    @abc.abstractmethod
    def _step(self, data: bytes) -> AuthStep: ...

    def _ok(self, data: bytes = b"") -> AuthStep:
        return AuthStep("ok", data)

    def _fail(self, used_password: bool) -> AuthStep:
        return AuthStep("fail", message=access_denied(self.user, self.host, used_password))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.user!r} secure={self.secure}>"


# ------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------


@functools.cache
def _tables() -> tuple[dict[str, type[ClientAuth]], dict[str, type[ServerAuth]]]:
    # Imported here: the plugin modules import this module's base classes.
    from mywire.auth import caching_sha2, clear, ed25519, native, sha256

    pairs: list[tuple[type[ClientAuth], type[ServerAuth]]] = [
        (native.NativePasswordClient, native.NativePasswordServer),
        (caching_sha2.CachingSha2Client, caching_sha2.CachingSha2Server),
        (sha256.Sha256Client, sha256.Sha256Server),
        (clear.ClearPasswordClient, clear.ClearPasswordServer),
        (ed25519.Ed25519Client, ed25519.Ed25519Server),
    ]
    clients = {client.name: client for client, _ in pairs}
    servers = {server.name: server for _, server in pairs}
    # MariaDB names the server side "ed25519" and the client side "client_ed25519".
    servers["ed25519"] = ed25519.Ed25519Server
    return clients, servers


def _plugin_name(name: str | bytes) -> str:
    return name.decode("ascii", "replace") if isinstance(name, bytes) else name


def _cannot_load(name: str) -> AuthError:
    return AuthError(
        CR_AUTH_PLUGIN_CANNOT_LOAD, "HY000", f"Authentication plugin '{name}' cannot be loaded"
    )


def client_plugin(name: str | bytes) -> type[ClientAuth]:
    """The client plugin class for a plugin name from the Handshake or AuthSwitchRequest.

    Raises:
        AuthError: unknown plugin (code 2059, CR_AUTH_PLUGIN_CANNOT_LOAD).
    """
    key = _plugin_name(name)
    found = _tables()[0].get(key)
    if found is None:
        raise _cannot_load(key)
    return found


def server_plugin(name: str | bytes) -> type[ServerAuth]:
    """The server plugin class for an account's plugin name.

    Raises:
        AuthError: unknown plugin (code 2059, CR_AUTH_PLUGIN_CANNOT_LOAD).
    """
    key = _plugin_name(name)
    found = _tables()[1].get(key)
    if found is None:
        raise _cannot_load(key)
    return found
