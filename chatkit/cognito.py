"""Cognito user-pool access tokens, verified as API Gateway's JWT authorizer verifies them.

A token counts only if it is an RS256 JWT signed by one of the pool's keys (JWKS), issued by
the pool (``iss``), for our app client (``client_id``), an *access* token (``token_use``;
ID tokens carry profile data and are for the client, not for APIs), and not expired. The
identity is the ``sub`` claim (stable; a username can be deleted and taken again); the
sign-in is ``origin_jti`` (shared by the access tokens refreshed from one sign-in)::

    tokens = CognitoTokens.from_settings(settings)
    identity = tokens.verify(access_token)      # ChatError(UNAUTHORIZED) if anything is off
    identity.user_id                            # 'b1f0c0de-…' (the user's sub)

The pool's keys are fetched once per container and again (at most every 5 minutes) when a
token names an unknown key id — Cognito rotates keys rarely, but it does.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

from .auth import Identity, token_times, validate_user_id
from .config import Settings
from .errors import ChatError, ErrorCode

__all__ = ["CognitoTokens", "sign_out_everywhere"]

#: Seconds between fetches of the key set when an unknown ``kid`` shows up.
JWKS_REFRESH_SECONDS = 300
_EXPIRED = "로그인이 만료되었습니다. (The sign-in has expired.)"


def _fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


class CognitoTokens:
    """Verifies a user pool's access tokens (an :class:`chatkit.auth.Authenticator`)."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        jwks_url: str,
        clock: Callable[[], float] = time.time,
        fetch: Callable[[str], dict[str, Any]] = _fetch_json,
    ) -> None:
        self.issuer, self.client_id, self.jwks_url = issuer, client_id, jwks_url
        self._clock, self._fetch = clock, fetch
        self._keys: dict[str, Any] = {}
        self._fetched_at = -float("inf")
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CognitoTokens:
        """The pool and client of ``settings``; keys from ``cognito_endpoint`` offline."""
        pool = settings.cognito_user_pool_id
        if not pool or not settings.cognito_client_id:
            raise ValueError("Cognito needs a user pool id and an app client id")
        base = (settings.cognito_endpoint or "").rstrip("/")
        jwks_url = (
            f"{base}/{pool}/.well-known/jwks.json"
            if base
            else f"{settings.cognito_issuer}/.well-known/jwks.json"
        )
        return cls(
            issuer=settings.cognito_issuer, client_id=settings.cognito_client_id, jwks_url=jwks_url
        )

    def verify(self, token: str | None) -> Identity:
        try:
            key = self._key(jwt.get_unverified_header(token or "").get("kid"))
            claims = jwt.decode(
                token or "",
                key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "sub", "token_use", "client_id"],
                    "verify_aud": False,  # access tokens name their client in client_id
                },
            )
            if claims["token_use"] != "access" or claims["client_id"] != self.client_id:
                raise jwt.InvalidTokenError("not an access token of this client")
            exp, iat = token_times(claims["exp"], claims["iat"], self._clock())
            sign_in = claims.get("origin_jti") or claims.get("jti") or ""
            identity = Identity(validate_user_id(claims["sub"]), exp, iat, str(sign_in))
        except jwt.ExpiredSignatureError:
            raise ChatError(ErrorCode.UNAUTHORIZED, _EXPIRED) from None
        except (jwt.PyJWTError, KeyError, TypeError, ValueError, ChatError):
            raise ChatError(ErrorCode.UNAUTHORIZED) from None
        if identity.expires_at <= self._clock():  # PyJWT reads the wall clock; so do tests
            raise ChatError(ErrorCode.UNAUTHORIZED, _EXPIRED)
        return identity

    def _key(self, kid: object) -> Any:
        """The public key ``kid``; refetches the key set when ``kid`` is new to us."""
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("no key id")
        with self._lock:
            if kid not in self._keys and self._clock() - self._fetched_at >= JWKS_REFRESH_SECONDS:
                self._fetched_at = self._clock()
                try:
                    keys = jwt.PyJWKSet.from_dict(self._fetch(self.jwks_url)).keys
                except Exception:  # Cognito unreachable: refuse now, try again later
                    self._fetched_at = -float("inf")
                    raise jwt.InvalidTokenError("key set unavailable") from None
                self._keys = {k.key_id: k.key for k in keys if k.key_id}
            if kid not in self._keys:
                raise jwt.InvalidTokenError("unknown key id")
            return self._keys[kid]


def sign_out_everywhere(settings: Settings, user_id: str) -> bool:
    """Revoke the refresh tokens of the pool user whose ``sub`` is ``user_id`` (so no new
    access tokens); False if the pool has no such user. Access tokens already issued are
    refused by chatkit's own revocation (:meth:`chatkit.aws.state.StateStore.revoke`)."""
    from .aws_clients import cognito_client

    client = cognito_client(settings)
    pool = settings.cognito_user_pool_id
    users = client.list_users(UserPoolId=pool, Filter=f'sub = "{user_id}"', Limit=1)["Users"]
    if not users:
        return False
    client.admin_user_global_sign_out(UserPoolId=pool, Username=users[0]["Username"])
    return True
