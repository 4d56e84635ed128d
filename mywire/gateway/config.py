"""Gateway configuration: defaults, a TOML file, environment variables, arguments.

Each setting has one name, used as the TOML key, as the environment variable
``MYWIRE_GATEWAY_<NAME>`` (upper case) and as the ``mywire serve --<name>`` option
(``_`` → ``-``).  Later sources win: defaults < file < environment < arguments.

Credentials for HTTP Basic auth are either a list of users (``[users]`` table in the file,
``name = "password"`` or ``name = "sha256:<hex of sha256(password)>"``; the environment
variable ``MYWIRE_GATEWAY_USERS`` as ``name:password`` pairs separated by newlines or
commas; ``--user name:password``), or ``auth = "passthrough"``: the Basic credentials are
the MySQL account itself, checked by the upstream server when the gateway opens a
connection for them (one pool per account).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ENV_PREFIX", "ConfigError", "GatewayConfig", "load_config"]

ENV_PREFIX = "MYWIRE_GATEWAY_"


class ConfigError(ValueError):
    """A setting is missing, unknown or has the wrong type."""


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """Everything the gateway needs; see the module docstring for the sources."""

    #: The MySQL/MariaDB server (``aio.connect`` DSN).  In passthrough mode its user and
    #: password are replaced by the request's credentials.
    upstream: str = "mysql://root@127.0.0.1:3306/test"
    #: ``host:port`` for ``mywire serve``.
    listen: str = "127.0.0.1:8080"
    #: ``"users"`` (check against :attr:`users`) or ``"passthrough"`` (the MySQL account).
    auth: str = "users"
    #: user name → password (or ``"sha256:<hex>"``).
    users: Mapping[str, str] = field(default_factory=dict)
    #: Upstream TLS (``aio.connect``'s ssl_mode / ssl_ca); None keeps the DSN's choice.
    upstream_ssl_mode: str | None = None
    upstream_ssl_ca: str | None = None
    #: Connections kept open per pool, and the most it opens.
    pool_min_size: int = 1
    pool_max_size: int = 10
    #: How long a request waits for a free connection before a 503.
    pool_timeout: float = 5.0
    #: An idle connection unused for longer than this is pinged before reuse.
    pool_health_check: float = 30.0
    #: Idle connections beyond ``pool_min_size`` are closed after this long.
    pool_max_idle: float = 300.0
    #: A connection that may hold session state is ``"reset"`` (COM_RESET_CONNECTION and
    #: the session setup again) or ``"reconnect"``-ed before another request gets it.
    pool_reset: str = "reset"
    #: Passthrough mode: most accounts with a pool at once (the least recently used idle
    #: pool is closed to make room).
    max_pools: int = 32
    connect_timeout: float = 5.0
    #: Seconds one statement may run (server-side ``max_statement_time`` on MariaDB, and
    #: the gateway's own deadline a second later).  0 turns it off.
    query_timeout: float = 30.0
    #: Largest request body accepted (bytes).
    max_body_bytes: int = 16 << 20
    #: Rows per response (PlanetScale's limit is 100,000).  0 turns it off.
    max_rows: int = 100_000
    #: Bytes per response body.  0 turns it off.
    max_response_bytes: int = 64 << 20
    #: Key for the HMAC over session tokens; instances behind one load balancer share it.
    #: Unset: a random key per process (sessions do not survive a restart).
    session_secret: str = ""
    #: A pinned session (open transaction or other connection state) idle for longer than
    #: this is rolled back and its connection reset (PlanetScale: 20 s per transaction).
    session_idle_timeout: float = 20.0
    #: Session tokens expire this long after their last use (sliding).
    session_max_age: float = 86_400.0
    #: Names this gateway process in pinned-session tokens and errors.
    instance_id: str = ""
    #: ``debug``, ``info``, ``warning``, ``error``.
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.auth not in ("users", "passthrough"):
            raise ConfigError(f"auth must be 'users' or 'passthrough', not {self.auth!r}")
        if self.pool_reset not in ("reset", "reconnect"):
            raise ConfigError(f"pool_reset must be 'reset' or 'reconnect', not {self.pool_reset!r}")
        if self.pool_max_size < 1 or self.pool_min_size < 0:
            raise ConfigError("pool_max_size must be at least 1 and pool_min_size not negative")
        if self.pool_min_size > self.pool_max_size:
            raise ConfigError("pool_min_size must not exceed pool_max_size")
        if self.max_response_bytes and self.max_response_bytes < 1024:
            raise ConfigError("max_response_bytes must be at least 1024 (or 0 for no limit)")
        for name in ("pool_timeout", "connect_timeout", "session_idle_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if not self.upstream.startswith(("mysql://", "mariadb://")):
            raise ConfigError("upstream must be a mysql:// or mariadb:// DSN")

    @property
    def listen_host(self) -> str:
        host, _, _ = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1"

    @property
    def listen_port(self) -> int:
        _, _, port = self.listen.rpartition(":")
        try:
            return int(port)
        except ValueError:
            raise ConfigError(f"listen must be host:port, not {self.listen!r}") from None

    def secret_bytes(self) -> bytes:
        return self.session_secret.encode()

    def redacted(self) -> dict[str, object]:
        """The settings without secrets (for logs)."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "users":
                value = sorted(value)
            elif f.name == "session_secret":
                value = "<set>" if value else "<random>"
            elif f.name == "upstream":
                value = _redact_dsn(value)
            out[f.name] = value
        return out


