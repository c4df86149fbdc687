"""Authentication, pluggable: anything with ``verify(token) -> Identity`` will do.

The built-in :class:`DemoTokens` is the offline/workshop sign-in: a user id becomes a
signed, expiring token (HMAC-SHA256 with a secret from settings). It proves the token
was issued by this server, not who the person is — the web client labels it as a demo.
A deployment that needs real identities uses Cognito access tokens instead
(:class:`chatkit.cognito.CognitoTokens`, ``CHATKIT_AUTH=cognito``); both answer ``verify``::

    >>> tokens = DemoTokens("secret", clock=lambda: 1000.0)
    >>> token, identity = tokens.issue("민수")
    >>> tokens.verify(token).user_id
    '민수'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .errors import ChatError, ErrorCode

__all__ = ["Authenticator", "DemoTokens", "Identity", "validate_user_id"]

#: How long a demo token is valid (a workshop day).
DEMO_TOKEN_SECONDS = 12 * 3600
MAX_USER_ID_CHARS = 64


@dataclass(frozen=True)
class Identity:
    """Who a token speaks for, until when, and since when (a revocation refuses tokens
    issued at or before it; 0 = unknown, so any revocation refuses it)."""

    user_id: str
    expires_at: float
    issued_at: float = 0.0


class Authenticator(Protocol):
    def verify(self, token: str | None) -> Identity:
        """The identity behind ``token``; raises ``ChatError(UNAUTHORIZED)`` if invalid."""
        ...


def validate_user_id(user_id: object) -> str:
    """NFC, 1–64 printable characters, no leading ``#`` (reserved). Raises ChatError."""
    if not isinstance(user_id, str):
        raise ChatError(ErrorCode.BAD_REQUEST, "user_id가 필요합니다. (user_id is required.)")
    user_id = unicodedata.normalize("NFC", user_id.strip())
    if (
        not (0 < len(user_id) <= MAX_USER_ID_CHARS)
        or user_id.startswith("#")
        or any(unicodedata.category(ch).startswith("C") for ch in user_id)
    ):
        raise ChatError(
            ErrorCode.BAD_REQUEST,
            "user_id는 1–64자의 문자여야 합니다. (user_id: 1–64 printable characters.)",
        )
    return user_id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DemoTokens:
    """Signed, expiring demo tokens: ``demo1.<payload>.<signature>``."""

    prefix = "demo1"

    def __init__(
        self,
        secret: str,
        *,
        ttl: float = DEMO_TOKEN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret.encode()
        self._ttl = ttl
        self._clock = clock

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._secret, f"{self.prefix}.{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def issue(self, user_id: str) -> tuple[str, Identity]:
        now = int(self._clock())  # whole seconds, floored like JWT iat and revocations
        identity = Identity(validate_user_id(user_id), now + round(self._ttl), now)
        claims = {"sub": identity.user_id, "exp": identity.expires_at, "iat": now}
        payload = _b64(json.dumps(claims, ensure_ascii=False).encode())
        return f"{self.prefix}.{payload}.{self._sign(payload)}", identity

    def verify(self, token: str | None) -> Identity:
        try:
            prefix, payload, signature = (token or "").split(".")
            if prefix != self.prefix or not hmac.compare_digest(signature, self._sign(payload)):
                raise ValueError("bad signature")
            claims = json.loads(_unb64(payload))
            identity = Identity(
                validate_user_id(claims["sub"]), float(claims["exp"]), float(claims.get("iat", 0))
            )
        except (ValueError, KeyError, TypeError, ChatError):
            raise ChatError(ErrorCode.UNAUTHORIZED) from None
        if identity.expires_at <= self._clock():
            raise ChatError(
                ErrorCode.UNAUTHORIZED, "로그인이 만료되었습니다. (The sign-in has expired.)"
            )
        return identity
