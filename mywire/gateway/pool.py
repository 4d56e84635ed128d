"""Upstream connections: opening them set up for the gateway, and an asyncio pool.

Theory of operation
-------------------
:func:`open_upstream` connects with :mod:`mywire.aio` (CLIENT_FOUND_ROWS on, so
``rowsAffected`` of an UPDATE counts matched rows as PlanetScale reports them;
multi-statements off) and runs the session setup every request relies on:
``utf8mb4`` results (the serverless driver decodes all text as UTF-8), UTC
(``time_zone='+00:00'``; the driver sends dates as UTC wall-clock text), no
``NO_BACKSLASH_ESCAPES`` (the driver escapes with backslashes), session-state tracking
(so an OK packet says when a statement left state on the connection) and, on MariaDB,
``max_statement_time`` (the query time limit enforced by the server itself).

:class:`Pool` hands out :class:`Upstream` connections.  ``acquire`` takes an idle one
(pinging it first when it sat idle longer than ``health_check``), opens a new one below
``max_size``, or waits in line; a waiter that gets nothing within ``timeout`` gets
:class:`PoolTimeout` (the gateway answers 503).  ``release(conn, dirty=...)`` hands a
clean connection straight to the next waiter or back to the idle list; a *dirty* one (it
may hold session state: variables, temporary tables, an open transaction) is first reset
with COM_RESET_CONNECTION plus the session setup, or replaced by a fresh connection,
before anyone else sees it.  ``discard`` drops a broken one.  ``maintain`` (run every few
seconds by the app) closes idle connections beyond ``min_size`` after ``max_idle`` and
opens connections up to ``min_size``.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .. import aio
from ..constants import Capability
from ..errors import AuthError, MywireError
from ..events import ResetConnection, SessionState
from ..packets.generic import parse_session_state

__all__ = [
    "Pool",
    "PoolClosed",
    "PoolTimeout",
    "STATE_CHANGE_TRACKING",
    "Upstream",
    "UpstreamUnavailable",
    "open_upstream",
]

log = logging.getLogger("mywire.gateway")


def _state_change_parses() -> bool:
    """Whether this mywire parses SESSION_TRACK_STATE_CHANGE entries as servers send
    them (a raw ``"1"``, not a length-encoded string).  Without that, tracking is left
    off, since an OK packet the parser refuses would break the connection."""
    try:
        (entry,) = parse_session_state(b"\x02\x011")
    except (MywireError, ValueError):
        return False
    return isinstance(entry, SessionState) and entry.value == "1"


#: Session-state-change tracking (user variables, temporary tables, prepared statements)
#: is usable; otherwise the gateway falls back to recognising such statements by text.
STATE_CHANGE_TRACKING = _state_change_parses()

_FOUND_ROWS_KEYWORD = "found_rows" in inspect.signature(aio.connect).parameters


class UpstreamUnavailable(Exception):
    """The upstream server could not be reached or refused to set up a connection."""


class PoolTimeout(Exception):
    """No connection became free within the pool's timeout."""


class PoolClosed(Exception):
    """The pool is shutting down."""


@dataclass(eq=False)
class Upstream:
    """One pooled connection and its bookkeeping."""

    client: aio.Client
    pool: Pool
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)

    @property
    def usable(self) -> bool:
        """The connection is idle and its transport open (not lost or aborted)."""
        writer = self.client._writer
        return (
            writer is not None
            and not writer.transport.is_closing()
            and self.client.conn.state.value == "ready"
        )

    @property
    def connection_id(self) -> int:
        return self.client.handshake.connection_id

    def abort(self) -> None:
        """Close the transport at once (no COM_QUIT)."""
        self.client._abort()
        self.client._writer = None


def session_setup_sql(client: aio.Client, query_timeout: float) -> str:
    """The SET statement every upstream session starts with."""
    parts = [
        "NAMES utf8mb4",
        "time_zone = '+00:00'",
        "sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')",
    ]
    if STATE_CHANGE_TRACKING:
        parts.append("session_track_state_change = ON")
    else:
        parts.append("session_track_system_variables = '*'")
    if query_timeout > 0 and client.handshake.is_mariadb:
        parts.append(f"max_statement_time = {query_timeout:.3f}")
    return "SET " + ", ".join(parts)


