"""Typed views of API Gateway events (WebSocket and HTTP API payload 2.0) and responses.

>>> event = WebSocketEvent({"requestContext": {"connectionId": "c1", "routeKey": "$default",
...                         "domainName": "abc.execute-api.aws", "stage": "prod"},
...                         "body": "{}"})
>>> event.connection_id, event.management_endpoint
('c1', 'https://abc.execute-api.aws/prod')
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["HttpEvent", "WebSocketEvent", "bearer_token", "json_response"]


def _lower(headers: dict[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def bearer_token(headers: dict[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header (lower-cased header names)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


class WebSocketEvent:
    """A ``$connect`` / ``$default`` / ``$disconnect`` event."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.context: dict[str, Any] = raw.get("requestContext") or {}

    connection_id = property(lambda self: self.context.get("connectionId", ""))
    route_key = property(lambda self: self.context.get("routeKey", ""))
    request_id = property(lambda self: self.context.get("requestId", ""))

    @property
    def body(self) -> str | None:
        body = self.raw.get("body")
        if body is not None and self.raw.get("isBase64Encoded"):
            return base64.b64decode(body).decode("utf-8", errors="replace")
        return body

    @property
    def query(self) -> dict[str, str]:
        return self.raw.get("queryStringParameters") or {}

    @property
    def headers(self) -> dict[str, str]:
        return _lower(self.raw.get("headers"))

    @property
    def authorizer(self) -> dict[str, Any]:
        """What the ``$connect`` Lambda authorizer returned as ``context`` (set by API
        Gateway, never by the client); empty without an authorizer."""
        return self.context.get("authorizer") or {}

    @property
    def method_arn(self) -> str:
        """The route an authorizer is asked about (authorizer events only)."""
        return self.raw.get("methodArn", "")

    @property
    def management_endpoint(self) -> str:
        """Where ``@connections`` lives for this API: ``https://{domain}/{stage}``."""
        return f"https://{self.context.get('domainName', '')}/{self.context.get('stage', '')}"


class HttpEvent:
    """An HTTP API (payload format 2.0) event."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        http = (raw.get("requestContext") or {}).get("http") or {}
        self.method: str = http.get("method", "GET")
        self.path: str = raw.get("rawPath") or http.get("path", "/")
        self.query: dict[str, str] = raw.get("queryStringParameters") or {}
        self.headers = _lower(raw.get("headers"))

    @property
    def jwt_claims(self) -> dict[str, Any]:
        """The claims API Gateway's JWT authorizer verified; empty without one."""
        authorizer = (self.raw.get("requestContext") or {}).get("authorizer") or {}
        return (authorizer.get("jwt") or {}).get("claims") or {}

    @property
    def body(self) -> str:
        body = self.raw.get("body") or ""
        if self.raw.get("isBase64Encoded"):
            return base64.b64decode(body).decode("utf-8", errors="replace")
        return body

    @property
    def bearer_token(self) -> str | None:
        return bearer_token(self.headers)


def json_response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Lambda proxy response with a UTF-8 JSON body (Korean kept as is)."""
    return {
        "statusCode": status,
        "headers": {
            "content-type": "application/json; charset=utf-8",
            "cache-control": "no-store",
            **(headers or {}),
        },
        "body": "" if body is None else json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
    }
