"""Local emulator of the bedrock-runtime ``Converse`` and ``ConverseStream`` operations.

It speaks the real wire protocol (rest-json requests, AWS event-stream responses), over
HTTP/1.1 (chunked) and over HTTP/2 cleartext with prior knowledge on the same port (the
AWS SDK for JavaScript v3 uses HTTP/2 for Bedrock), so unmodified SDKs and
``ChatBedrockConverse`` can use it. It answers with the deterministic Korean
:class:`~chatkit.local.demo_model.DemoModel`, rejects what Bedrock rejects with Bedrock's
``ValidationException`` messages, answers the ``bedrock`` control-plane calls chatkit's
preflight makes (``ListInferenceProfiles``, ``GetInferenceProfile``,
``ListFoundationModels``, ``GetFoundationModel``) and, like every chatkit listener, only
a loopback ``Host``.

    >>> import boto3
    >>> with BedrockEmulator(default_rate=0) as emulator:
    ...     client = boto3.client(
    ...         "bedrock-runtime", endpoint_url=emulator.url, region_name="us-east-1",
    ...         aws_access_key_id="testing", aws_secret_access_key="testing",
    ...     )
    ...     out = client.converse(
    ...         modelId="demo.model", messages=[{"role": "user", "content": [{"text": "안녕"}]}]
    ...     )
    ...     emulator.requests[-1].model_id
    'demo.model'
    >>> print(out["output"]["message"]["content"][0]["text"])  # doctest: +ELLIPSIS
    [데모 모델 · demo.model] 안녕하세요! ...

Run alone: ``python -m chatkit.local.bedrock_emulator --port 0`` prints its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aiohttp import web
from multidict import CIMultiDict

from chatkit.local._background import BackgroundServer
from chatkit.local._bedrock_control import Catalogue
from chatkit.local._bedrock_rules import AwsError, check_converse
from chatkit.local._h2 import H2Request, H2Stream, ProtocolSwitch
from chatkit.local._hosts import REFUSED_STATUS, REFUSED_TEXT, host_allowed
from chatkit.local._http import read_limited
from chatkit.local.demo_model import DemoModel, DemoReply
from chatkit.local.eventstream import CONTENT_TYPE, encode_event, encode_exception

log = logging.getLogger(__name__)

DEFAULT_RATE = 50.0
"""Default tokens per second (about what a real Claude model streams)."""

MAX_BODY = 16 * 1024 * 1024
"""Largest request body accepted (bytes)."""

_POLL_SECONDS = 0.05
_STOPPING: web.AppKey[asyncio.Event] = web.AppKey("chatkit_bedrock_stopping", asyncio.Event)
_CREDENTIAL_REGION = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/")

# The descriptions of ConverseStream's in-stream exceptions in the Bedrock API reference
# (ConverseStreamOutput); modelStreamErrorException also carries the model's own status.
_STREAM_ERRORS = {
    "modelStreamErrorException": "A streaming error occurred. Retry your request.",
    "internalServerException": "An internal server error occurred. Retry your request.",
    "throttlingException": (
        "Your request was denied due to exceeding the account quotas for Amazon Bedrock."
    ),
    "serviceUnavailableException": "The service isn't currently available. Try again later.",
    "validationException": (
        "The input fails to satisfy the constraints specified by Amazon Bedrock."
    ),
}
_MODEL_ORIGINAL = {
    "originalStatusCode": 500,
    "originalMessage": "데모 모델이 답변 도중 멈췄습니다. (The demo model stopped mid-answer.)",
}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request body the emulator accepted (kept for test assertions)."""

    operation: str
    """``"Converse"`` or ``"ConverseStream"``."""
    model_id: str
    body: dict[str, Any]
    received_at: float
    protocol: str = "HTTP/1.1"
    """``"HTTP/1.1"`` or ``"HTTP/2"``."""


@dataclass(frozen=True)
class ClientLeft:
    """A streamed answer the client left before its end."""

    model_id: str
    sent: int
    """Deltas sent before the emulator noticed."""
    total: int
    """Deltas the whole answer had."""


