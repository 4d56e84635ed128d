"""mywire's reference HTTP gateway: PlanetScale's HTTP API and a native endpoint in front
of any MySQL or MariaDB server (``mywire serve``; see ``README.md`` beside this file).

``create_app(load_config(...))`` is a Starlette ASGI app; see :mod:`mywire.gateway.app`
for the endpoints, :mod:`mywire.gateway.sessions` for sessions and pinning,
:mod:`mywire.gateway.pool` for the connection pool and :mod:`mywire.gateway.config` for
the settings.  Needs the ``gateway`` extra (Starlette, uvicorn, prometheus-client);
importing this package does not (the app loads on first use), so ``mywire serve
--help`` and :mod:`mywire.gateway.config` work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ConfigError, GatewayConfig, load_config

if TYPE_CHECKING:
    from .app import Gateway, GatewayError, create_app

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "GatewayError", "create_app", "load_config"]


def __getattr__(name: str) -> Any:
    if name in ("Gateway", "GatewayError", "create_app"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
