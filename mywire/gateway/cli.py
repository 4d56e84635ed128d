"""``mywire serve``: run the gateway with uvicorn.

``mywire serve --upstream mysql://app:secret@db:3306/shop --listen 127.0.0.1:8080 --user
alice:pw`` (or ``python -m mywire.gateway ...``).  Every option can also come from the
environment (``MYWIRE_GATEWAY_<NAME>``) or a TOML file (``--config``); see
:mod:`mywire.gateway.config`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from .config import ConfigError, GatewayConfig, load_config, parse_users

__all__ = ["add_arguments", "main", "run"]

_HELP = {
    "upstream": "MySQL/MariaDB DSN, e.g. mysql://user:pass@host:3306/db?ssl_mode=verify",
    "listen": "host:port to listen on (default 127.0.0.1:8080)",
    "auth": "'users' (check the --user list) or 'passthrough' (the MySQL account's own)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser`` (one per setting; unset ones default to
    the environment, the file, then the built-in default)."""
    parser.add_argument("--config", metavar="FILE", help="TOML file with settings")
    parser.add_argument(
        "--user",
        action="append",
        metavar="NAME:PASSWORD",
        help="a Basic-auth user (repeatable; password may be sha256:<hex>)",
    )
    for f in dataclasses.fields(GatewayConfig):
        if f.name == "users":
            continue
        option = "--" + f.name.replace("_", "-")
        kind = {"int": int, "float": float}.get(str(f.type), str)
        parser.add_argument(option, type=kind, default=None, help=_HELP.get(f.name))


def run(args: argparse.Namespace) -> int:
    """Load the settings and serve until interrupted; returns the exit status."""
    import uvicorn

    from .app import create_app
    from .logs import configure_logging

    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(GatewayConfig)}
    try:
        if args.user:
            values["users"] = parse_users(args.user)
        config = load_config(values, file=args.config)
        app = create_app(config)
        host, port = config.listen_host, config.listen_port
    except (ConfigError, ValueError) as exc:
        print(f"mywire serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mywire serve", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