async def open_upstream(dsn: str, *, query_timeout: float = 0.0, **keywords: object) -> aio.Client:
    """Connect (CLIENT_FOUND_ROWS, no multi-statements) and set the session up.

    Raises what :func:`mywire.aio.connect` raises, and ServerError from the setup.
    """
    keywords["multi_statements"] = False
    if _FOUND_ROWS_KEYWORD:
        connect: Any = aio.connect
        client: aio.Client = await connect(dsn, found_rows=True, **keywords)
    else:
        # aio.connect has no way to ask for CLIENT_FOUND_ROWS yet: the same steps, with
        # the capability added before the handshake.
        opts: dict[str, object] = aio.parse_dsn(dsn)
        opts.update(keywords)
        for key, value in aio._DEFAULTS.items():
            opts.setdefault(key, value)
        client = aio.Client(opts)
        client.conn.client_capabilities |= Capability.CLIENT_FOUND_ROWS
        async with asyncio.timeout(float(opts["connect_timeout"])):  # type: ignore[arg-type]
            await client._open()
    try:
        await client.query(session_setup_sql(client, query_timeout))
    except BaseException:
        client._abort()
        raise
    return client


async def reset_upstream(client: aio.Client, query_timeout: float) -> None:
    """COM_RESET_CONNECTION, then the session setup again (the reset restored the
    global defaults)."""
    reset = getattr(client, "reset_connection", None)
    if reset is not None:
        await reset()
    else:
        await client._command(client.conn.send(ResetConnection()))
    await client.query(session_setup_sql(client, query_timeout))


Connector = Callable[[], Awaitable[aio.Client]]


