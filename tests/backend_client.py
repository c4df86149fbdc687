"""A client for the whole backend over real loopback sockets, shared by the end-to-end and
fault tests: the ``serve`` fixture starts the local API Gateway with the real Lambda
handlers on fresh tables; :class:`Served` logs in, connects and reads ``/history``; ``ask``
sends a ``chat`` and collects its frames as a :class:`Reply`.

Its fixtures reach every test folder through ``pytest_plugins`` in tests/conftest.py.
:func:`chatkit_serve` runs ``chatkit serve`` itself in a child process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets

from chatkit.local.gateway import Gateway

TIMED_OUT = "Endpoint request timed out"
ROOT = Path(__file__).parents[1]


@dataclass
class Reply:
    """Every frame received while one request was answered (raw, as on the wire)."""

    request_id: str
    raw: list[str] = field(default_factory=list)

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(frame) for frame in self.raw]

    @property
    def own(self) -> list[dict[str, Any]]:
        """This request's frames (gateway frames such as the timeout carry no request_id)."""
        return [f for f in self.frames if f.get("request_id") == self.request_id]

    @property
    def text(self) -> str:
        deltas = sorted((f for f in self.own if f["type"] == "delta"), key=lambda f: f["seq"])
        return "".join(f["text"] for f in deltas)

    @property
    def last(self) -> dict[str, Any]:
        return self.own[-1]

    def assert_well_formed(self) -> None:
        """``start → delta* → end|error`` with ``seq`` 0, 1, 2, … in arrival order."""
        own = self.own
        assert [f["seq"] for f in own] == list(range(len(own)))
        assert own[0]["type"] == "start" and own[-1]["type"] in ("end", "error")
        assert {f["type"] for f in own[1:-1]} <= {"delta"}


async def receive(ws: Any, reply: Reply, done: Callable[[Reply], bool], timeout: float = 30.0):
    """Read frames into ``reply`` until ``done(reply)``."""
    deadline = time.monotonic() + timeout
    while not done(reply):
        reply.raw.append(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
    return reply


def finished(reply: Reply) -> bool:
    return any(f["type"] in ("end", "error") for f in reply.own)


async def ask(ws: Any, request_id: str, text: str, **extra: Any) -> Reply:
    """Send a ``chat`` and read until its ``end`` or ``error``."""
    await ws.send(
        json.dumps(
            {"type": "chat", "request_id": request_id, "text": text, **extra}, ensure_ascii=False
        )
    )
    return await receive(ws, Reply(request_id), finished)


async def wait_for(probe: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
    return value


@dataclass
class Served:
    """A running gateway with the real handlers, and the client calls the web page makes."""

    gateway: Gateway
    http: aiohttp.ClientSession

    def connect(self, token: str | None) -> Any:
        url = self.gateway.ws_url + (f"?token={token}" if token is not None else "")
        return websockets.connect(url, proxy=None, open_timeout=10, close_timeout=2)

    async def login(self, user_id: str) -> str:
        async with self.http.post(self.gateway.url + "/login", json={"user_id": user_id}) as r:
            assert r.status == 200, await r.text()
            return (await r.json())["token"]

    async def history(self, token: str | None, **query: Any) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        params = {k: str(v) for k, v in query.items()}
        async with self.http.get(
            self.gateway.url + "/history", params=params, headers=headers
        ) as r:
            return r.status, await r.json()

    async def items(self, token: str) -> list[dict[str, Any]]:
        status, body = await self.history(token, limit=100)
        assert status == 200, body
        return body["items"]

    async def turn(self, token: str, request_id: str, status: str) -> dict[str, Any]:
        """Wait until the turn is stored with ``status`` (handlers finish after the socket)."""

        async def stored() -> dict[str, Any] | None:
            found = [i for i in await self.items(token) if i["request_id"] == request_id]
            return found[0] if found and found[0]["status"] == status else None

        return await wait_for(stored)


@pytest.fixture
async def serve(stack, settings, monkeypatch):
    """Start the gateway with the real handlers on fresh tables; ``serve(**Gateway options)``
    (``gateway_class`` too; ``port`` to restart on the same port)."""
    monkeypatch.setenv("CHATKIT_AUTH_SECRET", "e2e-secret")
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CHATKIT_TABLE", settings.table_name)
    monkeypatch.setenv("CHATKIT_STATE_TABLE", settings.state_table_name)
    gateways: list[Gateway] = []

    async def start(gateway_class: type[Gateway] = Gateway, **options: Any) -> Served:
        gateway = gateway_class(**{"port": 0, "web_root": None, **options})
        await asyncio.to_thread(gateway.start)
        gateways.append(gateway)
        return Served(gateway, http)

    async with aiohttp.ClientSession() as http:
        yield start
    for gateway in gateways:
        await asyncio.to_thread(gateway.stop)


@dataclass
class ServeProcess:
    """``chatkit serve`` in a child process and the lines it printed (read in a thread)."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def wait_for_line(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """Read printed lines until one matches ``pattern`` (each within ``timeout`` s)."""
        seen: list[str] = []
        while True:
            try:
                seen.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {seen}") from None
            if found := re.search(pattern, seen[-1]):
                return found

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.stderr else ""


@contextlib.contextmanager
def chatkit_serve(env: Mapping[str, str], *args: str) -> Iterator[ServeProcess]:
    """``python -m chatkit serve --port 0 ARGS`` with ``env``; killed afterwards if it
    still runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chatkit", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        cwd=ROOT,
    )
    served = ServeProcess(process)
    assert process.stdout is not None
    threading.Thread(
        target=lambda: [served.lines.put(x) for x in process.stdout], daemon=True
    ).start()
    try:
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
