"""The gateway's Starlette application.

Theory of operation
-------------------
Endpoints:

``POST /psdb.v1alpha1.Database/Execute``, ``CreateSession``, ``CloseSession``
    PlanetScale's HTTP API as the serverless driver speaks it (``shared/psdb/API.md``).
    The result is the transcoder's ``psdb`` document, streamed as the rows arrive, with
    ``session`` and ``timing`` added at its end.  SQL errors (also in the middle of a
    resultset), limits and a lost upstream connection end the document with
    ``error: {message, code}`` under HTTP 200, as PlanetScale does; authentication and
    transport errors (no free connection, upstream unreachable, body too large) are
    non-2xx with both the Connect error (``code``, ``message``) and the ``error``
    wrapper the driver reads.
``POST /v1/query``
    ``{"sql": ..., "params": [...]}``, parameters bound through the binary protocol;
    the answer is ``application/json``, ``application/x-ndjson`` (streamed) or
    ``application/msgpack`` by the ``Accept`` header.  Each request runs on any pooled
    connection; one that leaves state behind is reset before reuse.
``GET /healthz``, ``GET /metrics``
    Liveness plus an upstream check; Prometheus metrics.

A request first authenticates (Basic), then takes a connection: its session's pinned
one (see :mod:`mywire.gateway.sessions`) or one from the pool.  The body generator runs
the statement through :meth:`mywire.aio.Client._transcoded` with a deadline per read,
and *settles* the connection as soon as the response is complete (before the closing
bytes are sent): pinned to the session, released to the pool (reset first when it may
hold state) or discarded when it broke.  A body abandoned in the middle (the HTTP
client went away) discards the connection; a pinned session then reports its loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote, urlparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import aio
from ..constants import ServerStatus
from ..errors import AuthError, ServerError
from ..events import Event, Ok, ResultsetEnd
from ..transcode import Transcoder
from .auth import Credentials, UserList, parse_basic
from .config import GatewayConfig
from .metrics import CONTENT_TYPE, Metrics
from .pool import (
    STATE_CHANGE_TRACKING,
    Pool,
    PoolClosed,
    PoolTimeout,
    Upstream,
    UpstreamUnavailable,
    open_upstream,
)
from .sessions import Pin, Registry, SessionInfo, TokenSigner

__all__ = ["Gateway", "GatewayError", "create_app"]

log = logging.getLogger("mywire.gateway")

#: Connect error codes → HTTP status (connectrpc.com protocol).
CONNECT_STATUS = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "unauthenticated": 401,
}

_NOOP = re.compile(
    r"\s*(?:set\s+@@boost_cached_queries\s*=|use\s+[^\s;]*@[^\s;]*\s*;?\s*$)", re.IGNORECASE
)
_ROLLBACK = re.compile(r"\s*rollback(?:\s+work)?\s*;?\s*$", re.IGNORECASE)
# Connection state the OK packet does not announce: named locks and table locks.
_LOCKS = re.compile(r"\bget_lock\s*\(|\block\s+tables?\b", re.IGNORECASE)
# Without session-state-change tracking: assignments to user variables, temporary
# tables, prepared SQL.
_UNTRACKED = re.compile(
    r"(?<!@)@[\w$.`'\"]+\s*:?=|\binto\s+@|\btemporary\b|\bprepare\b", re.IGNORECASE
)
_LAST_INSERT_ID = re.compile(r"last_insert_id", re.IGNORECASE)
# Plain ints: IntFlag arithmetic costs microseconds per operation.
_IN_TRANS = int(ServerStatus.SERVER_STATUS_IN_TRANS)
_STATE_CHANGED = int(ServerStatus.SERVER_SESSION_STATE_CHANGED)

_MEDIA = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "msgpack": "application/msgpack",
}

JSON_MEDIA = "application/json"


#: Opens an upstream connection for ``(user, password)`` (both None in ``users`` mode).
Connector = Callable[[str | None, str | None], Awaitable[aio.Client]]


class GatewayError(Exception):
    """An error answered with a non-2xx status and a Connect + psdb error body."""

    def __init__(
        self,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.status = status if status is not None else CONNECT_STATUS.get(code, 500)


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(error: GatewayError) -> Response:
    body = {
        "code": error.code,
        "message": error.message,
        "error": {"code": error.code.upper(), "message": error.message},
    }
    return Response(_dumps(body), error.status, error.headers, media_type=JSON_MEDIA)


class _Stream(StreamingResponse):
    """A StreamingResponse that stops as soon as the HTTP client goes away, always
    closes its body generator and then calls ``on_close``, so an abandoned response
    settles its upstream connection at once (not whenever the generator is collected,
    and also when it never started).

    The body runs in its own task, cancelled when ``http.disconnect`` arrives.  Starlette's
    own watcher (an anyio task group) did not reliably cancel a body that kept reading
    from upstream, and servers that speak ASGI 2.3, such as uvicorn, drop the writes
    after a disconnect without an error: the body then ran to its end (or a limit) for
    nobody, holding an upstream connection all along."""

    def __init__(
        self, content: AsyncIterator[bytes], on_close: Callable[[], None], media_type: str
    ) -> None:
        super().__init__(content, media_type=media_type)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        body = asyncio.ensure_future(self.stream_response(send))
        watch = asyncio.ensure_future(disconnected())
        try:
            await asyncio.wait((body, watch), return_when=asyncio.FIRST_COMPLETED)
            if not body.done():
                body.cancel()
                await asyncio.wait((body,))  # let it unwind; its outcome is read below
            # A write to a client that went away (ASGI 2.4 servers raise OSError) ends
            # the response as a disconnect does; any other error is the body's own.
            if not body.cancelled():
                error = body.exception()
                if error is not None and not isinstance(error, OSError):
                    raise error
        finally:
            watch.cancel()
            if not body.done():  # this task itself was cancelled (server shutdown)
                body.cancel()
                with contextlib.suppress(BaseException):
                    await body
            try:
                aclose = getattr(self.body_iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                self._on_close()


#: A response whose whole body is ready within this many bytes is sent as one plain
#: response; larger ones stream.  Every write is a system call and a TCP segment, and a
#: streamed body costs at least two more (its chunks and the closing chunk): for the
#: common small result that is most of the work.
STREAM_AFTER = 64 << 10


async def _respond(
    body: AsyncGenerator[bytes, None], on_close: Callable[[], None], media_type: str
) -> Response:
    """Read ``body`` until it ends or passes STREAM_AFTER bytes: a plain response with
    the whole body, or a streaming one that starts with what was read."""
    head: list[bytes] = []
    size = 0
    try:
        async for chunk in body:
            head.append(chunk)
            size += len(chunk)
            if size >= STREAM_AFTER:
                break
        else:
            on_close()
            return Response(b"".join(head), media_type=media_type)
    except BaseException:
        await body.aclose()
        on_close()
        raise

    async def rest() -> AsyncIterator[bytes]:
        try:
            yield b"".join(head)
            async for chunk in body:
                yield chunk
        finally:
            await body.aclose()  # also when abandoned: settles the connection at once

    return _Stream(rest(), on_close, media_type)


class _Observed(Transcoder):
    """A Transcoder that also notes what the OK packets say about the connection."""

    def __init__(self, format: str, **options: Any) -> None:
        super().__init__(format, **options)
        self.state_changed = False
        self.last_insert_id = 0
        self.affected_rows = 0

    def feed(self, event: Event) -> bytes:
        ok = (
            event
            if isinstance(event, Ok)
            else event.ok
            if isinstance(event, ResultsetEnd)
            else None
        )
        if isinstance(ok, Ok):
            if ok.status_flags & _STATE_CHANGED:
                self.state_changed = True
            if ok.last_insert_id:
                self.last_insert_id = ok.last_insert_id
            self.affected_rows = ok.affected_rows
        return super().feed(event)


@dataclass
class RequestLog:
    """One request's log line and metrics, written when its response is complete."""

    gateway: Gateway
    endpoint: str
    started: float = field(default_factory=time.perf_counter)
    fields: dict[str, object] = field(default_factory=dict)
    done: bool = False

    def finish(self, status: int) -> None:
        if self.done:
            return
        self.done = True
        elapsed = time.perf_counter() - self.started
        metrics = self.gateway.metrics
        metrics.requests.labels(self.endpoint, str(status)).inc()
        metrics.latency.labels(self.endpoint).observe(elapsed)
        self.fields.update(
            event="request",
            endpoint=self.endpoint,
            status=status,
            duration_ms=round(elapsed * 1000, 3),
        )
        log.info("request", extra={"fields": self.fields})


