"""Local emulator of the bedrock-runtime ``Converse`` and ``ConverseStream`` operations.

It speaks the real wire protocol (rest-json requests, AWS event-stream responses sent with
chunked transfer encoding), so unmodified boto3 and ``ChatBedrockConverse`` can use it, and
it answers with the deterministic Korean :class:`~chatkit.local.demo_model.DemoModel`.

Example::

    import boto3

    with BedrockEmulator(default_rate=0) as emulator:
        client = boto3.client(
            "bedrock-runtime", endpoint_url=emulator.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        out = client.converse(
            modelId="demo.model", messages=[{"role": "user", "content": [{"text": "안녕"}]}]
        )
        print(out["output"]["message"]["content"][0]["text"])  # [데모 모델 · demo.model] …

Run alone: ``python -m chatkit.local.bedrock_emulator --port 0`` prints its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from chatkit.local._background import BackgroundServer
from chatkit.local.demo_model import DemoModel, DemoReply
from chatkit.local.eventstream import CONTENT_TYPE, encode_event, encode_exception

log = logging.getLogger(__name__)

DEFAULT_RATE = 50.0
"""Default tokens per second (about what a real Claude model streams)."""

_POLL_SECONDS = 0.05
_STOPPING: web.AppKey[asyncio.Event] = web.AppKey("chatkit_bedrock_stopping", asyncio.Event)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request body the emulator accepted (kept for test assertions)."""

    operation: str
    """``"Converse"`` or ``"ConverseStream"``."""
    model_id: str
    body: dict[str, Any]
    received_at: float


class _BadRequest(Exception):
    """Raised while validating a request body; becomes a 400 ValidationException."""


def _error(status: int, error_type: str, message: str) -> web.Response:
    """An AWS rest-json error (botocore reads the code from ``x-amzn-ErrorType``)."""
    return web.json_response(
        {"message": message},
        status=status,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())},
        dumps=lambda obj: json.dumps(obj, ensure_ascii=False),
    )


def _validate(body: Any) -> tuple[list[dict[str, Any]], Any, int | None]:
    """Check a Converse request body; return ``(messages, system, max_tokens)``."""
    if not isinstance(body, dict):
        raise _BadRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("The 'messages' field is required and must be a non-empty list.")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _BadRequest(f"messages.{index}: role must be 'user' or 'assistant'.")
        if not isinstance(message.get("content"), list):
            raise _BadRequest(f"messages.{index}: content must be a list of blocks.")
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise _BadRequest("inferenceConfig must be an object.")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise _BadRequest("inferenceConfig.maxTokens must be an integer >= 1.")
    return messages, body.get("system"), max_tokens


