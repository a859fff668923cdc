"""Who may do what on the HTTP API: bearer tokens from the settings, compared in constant time.

A channel token publishes events whose `source` is that channel, and nothing else; a dashboard
token reads, and nothing else. No token, an unknown token, or the wrong kind of token is refused
before any data is looked at, and the refusal never repeats what was sent.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from services.settings import Settings

Role = Literal["channel", "dashboard"]


@dataclass(frozen=True, slots=True)
class Caller:
    role: Role
    channel: str | None = None
    """The channel a channel token belongs to (None for dashboard tokens)."""


class AccessDenied(Exception):
    """A request without the right token: `status` 401 (no or unknown token) or 403 (wrong kind)."""

    def __init__(self, status: Literal[401, 403], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Access:
    def __init__(self, settings: Settings) -> None:
        self._tokens: list[tuple[bytes, Caller]] = [
            (token.get_secret_value().encode(), Caller("channel", channel))
            for channel, token in settings.channel_tokens.items()
        ] + [(token.get_secret_value().encode(), Caller("dashboard")) for token in settings.dashboard_tokens]

    def identify(self, authorization: str | None) -> Caller | None:
        """The caller a `Bearer` header belongs to. Every configured token is compared, each in
        constant time, so the time taken tells nothing about which token came close."""
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        candidate = presented.strip().encode()
        found: Caller | None = None
        for token, caller in self._tokens:
            if hmac.compare_digest(token, candidate) and found is None:
                found = caller
        return found

    def require(self, authorization: str | None, role: Role) -> Caller:
        caller = self.identify(authorization)
        if caller is None:
            raise AccessDenied(401, "a valid bearer token is required (Authorization: Bearer <token>)")
        if caller.role != role:
            needed = "a channel token" if role == "channel" else "a dashboard token"
            raise AccessDenied(403, f"this endpoint needs {needed}")
        return caller
