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
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .errors import ChatError, ErrorCode

__all__ = [
    "MAX_USER_ID_CHARS",
    "Authenticator",
    "DemoTokens",
    "Identity",
    "token_times",
    "validate_user_id",
]

#: How long a demo token is valid (a workshop day).
DEMO_TOKEN_SECONDS = 12 * 3600
#: Longest user id (characters after NFC): a Cognito ``sub`` is 36, a workshop roster's
#: names at most 64. The one home of the rule (:func:`validate_user_id`).
MAX_USER_ID_CHARS = 64
#: Longest lifetime (``exp - iat``) a token may claim: Cognito access tokens live at most
#: a day, demo tokens 12 hours.
MAX_TOKEN_SECONDS = 86400
#: How far in the future ``iat`` may be (clock skew between machines).
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Identity:
    """Who a token speaks for, until when, and since when (a revocation refuses tokens
    issued at or before it; 0 = unknown, so any revocation refuses it)."""

    user_id: str
    expires_at: float
    issued_at: float = 0.0
    #: The sign-in the token belongs to (Cognito ``origin_jti``, a demo token's ``jti``);
    #: a sign-out refuses every token of it. Empty: unknown (sign-out revokes the user).
    token_id: str = ""


class Authenticator(Protocol):
    def verify(self, token: str | None) -> Identity:
        """The identity behind ``token``; raises ``ChatError(UNAUTHORIZED)`` if invalid."""
        ...


def validate_user_id(user_id: object) -> str:
    """NFC, stripped, 1–64 printable characters, no leading ``#`` (reserved); else
    ChatError (``bad_request``). Sign-in (demo and Cognito), ``ChatSession`` and the CLI
    all check user ids here.

    >>> validate_user_id(" 민수 ")
    '민수'
    """
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
            f"user_id는 1–{MAX_USER_ID_CHARS}자의 문자이며 #으로 시작할 수 없습니다. "
            f"(user_id: 1–{MAX_USER_ID_CHARS} printable characters, not starting with #.)",
        )
    return user_id


def token_times(exp: object, iat: object, now: float) -> tuple[int, int]:
    """``(exp, iat)`` if both are integers (JSON numbers without a fraction), ``iat`` is not
    in the future and the lifetime is at most :data:`MAX_TOKEN_SECONDS`; else ValueError
    (NaN, infinity, ``1e999``, strings, booleans and a far-future ``iat`` never count).

    >>> token_times(1_000_060, 1_000_000, now=1_000_001)
    (1000060, 1000000)
    """
    if not all(type(value) is int for value in (exp, iat)):
        raise ValueError("exp and iat must be integers")
    if not (0 < iat <= now + CLOCK_SKEW_SECONDS and 0 < exp <= iat + MAX_TOKEN_SECONDS):
        raise ValueError("exp or iat out of bounds")
    return exp, iat


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
        jti = secrets.token_urlsafe(12)
        identity = Identity(validate_user_id(user_id), now + round(self._ttl), now, jti)
        claims = {"sub": identity.user_id, "exp": identity.expires_at, "iat": now, "jti": jti}
        payload = _b64(json.dumps(claims, ensure_ascii=False).encode())
        return f"{self.prefix}.{payload}.{self._sign(payload)}", identity

    def verify(self, token: str | None) -> Identity:
        try:
            prefix, payload, signature = (token or "").split(".")
            if prefix != self.prefix or not hmac.compare_digest(signature, self._sign(payload)):
                raise ValueError("bad signature")
            claims = json.loads(_unb64(payload), parse_constant=_no_constants)
            jti = claims.get("jti", "")
            if not isinstance(jti, str) or len(jti) > 64:
                raise ValueError("bad jti")
            exp, iat = token_times(claims["exp"], claims["iat"], self._clock())
            identity = Identity(validate_user_id(claims["sub"]), exp, iat, jti)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, ChatError):
            raise ChatError(ErrorCode.UNAUTHORIZED) from None
        if identity.expires_at <= self._clock():
            raise ChatError(
                ErrorCode.UNAUTHORIZED, "로그인이 만료되었습니다. (The sign-in has expired.)"
            )
        return identity
