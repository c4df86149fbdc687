"""An HTTP proxy on loopback that forwards AWS API calls to a local endpoint (the Bedrock
emulator, moto's DynamoDB) and injects AWS errors into chosen calls. The clients under test
are the real boto3 clients of the real handlers: only their endpoint points here.

A rule sees each call (operation name, JSON body) and answers ``None`` (forward it) or a
:class:`Fault`. ``before=True`` fails the call without forwarding it (throttling, a 5xx
before the stream); ``before=False`` forwards it — the upstream *does* the write — and then
answers the error (a response lost on the way back, so the client's retry runs again)::

    proxy = FaultProxy(stack.dynamodb_url).start()
    proxy.rule = fail_times(2, THROTTLED_WRITE, lambda op, body: op == "PutItem")
    ... CHATKIT_DYNAMODB_ENDPOINT=proxy.url ...
    assert proxy.injected == 2
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from chatkit.local._background import BackgroundServer


@dataclass(frozen=True)
class Fault:
    status: int
    error_type: str
    message: str = "injected by the fault proxy"
    before: bool = True


THROTTLED_WRITE = Fault(400, "ProvisionedThroughputExceededException")
UNAVAILABLE = Fault(503, "ServiceUnavailableException")
LOST_RESPONSE = Fault(500, "InternalServerError", before=False)

Rule = Callable[[str, dict[str, Any]], "Fault | None"]
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def fail_times(times: int, fault: Fault, matches: Callable[[str, dict[str, Any]], bool]) -> Rule:
    """A rule failing the first ``times`` calls that ``matches`` (thread-safe)."""
    left = [times]
    lock = threading.Lock()

    def rule(operation: str, body: dict[str, Any]) -> Fault | None:
        if not matches(operation, body):
            return None
        with lock:
            if left[0] <= 0:
                return None
            left[0] -= 1
        return fault

    return rule


def _operation(request: web.Request) -> str:
    target = request.headers.get("X-Amz-Target", "")
    if target:
        return target.rsplit(".", 1)[-1]  # DynamoDB_20120810.PutItem → PutItem
    return "ConverseStream" if request.path.endswith("/converse-stream") else request.path


def _error(fault: Fault) -> web.Response:
    body = {"__type": f"com.amazonaws.proxy#{fault.error_type}", "message": fault.message}
    return web.Response(
        status=fault.status,
        text=json.dumps(body),
        content_type="application/x-amz-json-1.0",
        headers={"x-amzn-ErrorType": fault.error_type},
    )


class FaultProxy:
    """Forwards every request to ``upstream``; ``rule`` decides which calls fail.

    ``calls`` counts calls per operation; ``injected`` counts the faults answered.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rule: Rule = lambda operation, body: None
        self.calls: Counter[str] = Counter()
        self.injected = 0
        self._lock = threading.Lock()
        self._server = BackgroundServer(self._make_app, name="fault-proxy")

    def start(self) -> FaultProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        operation = _operation(request)
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            body = {}
        fault = self.rule(operation, body if isinstance(body, dict) else {})
        with self._lock:
            self.calls[operation] += 1
            self.injected += fault is not None
        if fault is not None and fault.before:
            return _error(fault)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as http,
            http.request(
                request.method, self.upstream + request.path_qs, data=data, headers=headers
            ) as upstream,
        ):
            if fault is not None:  # the upstream did the work; its answer is "lost"
                await upstream.read()
                return _error(fault)
            response = web.StreamResponse(
                status=upstream.status,
                headers={
                    k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS
                },
            )
            response.enable_chunked_encoding()
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():  # event streams pass through live
                await response.write(chunk)
            await response.write_eof()
            return response
