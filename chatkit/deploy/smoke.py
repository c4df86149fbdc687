"""The end-to-end smoke test of a running backend — the deployed stack or the local
gateway: sign in, ``ping`` (the MOCK route on AWS), stream one Korean answer over the
WebSocket, read it back from ``/history``.

    >>> result = await run_smoke(Endpoints.local("http://127.0.0.1:8765"))  # doctest: +SKIP
    >>> print(result.summary())                                           # doctest: +SKIP
    ✓ smoke OK · 312 chars in 14 deltas · first token 640 ms · total 3120 ms · history ✓

A backend with Cognito sign-in has no demo ``/login``, and signing in needs a user that an
administrator created (infra/README.md): there the smoke test checks only that everything
without a valid token is refused (WebSocket 401, ``/history`` 401, no ``/login``).
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COGNITO_USER_NEEDED", "DEFAULT_QUESTION", "Endpoints", "SmokeResult", "run_smoke"]

DEFAULT_QUESTION = "서울에서 가 볼 만한 곳 한 군데만 짧게 추천해줘."


@dataclass(frozen=True)
class Endpoints:
    """Where the backend is: the WebSocket URL and the HTTP API base (``/login``, ``/history``)."""

    ws_url: str
    http_url: str
    #: The backend's sign-in: ``demo`` (``POST /login``) or ``cognito`` (a user pool).
    auth: str = "demo"

    @classmethod
    def local(cls, url: str, auth: str = "demo") -> Endpoints:
        """The local gateway at ``url`` (``http://127.0.0.1:8765``)."""
        base = url.rstrip("/")
        return cls("ws" + base.removeprefix("http") + "/ws", base, auth)

    @classmethod
    def served(cls, url: str) -> Endpoints:
        """The local gateway at ``url``, its sign-in read from the ``config.js`` it serves
        to the web client (``window.CHATKIT_CONFIG = {…, "auth": "cognito"};``)."""
        from ..webconfig import WebConfig

        with urllib.request.urlopen(url.rstrip("/") + "/config.js", timeout=30) as response:
            config = WebConfig.from_js(response.read().decode())
        return cls.local(url, config.auth)

    @classmethod
    def from_outputs(cls, outputs: dict[str, str]) -> Endpoints:
        """The deployed stack's outputs (``WebSocketUrl``, ``HttpApiUrl``)."""
        missing = {"WebSocketUrl", "HttpApiUrl"} - outputs.keys()
        if missing:
            raise LookupError(
                f"스택 출력이 없습니다 (stack outputs missing): {', '.join(sorted(missing))}"
            )
        return cls(
            outputs["WebSocketUrl"],
            outputs["HttpApiUrl"].rstrip("/"),
            outputs.get("AuthMode", "demo"),
        )


@dataclass
class SmokeResult:
    """What the smoke test saw; ``ok`` only if every step passed."""

    endpoints: Endpoints
    user_id: str
    request_id: str
    answer: str = ""
    deltas: int = 0
    pong: bool = False
    end: dict[str, Any] | None = None
    first_token_ms: int | None = None
    total_ms: int | None = None
    stored: dict[str, Any] | None = None
    #: Cognito sign-in: what each request without a valid token got (HTTP status).
    refusals: dict[str, int | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = "✓ smoke OK" if self.ok else "✗ smoke FAILED"
        if self.endpoints.auth == "cognito":
            return self._cognito_summary(head)
        lines = [
            f"{head} · {self.endpoints.ws_url}",
            f"  답변 (answer) {len(self.answer)} chars in {self.deltas} deltas · 첫 토큰 "
            f"(first token) {self.first_token_ms} ms · 전체 (total) {self.total_ms} ms · "
            f"ping→pong {'✓' if self.pong else '✗'} · 기록 (history) "
            f"{'✓' if self.stored else '✗'}",
            f"  {self.answer[:120]!r}",
        ]
        lines += [f"  ✗ {problem}" for problem in self.problems]
        return "\n".join(lines)

    def _cognito_summary(self, head: str) -> str:
        seen = " · ".join(f"{check} → {status}" for check, status in self.refusals.items())
        lines = [
            f"{head} (Cognito) · {self.endpoints.ws_url}",
            f"  토큰 없이는 거절 (refused without a valid token): {seen}",
            f"  {COGNITO_USER_NEEDED}",
        ]
        lines += [f"  ✗ {problem}" for problem in self.problems]
        return "\n".join(lines)


#: What the Cognito smoke test cannot do, and how to do it.
COGNITO_USER_NEEDED = (
    "답변 스트리밍 확인에는 사용자가 필요합니다: 관리자가 사용자를 만들고(infra/README.md "
    "'Cognito 사용자') 웹 클라이언트(WebUrl)에서 로그인해 질문하세요. (Streaming an answer "
    "needs a user: an administrator creates one — infra/README.md, 'Cognito users' — then "
    "sign in at WebUrl and ask.)"
)


def _http(url: str, *, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{url}: HTTP {err.code} {err.read()[:300]!r}") from None


def _http_status(url: str, *, body: dict[str, Any] | None = None) -> int:
    """The HTTP status ``url`` answers (GET, or POST with a JSON ``body``)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


async def _handshake_status(url: str) -> int:
    """The status of a WebSocket handshake (101 if it was accepted)."""
    import websockets

    try:
        async with websockets.connect(url, open_timeout=30, close_timeout=5):
            return 101
    except websockets.InvalidStatus as err:
        return err.response.status_code


async def _check_refusals(endpoints: Endpoints, result: SmokeResult) -> None:
    """Cognito sign-in: what has no valid token is refused by API Gateway (the authorizers)
    and the demo ``/login`` does not exist."""
    ws, http = endpoints.ws_url, endpoints.http_url
    login = {"user_id": result.user_id}
    checks = [
        ("WebSocket, no token", 401, lambda: _handshake_status(ws)),
        ("WebSocket, invalid token", 401, lambda: _handshake_status(f"{ws}?token=not-a-jwt")),
        ("GET /history, no token", 401, lambda: asyncio.to_thread(_http_status, http + "/history")),
        ("POST /login", 404, lambda: asyncio.to_thread(_http_status, http + "/login", body=login)),
    ]
    for check, expected, request in checks:
        result.refusals[check] = status = await request()
        if status != expected:
            result.problems.append(f"{check}: HTTP {status}, expected {expected}")


def _has_hangul(text: str) -> bool:
    return any("HANGUL" in unicodedata.name(ch, "") for ch in text)


async def _stream(ws: Any, result: SmokeResult, question: str, timeout: float) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    pong = json.loads(await asyncio.wait_for(ws.recv(), 10))
    result.pong = pong == {"type": "pong"}
    if not result.pong:
        result.problems.append(f"ping answered {pong!r}, not pong")
    started = time.perf_counter()
    message = {"type": "chat", "request_id": result.request_id, "text": question}
    await ws.send(json.dumps(message, ensure_ascii=False))
    parts, last_seq = [], -1
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame.get("request_id") != result.request_id:
            continue  # gateway notices such as {"message": "Endpoint request timed out"}
        if frame["seq"] <= last_seq:
            result.problems.append(f"seq went from {last_seq} to {frame['seq']}")
        last_seq = frame["seq"]
        if frame["type"] == "delta":
            if result.first_token_ms is None:
                result.first_token_ms = round((time.perf_counter() - started) * 1000)
            parts.append(frame["text"])
        elif frame["type"] in ("end", "error"):
            result.total_ms = round((time.perf_counter() - started) * 1000)
            if frame["type"] == "error":
                result.problems.append(f"error {frame.get('code')}: {frame.get('message')}")
            result.end = frame
            break
    result.answer, result.deltas = "".join(parts), len(parts)


async def run_smoke(
    endpoints: Endpoints,
    *,
    question: str = DEFAULT_QUESTION,
    user_id: str | None = None,
    timeout: float = 120.0,
) -> SmokeResult:
    """Sign in, ping, stream one answer, read it back from ``/history`` — or, with Cognito
    sign-in, check that requests without a valid token are refused."""
    import websockets

    result = SmokeResult(
        endpoints, user_id or f"smoke-{uuid.uuid4().hex[:8]}", f"smoke-{uuid.uuid4().hex}"
    )
    if endpoints.auth == "cognito":
        try:
            await _check_refusals(endpoints, result)
        except Exception as err:  # every failure becomes a reported problem
            result.problems.append(f"{type(err).__name__}: {err}")
        return result
    try:
        login = await asyncio.to_thread(
            _http, endpoints.http_url + "/login", body={"user_id": result.user_id}
        )
        token = login["token"]
        url = f"{endpoints.ws_url}?token={urllib.parse.quote(token)}"
        async with websockets.connect(url, open_timeout=30, close_timeout=5) as ws:
            await _stream(ws, result, question, timeout)
        if result.end and result.end["type"] == "end":
            if not _has_hangul(result.answer):
                result.problems.append("the answer has no Korean text")
            page = await asyncio.to_thread(
                _http, endpoints.http_url + "/history?limit=5", token=token
            )
            stored = [i for i in page["items"] if i["request_id"] == result.request_id]
            result.stored = stored[0] if stored else None
            if result.stored is None:
                result.problems.append("the turn is not in /history")
            elif (result.stored["answer"], result.stored["status"]) != (
                result.answer,
                "completed",
            ):
                result.problems.append("/history differs from the streamed answer")
    except Exception as err:  # every failure becomes a reported problem
        result.problems.append(f"{type(err).__name__}: {err}")
    return result