@dataclass(frozen=True)
class _Call:
    """One request, whichever protocol carried it (``body`` None = over ``MAX_BODY``)."""

    method: str
    target: str
    host: str | None
    headers: Mapping[str, str]
    body: bytes | None
    protocol: str


@dataclass
class _Link:
    """Where a streamed answer goes: ``write`` returns False once the client is gone."""

    alive: Callable[[], bool]
    write: Callable[[bytes], Awaitable[bool]]
    ok: bool = True

    async def send(self, frame: bytes) -> bool:
        self.ok = self.ok and self.alive() and await self.write(frame)
        return self.ok

    def open(self) -> bool:
        return self.ok and self.alive()


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: Callable[[_Link], Awaitable[None]] | None = None


def _json_answer(status: int, payload: Any, **headers: str) -> _Answer:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _Answer(
        status,
        {
            "Content-Type": "application/json",
            "x-amzn-RequestId": str(uuid.uuid4()),
            **headers,
        },
        body,
    )


def _error(status: int, error_type: str, message: str) -> _Answer:
    """An AWS rest-json error (SDKs read the code from ``x-amzn-ErrorType``)."""
    return _json_answer(status, {"message": message}, **{"x-amzn-ErrorType": error_type})


Route = Callable[
    ["BedrockEmulator", _Call, "re.Match[str]", Callable[[], bool]], Awaitable[_Answer]
]


