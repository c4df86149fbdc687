"""HTTP building blocks of the local gateway: Lambda result → response, AWS-style errors,
safe static files, the web client's security headers.

    >>> http_response({"statusCode": 201, "body": "{}"}).status
    201
    >>> static_file(Path("chatkit/web"), "../pyproject.toml") is None  # outside the root
    True
    >>> security_headers()["X-Content-Type-Options"]
    'nosniff'
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from chatkit.local._apigw_events import aws_id

#: Response headers aiohttp writes itself (from the body it sends and the connection it keeps).
HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


def http_response(result: Any) -> web.Response:
    """Map a payload-format-2.0 Lambda result to an HTTP response (a result without
    ``statusCode`` is a 200 JSON body, as HTTP APIs infer)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return web.Response(text=text, content_type="application/json")
    headers = {
        str(name): str(value)
        for name, value in (result.get("headers") or {}).items()
        if str(name).lower() not in HOP_BY_HOP
    }
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = web.Response(status=int(result["statusCode"]), body=data, headers=headers)
    for cookie in result.get("cookies") or ():
        response.headers.add("Set-Cookie", str(cookie))
    return response


def security_headers(cognito_origin: str | None = None) -> dict[str, str]:
    """The web client's security headers: scripts, styles and pages only from this origin,
    sockets anywhere (the API may live elsewhere), never framed, no sniffing, no referrer.
    ``cognito_origin`` (the user pool's API) is added to ``connect-src``."""
    connect = " ".join(filter(None, ("'self' ws: wss:", cognito_origin)))
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; connect-src {connect}; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def static_file(root: Path, tail: str) -> Path | None:
    """The file under ``root`` that ``tail`` names (``index.html`` for directories), or
    None: no ``..`` or dot-files, no backslashes, nothing resolving outside ``root``."""
    parts = [part for part in tail.split("/") if part]
    if any(part.startswith(".") or "\\" in part or "\x00" in part for part in parts):
        return None
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path.is_dir():
        path = path / "index.html"
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None if it is longer than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(payload: Any, status: int) -> web.Response:
    """A JSON response with Korean kept as is."""
    return web.json_response(
        payload, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False)
    )


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """A rest-json error: botocore takes the code from ``x-amzn-ErrorType``."""
    response = json_response({"message": message}, status)
    response.headers["x-amzn-ErrorType"] = error_type
    response.headers["x-amzn-RequestId"] = aws_id()
    return response


def gone() -> web.Response:
    """What ``@connections`` answers for an unknown or closed connection id."""
    return aws_error(410, "GoneException", "The connection does not exist or is closed")


def iso_time(epoch_ms: int) -> str:
    """``2026-11-26T06:09:53.894Z`` for epoch milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
