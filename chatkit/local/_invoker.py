"""How the local gateway runs Lambda handlers: the :class:`Invoker` interface and its
in-process implementation (a thread pool, a fresh Lambda-like ``context`` per call).

Example::

    def echo(event, context):
        return {"statusCode": 200, "body": context.aws_request_id}

    invoker = InProcessInvoker({"GET /echo": echo})
    invoker.start({"CHATKIT_CONNECTIONS_ENDPOINT": "http://127.0.0.1:8765"})
    result = await invoker.invoke("GET /echo", {})
    invoker.close()
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda function: ``handler(event, context) -> dict``."""

#: Route key → attribute of :mod:`chatkit.aws.handlers` (the deployed stack's functions).
#: The ``$connect`` Lambda authorizer (Cognito mode); not a route clients can call.
AUTHORIZER = "$connect authorizer"

DEFAULT_ROUTES = {
    AUTHORIZER: "ws_authorize",
    "$connect": "ws_connect",
    "$disconnect": "ws_disconnect",
    "$default": "ws_default",
    "GET /history": "http_history",
    "POST /login": "http_login",
}


class Invoker(Protocol):
    """Runs the function behind a route, as API Gateway's Lambda integration does.

    ``start(env)`` receives variables the functions must see (the management API
    endpoint); ``invoke`` returns the function's JSON result or raises when it failed;
    ``close()`` releases workers (running invocations may finish on their own).
    """

    @property
    def route_keys(self) -> Collection[str]: ...

    def start(self, env: Mapping[str, str]) -> None: ...

    async def invoke(self, route_key: str, event: dict[str, Any]) -> Any: ...

    def close(self) -> None: ...


class LambdaContext:
    """The parts of the Lambda ``context`` object that handlers use.

    Example::

        context = LambdaContext("ws_default", timeout=300)
        context.get_remaining_time_in_millis()  # ≈ 300000
    """

    def __init__(self, function_name: str, timeout: float) -> None:
        region = os.environ.get("AWS_REGION", "ap-northeast-2")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = "512"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InProcessInvoker:
    """Calls handler functions in this process, in a thread pool (one thread per running
    invocation, so a ``stop`` message is handled while a ``chat`` still streams).

    Events and results cross a JSON round trip, as they do on Lambda: a handler that
    returns something JSON cannot encode fails the same way here.
    """

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        max_workers: int = 256,
        function_timeout: float = 300.0,
    ) -> None:
        self._handlers = handlers
        self._function_timeout = function_timeout
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="chatkit-lambda")
        self._saved_env: dict[str, str | None] = {}

    @property
    def route_keys(self) -> Collection[str]:
        return self._handlers.keys()

    def start(self, env: Mapping[str, str]) -> None:
        """Export ``env`` into ``os.environ`` (in-process handlers read it from there);
        the deployed handlers start cold, so they pick the new environment up."""
        self._saved_env = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        if isinstance(self._handlers, _AwsHandlers):
            from chatkit.aws import handlers

            handlers.cold_start()

    async def invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        handler = self._handlers[route_key]
        payload = json.loads(json.dumps(event))
        context = LambdaContext(getattr(handler, "__name__", route_key), self._function_timeout)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._pool, handler, payload, context)
        return json.loads(json.dumps(result))

    def close(self) -> None:
        """Stop accepting invocations and restore the environment (idempotent)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}


class _AwsHandlers(Mapping[str, Handler]):
    """:data:`DEFAULT_ROUTES` resolved from :mod:`chatkit.aws.handlers` on first use (the
    import is the functions' cold start, paid by the first request as on Lambda)."""

    def __getitem__(self, route_key: str) -> Handler:
        from chatkit.aws import handlers

        return getattr(handlers, DEFAULT_ROUTES[route_key])

    def __iter__(self) -> Iterator[str]:
        return iter(DEFAULT_ROUTES)

    def __len__(self) -> int:
        return len(DEFAULT_ROUTES)


def aws_handlers() -> Mapping[str, Handler]:
    """The deployed stack's handlers, imported lazily."""
    return _AwsHandlers()
