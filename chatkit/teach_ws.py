"""A small WebSocket chat client for notebook 05: sign in, send ``chat``, print each frame.

The notebook calls it in one line so the learner reads the frames, not the socket code.
It speaks the wire protocol (``chat`` / ``stop`` out; ``start`` → ``delta``… →
``end`` | ``error`` back) to any gateway URL — the local one in the notebook::

    >>> frames = ['{"type":"start","request_id":"r","seq":0}',
    ...           '{"type":"delta","request_id":"r","seq":2,"text":"요"}',
    ...           '{"type":"delta","request_id":"r","seq":1,"text":"안녕하세"}']
    >>> answer_of(frames)
    '안녕하세요'
    >>> frames_of(frames)
    [('start', ''), ('delta', '요'), ('delta', '안녕하세')]
    >>> print(brief(frames[1], at_ms=12.3))
        12 ms  #2 delta '요'  [54 B]

``aiohttp`` and ``websockets`` (the ``local`` extra) are imported when a client opens.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["WsChat", "answer_of", "brief", "frames_of"]


def answer_of(frames: Sequence[str]) -> str:
    """The answer the ``delta`` frames spell, in ``seq`` order."""
    deltas = [json.loads(raw) for raw in frames]
    deltas = sorted((f for f in deltas if f["type"] == "delta"), key=lambda f: f["seq"])
    return "".join(f["text"] for f in deltas)


def frames_of(posted: Sequence[str]) -> list[tuple[str, str]]:
    """``(type, text)`` of each frame, in the order posted."""
    return [(f["type"], f.get("text", "")) for f in map(json.loads, posted)]


def brief(raw: str, at_ms: float) -> str:
    """One line per frame: arrival ms, ``seq``, type, new text (or the other fields), bytes."""
    frame = json.loads(raw)
    rest = {k: v for k, v in frame.items() if k not in ("type", "request_id", "seq", "text")}
    text = repr(frame["text"]) if "text" in frame else (rest or "")
    size = len(raw.encode())
    return f"{at_ms:6.0f} ms  #{frame.get('seq')} {frame.get('type'):<5} {text}  [{size} B]"


def _finished(frame: dict[str, Any]) -> bool:
    return frame["type"] in ("end", "error")


class WsChat:
    """One signed-in user on a gateway: ``await WsChat.login(url, ws_url, user)``.

    ``arrivals`` keeps ``(ms since the question was sent, raw frame)`` for every frame.
    """

    def __init__(self, url: str, ws_url: str, token: str, http: Any, ws: Any) -> None:
        self.url, self.ws_url, self.token, self.http, self.ws = url, ws_url, token, http, ws
        self.arrivals: list[tuple[float, str]] = []

    @classmethod
    async def login(cls, url: str, ws_url: str, user_id: str) -> WsChat:
        """``POST /login`` for a signed token, then open the WebSocket with ``?token=``."""
        import aiohttp

        http = aiohttp.ClientSession()
        async with http.post(url + "/login", json={"user_id": user_id}) as response:
            token = (await response.json())["token"]
        return cls(url, ws_url, token, http, await cls.connect(ws_url, token))

    @staticmethod
    async def connect(ws_url: str, token: str) -> Any:
        """Another WebSocket for the same token (close it to play a tab that goes away)."""
        import websockets

        return await websockets.connect(f"{ws_url}?token={token}", proxy=None)

    async def send(self, text: str, request_id: str | None = None, ws: Any = None) -> str:
        """Send a ``chat`` frame; return its ``request_id``."""
        request_id = request_id or uuid.uuid4().hex[:12]
        chat = {"type": "chat", "request_id": request_id, "text": text}
        await (ws or self.ws).send(json.dumps(chat, ensure_ascii=False))
        return request_id

    async def receive(
        self,
        request_id: str,
        started: float,
        frames: list[str] | None = None,
        *,
        done: Callable[[dict[str, Any]], bool] = _finished,
        quiet: bool = False,
        ws: Any = None,
    ) -> list[str]:
        """Read this request's frames until ``done(last frame)``; print each unless ``quiet``."""
        frames = [] if frames is None else frames
        while not frames or not done(json.loads(frames[-1])):
            raw = await (ws or self.ws).recv()
            if json.loads(raw).get("request_id") == request_id:
                at_ms = (time.perf_counter() - started) * 1000
                frames.append(raw)
                self.arrivals.append((at_ms, raw))
                if not quiet:
                    print(brief(raw, at_ms))
        return frames

    async def ask(self, text: str, request_id: str | None = None, quiet: bool = False) -> list[str]:
        """Send a question and return all its frames, printing one line per frame."""
        started = time.perf_counter()
        request_id = await self.send(text, request_id)
        return await self.receive(request_id, started, quiet=quiet)

    def delta_timeline(self, frames: Sequence[str]) -> tuple[list[float], list[int]]:
        """Arrival ms and text length of each ``delta`` frame of ``frames`` (for a figure)."""
        mine = set(frames)
        deltas = [(at, json.loads(raw)) for at, raw in self.arrivals if raw in mine]
        deltas = [(at, f) for at, f in deltas if f["type"] == "delta"]
        return [at for at, _ in deltas], [len(f["text"]) for _, f in deltas]

    async def history(self, token: str | None = "", **query: Any) -> tuple[int, Any]:
        """``GET /history`` with ``Authorization: Bearer`` (this user's token unless given)."""
        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        params = {k: str(v) for k, v in query.items()}
        async with self.http.get(self.url + "/history", params=params, headers=headers) as response:
            return response.status, await response.json()

    async def close(self) -> None:
        """Close the WebSocket and the HTTP session."""
        await self.ws.close()
        await self.http.close()