class Pool:
    """An asyncio pool of upstream connections (see the module docstring).

    Args:
        connect: opens and sets up one connection.
        min_size: connections kept open (opened by :meth:`maintain`).
        max_size: most connections open at once (idle, in use and being opened).
        timeout: seconds :meth:`acquire` waits before :class:`PoolTimeout`.
        health_check: ping an idle connection unused for longer than this before reuse.
        max_idle: close idle connections beyond ``min_size`` unused for this long.
        reset: ``"reset"`` or ``"reconnect"`` for dirty connections.
        query_timeout: passed to the session setup after a reset.
        name: for logs and metrics.
    """

    def __init__(
        self,
        connect: Connector,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        health_check: float = 30.0,
        max_idle: float = 300.0,
        reset: str = "reset",
        query_timeout: float = 0.0,
        name: str = "default",
    ) -> None:
        self._connect = connect
        self.min_size = min_size
        self.max_size = max_size
        self.timeout = timeout
        self.health_check = health_check
        self.max_idle = max_idle
        self.reset_mode = reset
        self.query_timeout = query_timeout
        self.name = name
        self._idle: collections.deque[Upstream] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[Upstream]] = collections.deque()
        self._size = 0  # open or being opened, idle or not
        self._in_use = 0
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_used = time.monotonic()
        #: Connections opened, failed to open, discarded, reset (for metrics and tests).
        self.opened = 0
        self.connect_errors = 0
        self.discarded = 0
        self.resets = 0

    # ------------------------------------------------------------------ stats
    @property
    def size(self) -> int:
        return self._size

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    # ------------------------------------------------------------------ acquire
    async def acquire(self) -> Upstream:
        """A connection for the caller's exclusive use.

        Raises:
            PoolTimeout: none became free within ``timeout``.
            UpstreamUnavailable: a new connection could not be opened.
            AuthError: the server refused the credentials (passthrough mode).
            PoolClosed: the pool is closed.
        """
        self.last_used = time.monotonic()
        deadline = time.monotonic() + self.timeout
        while True:
            if self._closed:
                raise PoolClosed("the connection pool is closed")
            while self._idle:
                conn = self._idle.pop()  # most recently used first: warm, and lets others idle out
                if await self._healthy(conn):
                    return self._hand_out(conn)
            if self._size < self.max_size:
                self._size += 1
                try:
                    conn = await self._open()
                except BaseException:
                    self._size -= 1
                    self._wake_one()
                    raise
                return self._hand_out(conn)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolTimeout(
                    f"no upstream connection became free within {self.timeout:g} s "
                    f"(all {self.max_size} in use)"
                )
            waiter: asyncio.Future[Upstream] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(remaining):
                    conn = await waiter
            except TimeoutError:
                continue  # the loop raises PoolTimeout (or finds a connection after all)
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._put_back(waiter.result())  # handed over just as we were cancelled
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if conn is _WAKE:
                continue  # a slot opened up: try again
            return self._hand_out(conn)

    def _hand_out(self, conn: Upstream) -> Upstream:
        self._in_use += 1
        conn.last_used = time.monotonic()
        return conn

    async def _open(self) -> Upstream:
        try:
            client = await self._connect()
        except AuthError:
            self.connect_errors += 1
            raise
        except (OSError, TimeoutError, MywireError) as exc:
            self.connect_errors += 1
            raise UpstreamUnavailable(str(exc) or type(exc).__name__) from exc
        self.opened += 1
        return Upstream(client=client, pool=self)

    async def _healthy(self, conn: Upstream) -> bool:
        if not conn.usable:
            self._drop(conn)
            return False
        if time.monotonic() - conn.last_used < self.health_check:
            return True
        try:
            async with asyncio.timeout(self.timeout):
                await conn.client.ping()
        except (OSError, TimeoutError, MywireError):
            conn.abort()
            self._drop(conn)
            return False
        return True

    # ------------------------------------------------------------------ release
    def release(self, conn: Upstream, *, dirty: bool = False) -> None:
        """Give a connection back.  ``dirty``: it may hold session state; it is reset
        (or replaced) before reuse.  A connection that is not usable is discarded."""
        self._in_use -= 1
        conn.last_used = time.monotonic()
        if not conn.usable or self._closed:
            conn.abort()
            self._drop(conn)
            return
        if dirty:
            self._spawn(self._clean(conn))
            return
        self._put_back(conn)

    def discard(self, conn: Upstream) -> None:
        """Drop a connection that is in use (broken, or abandoned mid-response)."""
        self._in_use -= 1
        conn.abort()
        self._drop(conn)

    async def _clean(self, conn: Upstream) -> None:
        try:
            if self.reset_mode == "reconnect":
                raise _Reconnect
            async with asyncio.timeout(self.timeout):
                await reset_upstream(conn.client, self.query_timeout)
            self.resets += 1
        except (_Reconnect, OSError, TimeoutError, MywireError) as exc:
            if not isinstance(exc, _Reconnect):
                log.warning(
                    "upstream reset failed; reconnecting",
                    extra={"fields": {"event": "pool_reset_failed", "pool": self.name}},
                )
            conn.abort()
            self._drop(conn)
            return
        self._put_back(conn)

    def _put_back(self, conn: Upstream) -> None:
        if self._closed:
            conn.abort()
            self._drop(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _drop(self, conn: Upstream) -> None:
        """Forget a closed connection and let a waiter open a new one."""
        self._size -= 1
        self.discarded += 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(_WAKE)
                return

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ upkeep
    async def maintain(self) -> None:
        """Close idle connections beyond ``min_size`` unused for ``max_idle``; open
        connections up to ``min_size`` (failures are left for the next round)."""
        now = time.monotonic()
        while self._idle and self._size > self.min_size:
            oldest = self._idle[0]
            if now - oldest.last_used < self.max_idle:
                break
            self._idle.popleft()
            await self._close_one(oldest)
        while not self._closed and self._size < self.min_size:
            self._size += 1
            try:
                conn = await self._open()
            except (UpstreamUnavailable, PoolClosed):
                self._size -= 1
                return
            self._put_back(conn)

    async def _close_one(self, conn: Upstream) -> None:
        self._size -= 1
        try:
            async with asyncio.timeout(1.0):
                await conn.client.close()
        except (OSError, TimeoutError, MywireError):
            conn.abort()

    async def close(self) -> None:
        """Close idle connections now; connections in use close when released."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PoolClosed("the connection pool is closed"))
        self._waiters.clear()
        while self._idle:
            await self._close_one(self._idle.popleft())
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class _Reconnect(Exception):
    pass


# Handed to a waiter to say "a slot is free, try again" (not a connection).
_WAKE: Upstream = object.__new__(Upstream)