class Gateway:
    """State shared by the endpoints: configuration, pools, sessions, metrics."""

    def __init__(
        self,
        config: GatewayConfig,
        connector: Connector | None = None,
    ) -> None:
        self.config = config
        self.users = UserList(config.users)
        self.signer = TokenSigner(config.secret_bytes(), config.instance_id, config.session_max_age)
        self.registry = Registry()
        self.pools: dict[str, Pool] = {}
        self.metrics = Metrics(self._pool_stats)
        self.database = aio.parse_dsn(config.upstream).get("database") or ""
        self._connector = connector or self._open
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False
        if config.auth == "users" and not len(self.users):
            raise ValueError("no users configured: give users, or auth = 'passthrough'")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.started = True
        if self.config.auth == "users":
            self._pool("default", None, None)
        self._tasks.append(asyncio.create_task(self._upkeep()))
        log.info(
            "gateway started",
            extra={"fields": {"event": "start", "config": self.config.redacted()}},
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for pin in list(self.registry.pins.values()):
            self.registry.remove(pin, lost="the gateway shut down")
            pin.conn.abort()
        for pool in self.pools.values():
            await pool.close()
        self.pools.clear()

    async def _upkeep(self) -> None:
        """Expire idle pinned sessions often; every 5 s forget old lost-session notes and
        let each pool close surplus idle connections and open its minimum (in a task of
        its own, so a slow upstream does not hold up expiry)."""
        tick = min(1.0, self.config.session_idle_timeout / 4)
        last_maintain = 0.0
        maintaining: asyncio.Task[None] | None = None
        try:
            while True:
                await asyncio.sleep(tick)
                try:
                    self.expire_sessions()
                    if time.monotonic() - last_maintain >= 5.0 and (
                        maintaining is None or maintaining.done()
                    ):
                        last_maintain = time.monotonic()
                        self.registry.prune_lost(keep=max(600.0, self.config.session_idle_timeout))
                        maintaining = asyncio.create_task(self._maintain_pools())
                except Exception:  # upkeep must go on; log and continue
                    log.exception("upkeep failed", extra={"fields": {"event": "upkeep_error"}})
        finally:
            if maintaining is not None:
                maintaining.cancel()
                await asyncio.gather(maintaining, return_exceptions=True)

    async def _maintain_pools(self) -> None:
        for pool in list(self.pools.values()):
            try:
                await pool.maintain()
            except Exception:
                log.exception("pool upkeep failed", extra={"fields": {"event": "upkeep_error"}})

    def expire_sessions(self) -> int:
        """Roll back and release pinned sessions idle for longer than the timeout."""
        timeout = self.config.session_idle_timeout
        expired = self.registry.expired(timeout)
        for pin in expired:
            self.registry.remove(
                pin,
                lost=f"it was idle for more than {timeout:g} s, so its transaction was rolled "
                "back and its connection state reset",
            )
            # The reset (COM_RESET_CONNECTION, or closing the connection) rolls back.
            pin.conn.pool.release(pin.conn, dirty=True)
            self.metrics.sessions_expired.inc()
            log.info(
                "pinned session expired",
                extra={"fields": {"event": "session_expired", "session": pin.session_id[:8]}},
            )
        return len(expired)

    # ------------------------------------------------------------------ upstream
    async def _open(self, user: str | None, password: str | None) -> aio.Client:
        dsn = self.config.upstream
        if user is not None:
            dsn = _with_credentials(dsn, user, password or "")
        keywords: dict[str, object] = {"connect_timeout": self.config.connect_timeout}
        if self.config.upstream_ssl_mode:
            keywords["ssl_mode"] = self.config.upstream_ssl_mode
        if self.config.upstream_ssl_ca:
            keywords["ssl_ca"] = self.config.upstream_ssl_ca
        return await open_upstream(dsn, query_timeout=self.config.query_timeout, **keywords)

    def _pool(self, key: str, user: str | None, password: str | None) -> Pool:
        pool = self.pools.get(key)
        if pool is not None:
            return pool
        if len(self.pools) >= self.config.max_pools:
            self._evict_pool()
        cfg = self.config

        async def connect() -> aio.Client:
            return await self._connector(user, password)

        pool = Pool(
            connect,
            min_size=cfg.pool_min_size if user is None else 0,
            max_size=cfg.pool_max_size,
            timeout=cfg.pool_timeout,
            health_check=cfg.pool_health_check,
            max_idle=cfg.pool_max_idle,
            reset=cfg.pool_reset,
            query_timeout=cfg.query_timeout,
            name=key if user is None else f"user:{user}",
        )
        self.pools[key] = pool
        return pool

    def _evict_pool(self) -> None:
        idle = [(p.last_used, k) for k, p in self.pools.items() if p.in_use == 0 and k != "default"]
        if not idle:
            raise GatewayError("resource_exhausted", "too many accounts have connections open")
        _, key = min(idle)
        pool = self.pools.pop(key)
        task = asyncio.ensure_future(pool.close())
        task.add_done_callback(lambda t: None)

    def pool_for(self, creds: Credentials) -> Pool:
        if self.config.auth == "users":
            return self._pool("default", None, None)
        digest = hashlib.sha256(f"{creds.user}\0{creds.password}".encode()).hexdigest()
        return self._pool(digest, creds.user, creds.password)

    async def acquire(self, creds: Credentials) -> Upstream:
        """A pooled connection, or a GatewayError for the HTTP answer."""
        pool = self.pool_for(creds)
        try:
            return await pool.acquire()
        except PoolTimeout as exc:
            raise GatewayError("unavailable", str(exc), {"Retry-After": "1"}) from None
        except PoolClosed as exc:
            raise GatewayError("unavailable", str(exc)) from None
        except AuthError as exc:
            self.metrics.upstream_errors.labels("connect").inc()
            if self.config.auth == "passthrough":
                self._forget_pool(pool)
                raise GatewayError(
                    "unauthenticated", "invalid auth credentials", _CHALLENGE
                ) from None
            raise GatewayError(
                "unavailable", f"the upstream server refused the gateway's account: {exc}"
            ) from None
        except (UpstreamUnavailable, ServerError) as exc:
            self.metrics.upstream_errors.labels("connect").inc()
            if self.config.auth == "passthrough" and pool.size == 0:
                self._forget_pool(pool)
            raise GatewayError(
                "unavailable", f"the upstream MySQL server is unreachable: {exc}"
            ) from None

    def _forget_pool(self, pool: Pool) -> None:
        for key, value in list(self.pools.items()):
            if value is pool and pool.size == 0 and key != "default":
                del self.pools[key]

    def _pool_stats(self) -> tuple[list[tuple[str, int, int, int, int]], int]:
        stats = [(p.name, p.size, p.idle, p.in_use, p.waiting) for p in self.pools.values()]
        return stats, len(self.registry.pins)

    # ------------------------------------------------------------------ requests
    def authenticate(self, request: Request) -> Credentials:
        creds = parse_basic(request.headers.get("authorization"))
        if creds is None:
            raise GatewayError(
                "unauthenticated", "missing or malformed Basic credentials", _CHALLENGE
            )
        if self.config.auth == "users" and not self.users.check(creds):
            raise GatewayError("unauthenticated", "invalid auth credentials", _CHALLENGE)
        return creds

    async def read_json(self, request: Request) -> dict[str, Any]:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        too_large = GatewayError(
            "resource_exhausted", f"request body exceeds the limit of {limit} bytes", status=413
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GatewayError("invalid_argument", "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise GatewayError("invalid_argument", "the request body must be a JSON object")
        return body

    def session_json(
        self,
        session_id: str,
        user: str,
        *,
        pinned: bool,
        in_transaction: bool = False,
        last_insert_id: int = 0,
        row_count: int = 0,
        error_until_rollback: bool = False,
    ) -> dict[str, object]:
        """A ``psdb.v1alpha1.Session`` in proto3 JSON (defaults omitted)."""
        vitess: dict[str, object] = {
            "inTransaction": in_transaction,
            "autocommit": True,
            "options": {"includedFields": "ALL", "clientFoundRows": True},
            "targetString": self.database,
            "lastInsertId": str(last_insert_id) if last_insert_id else "",
            "rowCount": str(row_count) if row_count else "",
            "DDLStrategy": "direct",
            "SessionUUID": session_id,
            "enableSystemSettings": True,
            "errorUntilRollback": error_until_rollback,
        }
        return {
            "signature": self.signer.signature(session_id, user, pinned=pinned),
            "vitessSession": {k: v for k, v in vitess.items() if v},
        }

    def lost_reason(self, info: SessionInfo) -> str:
        reason = self.registry.why_lost(info.id)
        if reason is not None:
            return reason
        if info.instance != self.signer.instance:
            return (
                "it is pinned to another gateway instance (sessions with open transactions "
                "need the same instance: configure session affinity) or that instance restarted"
            )
        return "this gateway restarted or the session expired"


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mywire"'}


def _with_credentials(dsn: str, user: str, password: str) -> str:
    u = urlparse(dsn)
    host = u.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return u._replace(netloc=netloc).geturl()


# ---------------------------------------------------------------------- statement runs


class _Run:
    """One statement on one upstream connection, from start to settling."""

    def __init__(
        self,
        gateway: Gateway,
        creds: Credentials,
        conn: Upstream,
        sql: str,
        rlog: RequestLog,
        *,
        info: SessionInfo | None = None,
        pin: Pin | None = None,
    ) -> None:
        self.gw = gateway
        self.creds = creds
        self.conn = conn
        self.sql = sql
        self.rlog = rlog
        self.info = info
        self.pin = pin
        self.settled = False
        self.status = 200
        self.t: _Observed | None = None

    async def chunks(
        self,
        t: _Observed,
        params: list[object] | None,
        before_finish: Callable[[], None],
    ) -> AsyncIterator[bytes]:
        """The transcoded response, each read from upstream under the query deadline."""
        timeout = self.gw.config.query_timeout
        loop = asyncio.get_running_loop()
        # The server's own max_statement_time answers first, with the connection intact;
        # this deadline is the backstop (and the only limit on MySQL).
        deadline = loop.time() + timeout + 1.0 if timeout > 0 else None
        agen = cast(
            AsyncGenerator[bytes, None],
            self.conn.client._transcoded(self.sql, params, t, before_finish),
        )
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(agen)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    # The transcoding generator aborted the connection on its way out.
                    self.gw.metrics.upstream_errors.labels("timeout").inc()
                    error = ServerError(
                        3024,
                        "HY000",
                        "Query execution was interrupted, maximum statement execution time "
                        f"of {timeout:g} s exceeded",
                    )
                    yield t.fail(error)
                    before_finish()
                    yield t.finish()  # b"" when before_finish already finished it
                    return
                if chunk:
                    yield chunk
        finally:
            await agen.aclose()

    def _leaves_state(self, t: _Observed) -> tuple[bool, bool]:
        """(in a transaction, other state) after the statement."""
        status = self.conn.client.conn.server_status
        in_trans = bool(status & _IN_TRANS)
        state = t.state_changed or bool(_LOCKS.search(self.sql))
        if not STATE_CHANGE_TRACKING and _UNTRACKED.search(self.sql):
            state = True
        return in_trans, state

    def _note_errors(self, t: _Observed) -> None:
        err = t.error
        if err is None:
            return
        self.rlog.fields["error"] = type(err).__name__
        if isinstance(err, ServerError):
            self.rlog.fields["errno"] = err.code
            kind = "lost" if err.code in (2013, 2006) else "server"
            self.gw.metrics.upstream_errors.labels(kind).inc()
        elif t.stopped in ("max_rows", "max_bytes"):
            self.rlog.fields["limit"] = t.stopped
        else:
            self.gw.metrics.upstream_errors.labels("lost").inc()

    def settle_native(self, t: _Observed) -> None:
        """Native endpoint: back to the pool (reset when state was left), or dropped."""
        self.settled = True
        self._note_errors(t)
        self.rlog.fields["rows"] = t.rows
        conn = self.conn
        if not conn.usable:
            conn.pool.discard(conn)
            return
        in_trans, state = self._leaves_state(t)
        conn.pool.release(conn, dirty=in_trans or state)

    def settle_psdb(self, t: _Observed) -> tuple[dict[str, object], bytes]:
        """psdb: pin, keep, unpin or drop the connection; the session to answer with,
        and an error to add to the document (or b"")."""
        self.settled = True
        self._note_errors(t)
        self.rlog.fields["rows"] = t.rows
        gw, info, pin, conn = self.gw, self.info, self.pin, self.conn
        assert info is not None
        user = self.creds.user
        extra = b""
        last_insert_id = t.last_insert_id or info.last_insert_id
        usable = conn.usable
        in_trans, state = self._leaves_state(t) if usable else (False, False)
        pinned = False
        lost = False
        if pin is not None:
            pin.last_used = time.monotonic()
            if not usable:
                gw.registry.remove(pin, lost="its upstream connection was lost")
                conn.pool.discard(conn)
                pinned = lost = True
            elif in_trans or state or pin.sticky:
                pin.sticky = pin.sticky or state
                pin.in_transaction = in_trans
                pinned = True
            else:
                gw.registry.remove(pin)
                conn.pool.release(conn)
            pin.users -= 1
            pin.lock.release()
        elif not usable:
            conn.pool.discard(conn)
        elif in_trans or state:
            if gw.registry.get(info.id) is not None:
                # Another request of this session pinned a connection meanwhile: this
                # connection's state cannot join it.
                conn.pool.release(conn, dirty=True)
                extra = t.fail(
                    ServerError(
                        1105,
                        "HY000",
                        "concurrent statements of one session both left connection state; "
                        "this statement's state (transaction, variables) was discarded",
                    )
                )
                pinned = True
            else:
                new_pin = Pin(info.id, user, conn, sticky=state, in_transaction=in_trans)
                gw.registry.add(new_pin)
                pinned = True
        else:
            conn.pool.release(conn)
        if pinned:
            self.rlog.fields["pinned"] = True
        session = gw.session_json(
            info.id,
            user,
            pinned=pinned,
            in_transaction=in_trans,
            last_insert_id=last_insert_id,
            row_count=t.affected_rows,
            error_until_rollback=lost,
        )
        return session, extra

    def close(self) -> None:
        """The response is over (sent, or given up): settle and log."""
        self.abandon()
        if self.t is not None:
            self.rlog.fields["bytes"] = self.t.size
        self.rlog.finish(self.status)

    def abandon(self) -> None:
        """The response ended early (HTTP client gone, an exception): drop the connection."""
        if self.settled:
            return
        self.settled = True
        self.status = 499
        self.rlog.fields["abandoned"] = True
        self.conn.pool.discard(self.conn)
        pin = self.pin
        if pin is not None:
            self.gw.registry.remove(
                pin, lost="its statement was abandoned mid-response (the HTTP client went away)"
            )
            pin.users -= 1
            pin.lock.release()


# ---------------------------------------------------------------------- endpoints

Handler = Callable[[Gateway, Request, RequestLog], Awaitable[Response]]


def _endpoint(
    gateway: Gateway, name: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        rlog = RequestLog(gateway, name)
        try:
            response = await handler(gateway, request, rlog)
        except GatewayError as exc:
            rlog.fields["error"] = exc.code
            rlog.finish(exc.status)
            return error_response(exc)
        if not isinstance(response, StreamingResponse):
            rlog.finish(response.status_code)
        return response

    return endpoint


async def _psdb_execute(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    creds = gw.authenticate(request)
    rlog.fields["user"] = creds.user
    body = await gw.read_json(request)
    sql = body.get("query")
    if not isinstance(sql, str) or not sql.strip():
        raise GatewayError("invalid_argument", "query must be a non-empty string")
    rlog.fields["sql_bytes"] = len(sql)
    info = gw.signer.read(body.get("session"), creds.user)
    rlog.fields["session"] = info.id[:8]
    pin = None if info.new else gw.registry.get(info.id)

    if info.invalid is not None:
        message = f"{info.invalid}; the statement was not run and a new session was issued"
        session = gw.session_json(info.id, creds.user, pinned=False)
        error = {"message": message, "code": "PERMISSION_DENIED"}
        return _json({"session": session, "error": error})

    if _NOOP.match(sql):  # SET @@boost_cached_queries, USE ...@replica
        session = gw.session_json(
            info.id,
            creds.user,
            pinned=pin is not None or info.pinned,
            in_transaction=pin is not None and pin.in_transaction,
            last_insert_id=info.last_insert_id,
        )
        return _json({"session": session, "result": {}, "timing": 0})

    if pin is None and info.pinned:
        return _lost_session(gw, creds, info, sql)

    if pin is not None:
        pin.users += 1
        try:
            async with asyncio.timeout(max(gw.config.query_timeout, 1.0) + 1.0):
                await pin.lock.acquire()
        except TimeoutError:
            pin.users -= 1
            error = {
                "message": "the session is busy: another statement of it is still running",
                "code": "ABORTED",
            }
            session = gw.session_json(info.id, creds.user, pinned=True)
            return _json({"session": session, "error": error})
        if gw.registry.get(info.id) is not pin:  # lost while waiting
            pin.users -= 1
            pin.lock.release()
            return _lost_session(gw, creds, info, sql)
        conn = pin.conn
    else:
        conn = await gw.acquire(creds)

    run = _Run(gw, creds, conn, sql, rlog, info=info, pin=pin)
    if pin is None and _LAST_INSERT_ID.search(sql):
        # LAST_INSERT_ID() is per connection: give this one the session's value.
        try:
            await conn.client.query(f"DO LAST_INSERT_ID({int(info.last_insert_id)})")
        except (OSError, TimeoutError, ServerError):
            run.abandon()
            raise GatewayError("unavailable", "the upstream connection failed") from None
    return await _respond(_psdb_body(run), run.close, JSON_MEDIA)


async def _psdb_body(run: _Run) -> AsyncGenerator[bytes, None]:
    cfg = run.gw.config
    t = _Observed("psdb", max_rows=cfg.max_rows or None, max_bytes=cfg.max_response_bytes or None)
    run.t = t
    started = time.perf_counter()
    tail = b""

    def before_finish() -> None:
        nonlocal tail
        session, extra = run.settle_psdb(t)
        tail = extra + t.finish({"session": session, "timing": time.perf_counter() - started})

    try:
        async for chunk in run.chunks(t, None, before_finish):
            yield chunk
        yield tail
    finally:
        run.close()


def _lost_session(gw: Gateway, creds: Credentials, info: SessionInfo, sql: str) -> Response:
    """A session whose pinned connection is gone: ROLLBACK clears it, all else fails."""
    if _ROLLBACK.match(sql):
        gw.registry.forget_lost(info.id)
        session = gw.session_json(info.id, creds.user, pinned=False)
        return _json({"session": session, "result": {}, "timing": 0})
    message = (
        f"the session's transaction and connection state are lost: {gw.lost_reason(info)}. "
        "Nothing was run; ROLLBACK (or a new session) clears this"
    )
    session = gw.session_json(info.id, creds.user, pinned=True, error_until_rollback=True)
    return _json({"session": session, "error": {"message": message, "code": "ABORTED"}})


def _json(value: object, status: int = 200) -> Response:
    return Response(_dumps(value), status, media_type=JSON_MEDIA)


async def _psdb_create_session(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    creds = gw.authenticate(request)
    rlog.fields["user"] = creds.user
    await gw.read_json(request)
    session_id = gw.signer.new_id()
    return _json(
        {
            "branch": gw.database,
            "user": {"username": creds.user, "psid": gw.config.instance_id, "role": "readwriter"},
            "session": gw.session_json(session_id, creds.user, pinned=False),
        }
    )


async def _psdb_close_session(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    creds = gw.authenticate(request)
    rlog.fields["user"] = creds.user
    body = await gw.read_json(request)
    info = gw.signer.read(body.get("session"), creds.user)
    if info.invalid is not None:
        session = gw.session_json(info.id, creds.user, pinned=False)
        return _json(
            {"session": session, "error": {"message": info.invalid, "code": "PERMISSION_DENIED"}}
        )
    pin = None if info.new else gw.registry.get(info.id)
    if pin is not None:
        pin.users += 1
        try:
            async with asyncio.timeout(gw.config.pool_timeout):
                await pin.lock.acquire()
        except TimeoutError:
            pin.users -= 1
            raise GatewayError(
                "aborted", "the session is busy: a statement of it is running"
            ) from None
        pin.users -= 1
        if gw.registry.get(info.id) is pin:
            gw.registry.remove(pin)
            pin.conn.pool.release(pin.conn, dirty=True)  # the reset rolls back
        pin.lock.release()
    gw.registry.forget_lost(info.id)
    return _json({"session": gw.session_json(info.id, creds.user, pinned=False)})


async def _psdb_unimplemented(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    method = request.path_params.get("method", "")
    raise GatewayError("unimplemented", f"psdb.v1alpha1.Database/{method} is not implemented")


def _negotiate(accept: str | None) -> str:
    accept = (accept or "").lower()
    if "application/x-ndjson" in accept or "application/ndjson" in accept:
        return "ndjson"
    if "msgpack" in accept:
        return "msgpack"
    return "json"


_PARAM_TYPES = (type(None), bool, int, float, str)


async def _native_query(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    creds = gw.authenticate(request)
    rlog.fields["user"] = creds.user
    body = await gw.read_json(request)
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise GatewayError("invalid_argument", "sql must be a non-empty string")
    params = body.get("params")
    if params is not None:
        if not isinstance(params, list) or not all(isinstance(p, _PARAM_TYPES) for p in params):
            raise GatewayError(
                "invalid_argument", "params must be a list of null, booleans, numbers and strings"
            )
    options: dict[str, bool] = {}
    for key in ("int64_as_string", "decimal_as_number"):
        value = body.get(key, False)
        if not isinstance(value, bool):
            raise GatewayError("invalid_argument", f"{key} must be a boolean")
        options[key] = value
    fmt = _negotiate(request.headers.get("accept"))
    rlog.fields.update(sql_bytes=len(sql), params=len(params or ()), format=fmt)
    conn = await gw.acquire(creds)
    run = _Run(gw, creds, conn, sql, rlog)
    return await _respond(_native_body(run, fmt, params, options), run.close, _MEDIA[fmt])


async def _native_body(
    run: _Run, fmt: str, params: list[object] | None, options: dict[str, bool]
) -> AsyncGenerator[bytes, None]:
    cfg = run.gw.config
    t = _Observed(
        fmt,
        max_rows=cfg.max_rows or None,
        max_bytes=cfg.max_response_bytes or None,
        **options,
    )
    run.t = t
    try:
        async for chunk in run.chunks(t, params, lambda: run.settle_native(t)):
            yield chunk
    finally:
        run.close()


async def _healthz(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    body: dict[str, object] = {"status": "ok", "instance": gw.config.instance_id}
    status = 200
    if gw.config.auth == "users":
        pool = gw.pools.get("default")
        if pool is not None:
            try:
                conn = await gw.acquire(Credentials("", ""))
            except GatewayError as exc:
                body.update(status="unavailable", upstream=exc.message)
                status = 503
            else:
                conn.pool.release(conn)
                body["upstream"] = "ok"
    return _json(body, status)


async def _metrics(gw: Gateway, request: Request, rlog: RequestLog) -> Response:
    return Response(gw.metrics.render(), media_type=CONTENT_TYPE)


def create_app(
    config: GatewayConfig,
    *,
    connector: Connector | None = None,
) -> Starlette:
    """The gateway as an ASGI app (run its lifespan: it starts and stops the pools).

    Args:
        config: the settings (:func:`mywire.gateway.load_config`).
        connector: opens an upstream connection for ``(user, password)`` (both None in
            ``users`` mode); the default connects to ``config.upstream``.
    """
    gateway = Gateway(config, connector)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    def route(path: str, name: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, _endpoint(gateway, name, handler), methods=methods)

    routes = [
        route("/psdb.v1alpha1.Database/Execute", "Execute", _psdb_execute, ["POST"]),
        route(
            "/psdb.v1alpha1.Database/CreateSession", "CreateSession", _psdb_create_session, ["POST"]
        ),
        route(
            "/psdb.v1alpha1.Database/CloseSession", "CloseSession", _psdb_close_session, ["POST"]
        ),
        route("/psdb.v1alpha1.Database/{method}", "other", _psdb_unimplemented, ["POST"]),
        route("/v1/query", "query", _native_query, ["POST"]),
        route("/healthz", "healthz", _healthz, ["GET"]),
        route("/metrics", "metrics", _metrics, ["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = gateway
    return app