def _redact_dsn(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return dsn
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in creds else dsn


_FIELDS = {f.name: f for f in dataclasses.fields(GatewayConfig)}


def _convert(name: str, value: object) -> object:
    """Convert a file/env/argument value to the field's type."""
    if name == "users":
        if isinstance(value, Mapping):
            return {str(k): str(v) for k, v in value.items()}
        if isinstance(value, str):
            return parse_users(value.replace("\n", ",").split(","))
        if isinstance(value, (list, tuple)):
            return parse_users([str(v) for v in value])
        raise ConfigError("users must be a table of name = password")
    kind = _FIELDS[name].type
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise TypeError
            return int(value)  # type: ignore[call-overload]
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)  # type: ignore[arg-type]
        if kind == "str | None":
            return None if value in (None, "") else str(value)
        if not isinstance(value, (str, int, float)):
            raise TypeError
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} has a wrong value: {value!r}") from None


def parse_users(items: list[str]) -> dict[str, str]:
    """``["name:password", ...]`` → mapping (blank items are skipped)."""
    users: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise ConfigError("a user must be given as name:password")
        users[name] = password
    return users


def load_config(
    arguments: Mapping[str, object] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    file: str | Path | None = None,
) -> GatewayConfig:
    """Build the configuration from a TOML file, the environment and ``arguments``.

    Args:
        arguments: settings by name; None values are ignored (options not given).
        env: the environment (``os.environ`` by default); ``MYWIRE_GATEWAY_CONFIG`` names
            the file when ``file`` is None.
        file: a TOML file: settings as top-level keys or in a ``[gateway]`` table, users
            in a ``[users]`` table.

    Raises:
        ConfigError: an unknown setting, a wrong value, an unreadable file.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    path = file if file is not None else env.get(ENV_PREFIX + "CONFIG") or None
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from None
        table: dict[str, Any] = dict(data.get("gateway", {}))
        table.update({k: v for k, v in data.items() if k != "gateway" and not isinstance(v, dict)})
        if "users" in data:
            table["users"] = data["users"]
        for key, value in table.items():
            if key not in _FIELDS:
                raise ConfigError(f"unknown setting {key!r} in {str(path)!r}")
            values[key] = _convert(key, value)
    for key in _FIELDS:
        raw = env.get(ENV_PREFIX + key.upper())
        if raw is not None:
            values[key] = _convert(key, raw)
    for key, value in (arguments or {}).items():
        if value is None:
            continue
        if key not in _FIELDS:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _convert(key, value)
    if not values.get("session_secret"):
        values["session_secret"] = ""
    if not values.get("instance_id"):
        values["instance_id"] = secrets.token_hex(4)
    return GatewayConfig(**values)  # type: ignore[arg-type]
