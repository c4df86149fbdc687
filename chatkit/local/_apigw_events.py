"""Lambda events in the shapes API Gateway sends: WebSocket CONNECT / MESSAGE / DISCONNECT
(``requestContext`` with ``connectionId``…) and HTTP API payload format 2.0.

Pure functions of what was received, so fixtures and tests can build them too::

    client = Client("127.0.0.1", "Mozilla/5.0", "127.0.0.1:8765")
    event = message_event(client, "local", "abcdefghij", "Lp3sWdZ9oE0CF7g=", 1700000000000,
                          '{"type":"ping"}')
    event["requestContext"]["eventType"]  # 'MESSAGE'
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = ("text/", "json", "xml", "javascript")

Headers = Iterable[tuple[str, str]]
"""Request headers as received: ``(name, value)`` pairs, original case, repeats allowed."""


@dataclass(frozen=True)
class Client:
    """Who sent a request: ``source_ip``, ``user_agent`` and the ``Host`` it asked for."""

    source_ip: str
    user_agent: str
    domain_name: str


def aws_id() -> str:
    """A random id shaped like API Gateway's connection and request ids: ``Lp3sWdZ9oE0CF7g=``.

    Base64 of 11 bytes, drawn again until it has no ``+`` or ``/`` (ids go into URL paths).
    """
    while True:
        value = base64.b64encode(secrets.token_bytes(11)).decode("ascii")
        if "+" not in value and "/" not in value:
            return value


def api_id() -> str:
    """A random 10-character API id such as ``k3x9d0qz1a``."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def now_ms() -> int:
    """Current epoch time in milliseconds (``requestTimeEpoch``, ``connectedAt``)."""
    return time.time_ns() // 1_000_000


def request_time(epoch_ms: int) -> str:
    """CLF time as API Gateway writes it, e.g. ``20/Jul/2023:23:29:25 +0000``."""
    t = time.gmtime(epoch_ms / 1000)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _trace_id(epoch_ms: int) -> str:
    return f"Root=1-{epoch_ms // 1000:08x}-{secrets.token_hex(12)}"


def _forwarded(client: Client, epoch_ms: int) -> list[tuple[str, str]]:
    port = client.domain_name.rpartition(":")[2] if ":" in client.domain_name else "80"
    return [
        ("X-Amzn-Trace-Id", _trace_id(epoch_ms)),
        ("X-Forwarded-For", client.source_ip),
        ("X-Forwarded-Port", port),
        ("X-Forwarded-Proto", "http"),
    ]


def _ws_context(
    route_key: str,
    event_type: str,
    client: Client,
    stage: str,
    api: str,
    connection_id: str,
    connected_at: int,
) -> dict[str, Any]:
    at = now_ms()
    request_id = aws_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(at),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at,
        "requestTimeEpoch": at,
        "identity": {"sourceIp": client.source_ip, "userAgent": client.user_agent},
        "requestId": request_id,
        "domainName": client.domain_name,
        "connectionId": connection_id,
        "apiId": api,
    }


def connect_event(
    client: Client,
    stage: str,
    api: str,
    connection_id: str,
    connected_at: int,
    headers: Headers,
    query_string: str,
) -> dict[str, Any]:
    """The ``$connect`` event: handshake headers and query string (v1 style: single values
    are the last ones; ``multiValue…`` keep them all; no query string → no query keys)."""
    context = _ws_context("$connect", "CONNECT", client, stage, api, connection_id, connected_at)
    pairs = [*headers, *_forwarded(client, context["requestTimeEpoch"])]
    event: dict[str, Any] = {"headers": dict(pairs), "multiValueHeaders": _multi(pairs)}
    query = parse_qsl(query_string, keep_blank_values=True)
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = _multi(query)
    event["requestContext"] = context
    event["isBase64Encoded"] = False
    return event


def authorizer_event(connect: dict[str, Any], region: str) -> dict[str, Any]:
    """The Lambda REQUEST authorizer's event for a ``$connect`` event: the same headers,
    query string and request context, plus the ``methodArn`` being authorized."""
    context = connect["requestContext"]
    arn = (
        f"arn:aws:execute-api:{region}:123456789012:{context['apiId']}/{context['stage']}/$connect"
    )
    event = {"type": "REQUEST", "methodArn": arn}
    for key in (
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
    ):
        if key in connect:
            event[key] = connect[key]
    event.update({"stageVariables": {}, "requestContext": context})
    return event


def message_event(
    client: Client, stage: str, api: str, connection_id: str, connected_at: int, body: str
) -> dict[str, Any]:
    """A ``$default`` MESSAGE event; ``body`` is the client's text frame, unchanged."""
    context = _ws_context("$default", "MESSAGE", client, stage, api, connection_id, connected_at)
    context["messageId"] = aws_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    client: Client,
    stage: str,
    api: str,
    connection_id: str,
    connected_at: int,
    status_code: int,
    reason: str,
) -> dict[str, Any]:
    """The ``$disconnect`` event with ``disconnectStatusCode`` and ``disconnectReason``."""
    context = _ws_context(
        "$disconnect", "DISCONNECT", client, stage, api, connection_id, connected_at
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    pairs = [
        ("Host", client.domain_name),
        ("x-api-key", ""),
        ("X-Forwarded-For", ""),
        ("x-restapi", ""),
    ]
    return {
        "headers": dict(pairs),
        "multiValueHeaders": _multi(pairs),
        "requestContext": context,
        "isBase64Encoded": False,
    }


def http_event(
    client: Client,
    api: str,
    route_key: str,
    method: str,
    path: str,
    query_string: str,
    headers: Headers,
    body: bytes,
) -> dict[str, Any]:
    """An HTTP API payload-format-2.0 event.

    Header names are lowercased and repeats joined with commas; cookies move to
    ``cookies``; text bodies (``text/*``, JSON, XML, JavaScript) are passed as text,
    anything else base64-encoded, as HTTP APIs do.
    """
    at = now_ms()
    request_id = aws_id()
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in [*headers, *_forwarded(client, at)]:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    query = parse_qsl(query_string, keep_blank_values=True)
    if query:
        params: dict[str, str] = {}
        for name, value in query:
            params[name] = f"{params[name]},{value}" if name in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": "123456789012",
        "apiId": api,
        "domainName": client.domain_name,
        "domainPrefix": client.domain_name.split(".", 1)[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": client.source_ip,
            "userAgent": client.user_agent,
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": request_time(at),
        "timeEpoch": at,
    }
    if body:
        text = _as_text(body, joined.get("content-type", ""))
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def _as_text(body: bytes, content_type: str) -> str | None:
    if not any(kind in content_type.lower() for kind in _TEXT_TYPES):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _multi(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out
