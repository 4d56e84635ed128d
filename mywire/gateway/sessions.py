"""psdb sessions: signed tokens and the connections pinned to them.

Theory of operation
-------------------
The serverless driver treats the ``session`` object of an Execute response as opaque and
sends it back with its next statement.  The gateway keeps the proto shape
(``{"signature", "vitessSession": {...}}``) and puts its own state in ``signature``:
version, flags (bit 0: *pinned*), expiry and the issuing instance, followed by an
HMAC-SHA256 over those bytes, the session id (``vitessSession.SessionUUID``) and the
authenticated user.  A token is thus bound to its user; a token from another user, a
forged one, or one signed with another secret fails the check.  Tokens are re-signed on
every response, so the expiry slides.

Most sessions hold no state and run each statement on any pooled connection.  When a
statement leaves state on its connection (the OK packet's SERVER_STATUS_IN_TRANS, or
SERVER_SESSION_STATE_CHANGED: variables, temporary tables, prepared statements, the
schema; or GET_LOCK/LOCK TABLES recognised by text), the connection is *pinned*: the
:class:`Registry` maps the session id to a :class:`Pin`, later statements of the session
run on it one at a time (a lock serialises them), and the token says *pinned*.  A pin
held only by a transaction is released when the transaction ends; other state keeps it
until CloseSession or expiry.  A pin idle for longer than the idle timeout is rolled
back and its connection reset and returned to the pool.

A token that says *pinned* whose pin is gone (expired, its connection lost, the gateway
restarted, or the request reached another instance) never runs on a fresh connection:
every statement but ROLLBACK fails until the client rolls back or closes the session.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .pool import Upstream

__all__ = ["Pin", "Registry", "SessionInfo", "TokenSigner"]

_VERSION = 1
_FLAG_PINNED = 1
_HEADER = struct.Struct(">BBQ8s")  # version, flags, expiry (unix seconds), instance
_MAC_SIZE = 32


@dataclass
class SessionInfo:
    """What a request's session token says (after the signature check)."""

    id: str
    pinned: bool = False
    instance: bytes = b""
    expired: bool = False
    last_insert_id: int = 0
    #: The token was missing, invalid or expired: a new session was started.
    new: bool = True
    #: Why an invalid token was replaced (None when the token was absent or fine).
    invalid: str | None = None


class TokenSigner:
    """Signs and checks session tokens (see the module docstring)."""

    def __init__(self, secret: bytes, instance_id: str, max_age: float) -> None:
        self._key = secret or secrets.token_bytes(32)
        self.instance = hashlib.sha256(instance_id.encode()).digest()[:8]
        self.instance_id = instance_id
        self.max_age = max_age

    def _mac(self, header: bytes, session_id: str, user: str) -> bytes:
        msg = header + b"\0" + session_id.encode() + b"\0" + user.encode()
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def signature(self, session_id: str, user: str, *, pinned: bool) -> str:
        expires = int(time.time() + self.max_age)
        header = _HEADER.pack(_VERSION, _FLAG_PINNED if pinned else 0, expires, self.instance)
        return base64.b64encode(header + self._mac(header, session_id, user)).decode()

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(16)

    def read(self, session: object, user: str) -> SessionInfo:
        """Check a request's ``session`` (None for a new one) against ``user``."""
        if session is None:
            return SessionInfo(id=self.new_id())
        if not isinstance(session, Mapping):
            return SessionInfo(id=self.new_id(), invalid="the session is not an object")
        vitess = session.get("vitessSession")
        vitess = vitess if isinstance(vitess, Mapping) else {}
        session_id = vitess.get("SessionUUID")
        sig = session.get("signature")
        if not isinstance(session_id, str) or not isinstance(sig, str):
            return SessionInfo(id=self.new_id(), invalid="the session has no signature")
        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != _HEADER.size + _MAC_SIZE:
            return SessionInfo(id=self.new_id(), invalid="the session signature is malformed")
        header, mac = raw[: _HEADER.size], raw[_HEADER.size :]
        if not hmac.compare_digest(mac, self._mac(header, session_id, user)):
            return SessionInfo(
                id=self.new_id(),
                invalid="the session signature does not match this user and gateway",
            )
        version, flags, expires, instance = _HEADER.unpack(header)
        if version != _VERSION:
            return SessionInfo(id=self.new_id(), invalid="the session token version is unknown")
        try:
            last_insert_id = int(vitess.get("lastInsertId") or 0)
        except (TypeError, ValueError):
            last_insert_id = 0
        if not 0 <= last_insert_id < 1 << 64:  # unsigned 64-bit, as the server keeps it
            last_insert_id = 0
        pinned = bool(flags & _FLAG_PINNED)
        expired = expires < time.time()
        if expired and not pinned:
            return SessionInfo(id=self.new_id())
        return SessionInfo(
            id=session_id,
            pinned=pinned,
            instance=instance,
            expired=expired,
            last_insert_id=last_insert_id,
            new=False,
        )


@dataclass(eq=False)
class Pin:
    """A session's own upstream connection."""

    session_id: str
    user: str
    conn: Upstream
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    #: The connection holds state beyond a transaction (kept until close or expiry).
    sticky: bool = False
    in_transaction: bool = False
    #: Requests waiting for or running on this pin.
    users: int = 0


@dataclass
class LostPin:
    """Why a session lost its pin, kept a while to explain the next request's error."""

    reason: str
    at: float = field(default_factory=time.monotonic)


class Registry:
    """Session id → :class:`Pin`, and recently lost pins."""

    def __init__(self) -> None:
        self.pins: dict[str, Pin] = {}
        self.lost: dict[str, LostPin] = {}

    def get(self, session_id: str) -> Pin | None:
        return self.pins.get(session_id)

    def add(self, pin: Pin) -> None:
        self.pins[pin.session_id] = pin
        self.lost.pop(pin.session_id, None)

    def remove(self, pin: Pin, lost: str | None = None) -> None:
        if self.pins.get(pin.session_id) is pin:
            del self.pins[pin.session_id]
        if lost is not None:
            self.lost[pin.session_id] = LostPin(lost)

    def why_lost(self, session_id: str) -> str | None:
        entry = self.lost.get(session_id)
        return entry.reason if entry else None

    def forget_lost(self, session_id: str) -> None:
        self.lost.pop(session_id, None)

    def expired(self, idle_timeout: float) -> list[Pin]:
        """Pins idle (no request running or waiting) for longer than ``idle_timeout``."""
        now = time.monotonic()
        return [p for p in self.pins.values() if p.users == 0 and now - p.last_used > idle_timeout]

    def prune_lost(self, keep: float) -> None:
        now = time.monotonic()
        for key in [k for k, v in self.lost.items() if now - v.at > keep]:
            del self.lost[key]