class BedrockEmulator:
    """bedrock-runtime emulator on loopback, serving the Korean demo model.

    ``default_rate`` is tokens per second (``0`` = no delay); ``!rate`` overrides it per
    request. Accepted request bodies are kept in :attr:`requests` (the last
    ``max_recorded``).

    Example::

        with BedrockEmulator(default_rate=0) as emulator:
            ...  # point boto3 at emulator.url
            assert emulator.requests[-1].model_id == "demo.model"
    """

    def __init__(
        self,
        default_rate: float = DEFAULT_RATE,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_recorded: int = 200,
        model: DemoModel | None = None,
    ) -> None:
        if default_rate < 0:
            raise ValueError("default_rate must be >= 0")
        self.default_rate = float(default_rate)
        self.model = model or DemoModel()
        self._recorded: deque[ReceivedRequest] = deque(maxlen=max_recorded)
        self._recorded_lock = threading.Lock()
        self._server = BackgroundServer(
            self.make_app, host=host, port=port, name="chatkit-bedrock-emulator"
        )

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> BedrockEmulator:
        """Start serving (blocks until the port is bound) and return ``self``."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; running generations end at their next token (idempotent)."""
        self._server.stop()

    def __enter__(self) -> BedrockEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Endpoint URL for boto3, e.g. ``http://127.0.0.1:54321``."""
        return self._server.url

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.port

    # -- introspection ---------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of the accepted requests, oldest first."""
        with self._recorded_lock:
            return list(self._recorded)

    @property
    def last_request(self) -> ReceivedRequest | None:
        """The most recent accepted request, or ``None``."""
        with self._recorded_lock:
            return self._recorded[-1] if self._recorded else None

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._recorded_lock:
            self._recorded.clear()

    # -- application -----------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Build the aiohttp application (also usable in an aiohttp test client)."""
        app = web.Application()
        app[_STOPPING] = asyncio.Event()
        # Model ids contain ':' and '.', and ARNs contain '/': match everything up to the
        # operation suffix.
        app.router.add_post("/model/{model_id:.+}/converse-stream", self._converse_stream)
        app.router.add_post("/model/{model_id:.+}/converse", self._converse)
        app.on_shutdown.append(self._on_shutdown)
        return app

    @staticmethod
    async def _on_shutdown(app: web.Application) -> None:
        app[_STOPPING].set()

    async def _read(
        self, request: web.Request, operation: str
    ) -> tuple[str, DemoReply] | web.Response:
        model_id = unquote(request.match_info["model_id"])
        try:
            body = json.loads(await request.read() or b"null")
            messages, system, max_tokens = _validate(body)
        except (ValueError, _BadRequest) as exc:
            message = str(exc) if isinstance(exc, _BadRequest) else "Malformed JSON body."
            return _error(400, "ValidationException", message)
        with self._recorded_lock:
            self._recorded.append(ReceivedRequest(operation, model_id, body, time.time()))
        reply = self.model.reply(messages, system, max_tokens=max_tokens, model_id=model_id)
        if reply.directives.throttle:
            return _error(
                429, "ThrottlingException", "Too many requests (demo throttling was requested)."
            )
        return model_id, reply

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        read = await self._read(request, "Converse")
        if isinstance(read, web.Response):
            return read
        _, reply = read
        delay = reply.directives.slow_first or 0.0
        if delay and not await _wait(request, delay):
            return web.Response(status=499)
        payload = {
            "output": {"message": {"role": "assistant", "content": [{"text": reply.text}]}},
            "stopReason": reply.stop_reason,
            "usage": reply.usage,
            "metrics": {"latencyMs": _elapsed_ms(started)},
        }
        return web.json_response(
            payload,
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
            dumps=lambda obj: json.dumps(obj, ensure_ascii=False),
        )

    async def _converse_stream(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        read = await self._read(request, "ConverseStream")
        if isinstance(read, web.Response):
            return read
        model_id, reply = read
        directives = reply.directives
        rate = self.default_rate if directives.rate is None else directives.rate

        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        send = _Sender(request, response)

        if not await send(encode_event("messageStart", {"role": "assistant"})):
            return response
        if directives.slow_first and not await _wait(request, directives.slow_first):
            return response

        loop = asyncio.get_running_loop()
        first_at = loop.time()
        fail_after = directives.fail_after
        for index, token in enumerate(reply.tokens):
            if fail_after is not None and index >= fail_after:
                break
            if rate > 0 and index > 0:
                alive = await _wait(request, first_at + index / rate - loop.time())
            else:
                if index % 64 == 63:
                    await asyncio.sleep(0)  # let other requests run when not pacing
                alive = True
            delta = {"contentBlockIndex": 0, "delta": {"text": token}}
            if not (alive and await send(encode_event("contentBlockDelta", delta))):
                log.debug(
                    "client left: stopped %s after %d of %d tokens",
                    model_id,
                    index,
                    len(reply.tokens),
                )
                return response

        if fail_after is not None:
            message = (
                f"Demo fault injected after {min(fail_after, len(reply.tokens))} deltas "
                "(!fail-after). 데모용으로 주입한 스트림 오류입니다."
            )
            await send(encode_exception("modelStreamErrorException", message))
            return await _finish(response)

        tail = [
            encode_event("contentBlockStop", {"contentBlockIndex": 0}),
            encode_event("messageStop", {"stopReason": reply.stop_reason}),
            encode_event(
                "metadata",
                {"usage": reply.usage, "metrics": {"latencyMs": _elapsed_ms(started)}},
            ),
        ]
        for frame in tail:
            if not await send(frame):
                return response
        return await _finish(response)


class _Sender:
    """Writes frames to a streaming response; returns False once the client is gone."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self._request = request
        self._response = response
        self.alive = True

    async def __call__(self, frame: bytes) -> bool:
        if not self.alive or _gone(self._request):
            self.alive = False
            return False
        try:
            await self._response.write(frame)
        except (ConnectionError, RuntimeError):
            # ConnectionResetError ("Cannot write to closing transport") or a response
            # that aiohttp already considers finished: the client has left.
            self.alive = False
        return self.alive


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing() or request.app[_STOPPING].is_set()


async def _wait(request: web.Request, seconds: float) -> bool:
    """Sleep ``seconds`` in short slices; False as soon as the client (or server) is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, seconds)
    while True:
        if _gone(request):
            return False
        remaining = deadline - loop.time()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(remaining, _POLL_SECONDS))


async def _finish(response: web.StreamResponse) -> web.StreamResponse:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await response.write_eof()
    return response


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def main(argv: list[str] | None = None) -> None:
    """Command line: serve until interrupted and print the URL."""
    parser = argparse.ArgumentParser(description="Local Bedrock runtime emulator (demo model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="tokens per second")
    args = parser.parse_args(argv)
    with BedrockEmulator(default_rate=args.rate, host=args.host, port=args.port) as emulator:
        print(f"chatkit bedrock emulator on {emulator.url}", flush=True)
        print(
            "# boto3 needs dummy credentials and a region, e.g. AWS_ACCESS_KEY_ID=testing "
            "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
