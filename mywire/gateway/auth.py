"""HTTP Basic credentials: parsing and constant-time checks.

With a user list, a request's password is hashed (SHA-256) and compared with
:func:`hmac.compare_digest` against the stored digest; an unknown user is compared
against a dummy digest, so the time taken does not tell which user names exist.  The
serverless driver sends the password of a ``mysql://`` URL still percent-encoded
(WHATWG ``URL`` keeps ``%40``), so a failed check is retried with the percent-decoded
password.  In passthrough mode the credentials are the MySQL account's, checked by the
server (see :mod:`mywire.gateway.app`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Credentials", "UserList", "parse_basic"]


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"Credentials(user={self.user!r})"


def parse_basic(header: str | None) -> Credentials | None:
    """The credentials of an ``Authorization: Basic ...`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        return None
    return Credentials(user, password)


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode()).digest()


class UserList:
    """Configured users: ``name → password`` or ``name → "sha256:<hex>"``."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._digests: dict[str, bytes] = {}
        for name, secret in users.items():
            if secret.startswith("sha256:"):
                self._digests[name] = bytes.fromhex(secret[7:])
            else:
                self._digests[name] = _digest(secret)
        self._dummy = _digest("\0mywire-no-such-user")

    def __len__(self) -> int:
        return len(self._digests)

    def check(self, creds: Credentials) -> bool:
        """Whether the password is right, in time independent of the user's existence
        and of where the password differs."""
        stored = self._digests.get(creds.user, self._dummy)
        known = creds.user in self._digests
        ok = hmac.compare_digest(_digest(creds.password), stored)
        if not ok and "%" in creds.password:
            ok = hmac.compare_digest(_digest(unquote(creds.password)), stored)
        return ok and known