class BedrockEmulator:
    """bedrock-runtime emulator on loopback, serving the Korean demo model.

    ``default_rate`` is tokens per second (``0`` = no delay); ``!rate`` overrides it per
    request. Accepted request bodies are kept in :attr:`requests` (the last
    ``max_recorded``). ``models`` adds ids (inference profile or model ids) to the
    control-plane catalogue.

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
        models: Iterable[str] = (),
    ) -> None:
        if default_rate < 0:
            raise ValueError("default_rate must be >= 0")
        self.default_rate = float(default_rate)
        self.model = model or DemoModel()
        self.catalogue = Catalogue(models)
        self._recorded: deque[ReceivedRequest] = deque(maxlen=max_recorded)
        self._recorded_lock = threading.Lock()
        self._left: deque[ClientLeft] = deque(maxlen=max_recorded)
        self._left_changed = threading.Condition()
        self._stopping = asyncio.Event()
        self._server = BackgroundServer(
            self.make_app,
            host=host,
            port=port,
            name="chatkit-bedrock-emulator",
            protocol=self._protocols,
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

    def wait_client_left(self, model_id: str, timeout: float = 10.0) -> ClientLeft | None:
        """The first stream for ``model_id`` that its client left early, waiting up to
        ``timeout`` seconds for one; None if none was left."""

        def found() -> ClientLeft | None:
            return next((left for left in self._left if left.model_id == model_id), None)

        with self._left_changed:
            return self._left_changed.wait_for(found, timeout)

    # -- transports --------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Build the aiohttp application (HTTP/1.1; also usable in an aiohttp test client)."""
        app = web.Application(client_max_size=MAX_BODY)
        app[_STOPPING] = self._stopping = asyncio.Event()
        app.router.add_route("*", "/{tail:.*}", self._serve_http1)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        app[_STOPPING].set()

    def _protocols(self, http1: Callable[[], asyncio.BaseProtocol]) -> ProtocolSwitch:
        """The listener's protocol factory: HTTP/2 by preface, else aiohttp's HTTP/1.1."""
        return ProtocolSwitch(http1, self._serve_http2, max_body=MAX_BODY)

    async def _serve_http1(self, request: web.Request) -> web.StreamResponse:
        call = _Call(
            request.method,
            request.raw_path,
            request.headers.get("Host"),
            request.headers,
            await read_limited(request, MAX_BODY),
            "HTTP/1.1",
        )

        def alive() -> bool:
            transport = request.transport
            return not (transport is None or transport.is_closing() or self._stopping.is_set())

        answer = await self._answer(call, alive)
        if answer.stream is None:
            return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def write(frame: bytes) -> bool:
            try:
                await response.write(frame)
            except (ConnectionError, RuntimeError):
                # "Cannot write to closing transport", or a response aiohttp already
                # considers finished: the client has left.
                return False
            return True

        await answer.stream(_Link(alive, write))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    async def _serve_http2(self, request: H2Request, stream: H2Stream) -> None:
        headers = CIMultiDict(request.headers)
        call = _Call(
            request.method, request.path, request.authority, headers, request.body, "HTTP/2"
        )

        def alive() -> bool:
            return stream.alive() and not self._stopping.is_set()

        answer = await self._answer(call, alive)
        fixed = {} if answer.stream else {"content-length": str(len(answer.body))}
        await stream.start(answer.status, [*answer.headers.items(), *fixed.items()])
        if answer.stream is None:
            await stream.send(answer.body)
        else:
            await answer.stream(_Link(alive, stream.send))
        await stream.end()

    # -- one home for every request ----------------------------------------------------

    async def _answer(self, call: _Call, alive: Callable[[], bool]) -> _Answer:
        if not host_allowed(call.host, bound=self._server.host):
            return _Answer(
                REFUSED_STATUS,
                {"Content-Type": "text/plain; charset=utf-8"},
                REFUSED_TEXT.encode("utf-8"),
            )
        path = urlsplit(call.target).path
        for method, pattern, route in _ROUTES:
            match = pattern.fullmatch(path)
            if match is not None and call.method == method:
                try:
                    if call.body is None:
                        raise AwsError(
                            413,
                            "ValidationException",
                            f"The request body is larger than {MAX_BODY} bytes.",
                        )
                    return await route(self, call, match, alive)
                except AwsError as exc:
                    return _error(exc.status, exc.error_type, exc.message)
        return _error(
            404,
            "UnknownOperationException",
            f"Unknown operation: {call.method} {path}. chatkit's Bedrock emulator serves "
            "Converse, ConverseStream and the bedrock model/inference-profile lookups.",
        )

    def _read(self, call: _Call, match: re.Match[str], operation: str) -> tuple[str, DemoReply]:
        model_id = unquote(match["id"])
        try:
            body = json.loads(call.body or b"null")
        except ValueError:
            raise AwsError(400, "ValidationException", "Malformed JSON body.") from None
        messages, system, max_tokens = check_converse(model_id, body)
        received = ReceivedRequest(operation, model_id, body, time.time(), call.protocol)
        with self._recorded_lock:
            self._recorded.append(received)
        reply = self.model.reply(messages, system, max_tokens=max_tokens, model_id=model_id)
        if reply.directives.throttle:
            raise AwsError(
                429, "ThrottlingException", "Too many requests (demo throttling was requested)."
            )
        return model_id, reply

    async def _converse(
        self, call: _Call, match: re.Match[str], alive: Callable[[], bool]
    ) -> _Answer:
        started = time.perf_counter()
        _, reply = self._read(call, match, "Converse")
        delay = reply.directives.slow_first or 0.0
        if delay and not await _wait(alive, delay):
            return _Answer(499, {})
        return _json_answer(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": reply.text}]}},
                "stopReason": reply.stop_reason,
                "usage": reply.usage,
                "metrics": {"latencyMs": _elapsed_ms(started)},
            },
        )

    async def _converse_stream(
        self, call: _Call, match: re.Match[str], alive: Callable[[], bool]
    ) -> _Answer:
        started = time.perf_counter()
        model_id, reply = self._read(call, match, "ConverseStream")

        async def produce(link: _Link) -> None:
            await self._stream(model_id, reply, started, link)

        headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}
        return _Answer(200, headers, stream=produce)

    async def _stream(self, model_id: str, reply: DemoReply, started: float, link: _Link) -> None:
        directives = reply.directives
        rate = self.default_rate if directives.rate is None else directives.rate
        if not await link.send(encode_event("messageStart", {"role": "assistant"})):
            return
        if directives.slow_first and not await _wait(link.open, directives.slow_first):
            return

        loop = asyncio.get_running_loop()
        first_at = loop.time()
        failure = directives.stream_error
        for index, token in enumerate(reply.tokens):
            if failure is not None and index >= failure[0]:
                break
            if rate > 0 and index > 0:
                alive = await _wait(link.open, first_at + index / rate - loop.time())
            else:
                if index % 64 == 63:
                    await asyncio.sleep(0)  # let other requests run when not pacing
                alive = True
            delta = {"contentBlockIndex": 0, "delta": {"text": token}}
            if not (alive and await link.send(encode_event("contentBlockDelta", delta))):
                log.debug(
                    "client left: stopped %s after %d of %d tokens",
                    model_id,
                    index,
                    len(reply.tokens),
                )
                with self._left_changed:
                    self._left.append(ClientLeft(model_id, index, len(reply.tokens)))
                    self._left_changed.notify_all()
                return

        if failure is not None:
            await link.send(_stream_error(failure[1], sent=min(failure[0], len(reply.tokens))))
            return
        tail = [
            encode_event("contentBlockStop", {"contentBlockIndex": 0}),
            encode_event("messageStop", {"stopReason": reply.stop_reason}),
            encode_event(
                "metadata",
                {"usage": reply.usage, "metrics": {"latencyMs": _elapsed_ms(started)}},
            ),
        ]
        for frame in tail:
            if not await link.send(frame):
                return

    # -- control plane (bedrock) -------------------------------------------------------

    async def _control(
        self, call: _Call, match: re.Match[str], alive: Callable[[], bool]
    ) -> _Answer:
        """``GET /inference-profiles[/{id}]`` and ``GET /foundation-models[/{id}]``."""
        region = _region(call.headers)
        catalogue = self.catalogue
        profiles = match["kind"] == "inference-profiles"
        if match["id"] is None:
            query = dict(parse_qsl(urlsplit(call.target).query))
            listed = (
                catalogue.list_inference_profiles if profiles else catalogue.list_foundation_models
            )
            return _json_answer(200, listed(query, region))
        named = catalogue.get_inference_profile if profiles else catalogue.get_foundation_model
        return _json_answer(200, named(unquote(match["id"]), region))


_ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    ("POST", re.compile(r"/model/(?P<id>.+)/converse-stream"), BedrockEmulator._converse_stream),
    ("POST", re.compile(r"/model/(?P<id>.+)/converse"), BedrockEmulator._converse),
    (
        "GET",
        re.compile(r"/(?P<kind>inference-profiles|foundation-models)(?:/(?P<id>[^/]+))?"),
        BedrockEmulator._control,
    ),
]
"""(method, raw path, handler). Ids arrive percent-encoded (``:`` as ``%3A``, ``/`` as
``%2F``), so they are matched before decoding."""


def _stream_error(exception_type: str, *, sent: int) -> bytes:
    message = (
        f"{_STREAM_ERRORS[exception_type]} (Demo fault injected after {sent} deltas by "
        "!fail-after/!fail-as. 데모용으로 주입한 스트림 오류입니다.)"
    )
    extra = _MODEL_ORIGINAL if exception_type == "modelStreamErrorException" else None
    return encode_exception(exception_type, message, extra)


def _region(headers: Mapping[str, str]) -> str:
    """The region the client signed for (SigV4 credential scope), else ``us-east-1``."""
    found = _CREDENTIAL_REGION.search(headers.get("Authorization", ""))
    return found.group(1) if found else "us-east-1"


async def _wait(alive: Callable[[], bool], seconds: float) -> bool:
    """Sleep ``seconds`` in short slices; False as soon as the client (or server) is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, seconds)
    while True:
        if not alive():
            return False
        remaining = deadline - loop.time()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(remaining, _POLL_SECONDS))


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
