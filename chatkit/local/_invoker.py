"""How the local gateway runs Lambda handlers: the :class:`Invoker` interface and its
in-process implementation (a thread pool, a fresh Lambda-like ``context`` per call).

The deployed functions (:func:`aws_handlers`) run on a backend built from the
:class:`~chatkit.config.Settings` given to the invoker, the gateway's ``@connections``
endpoint added at start: nothing is written to ``os.environ``. Functions of your own are
Lambda functions that read their variables, so they see the gateway's in the environment
while it runs.

Example::

    def echo(event, context):
        return {"statusCode": 200, "body": context.aws_request_id}

    invoker = InProcessInvoker({"GET /echo": echo})
    invoker.start({CONNECTIONS_VARIABLE: "http://127.0.0.1:8765"})
    result = await invoker.invoke("GET /echo", {})
    invoker.close()
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, Protocol

from chatkit.config import DEFAULT_REGION, Settings

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda function: ``handler(event, context) -> dict``."""

#: The variable that tells the functions where the ``@connections`` API is.
CONNECTIONS_VARIABLE = "CHATKIT_CONNECTIONS_ENDPOINT"

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

    >>> context = LambdaContext("ws_default", timeout=300)
    >>> 0 < context.get_remaining_time_in_millis() <= 300_000
    True
    """

    def __init__(self, function_name: str, timeout: float) -> None:
        region = os.environ.get("AWS_REGION", DEFAULT_REGION)
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

    ``settings``: what the deployed functions' backend is built from (default: the
    environment, read at ``start``). Events and results cross a JSON round trip, as they
    do on Lambda: a handler that returns something JSON cannot encode fails the same way.
    """

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        settings: Settings | None = None,
        max_workers: int = 256,
        function_timeout: float = 300.0,
    ) -> None:
        self._handlers = handlers
        self._settings = settings
        self._function_timeout = function_timeout
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="chatkit-lambda")
        self._run: Callable[[Handler, Any, Any], Any] = _plain
        self._environment = ExitStack()

    @property
    def route_keys(self) -> Collection[str]:
        return self._handlers.keys()

    def start(self, env: Mapping[str, str]) -> None:
        """The deployed functions get a backend of their own, on first use (their cold
        start), from the settings with ``env``'s ``@connections`` endpoint; functions of
        your own see ``env`` in ``os.environ`` until :meth:`close`."""
        if isinstance(self._handlers, _AwsHandlers):
            self._run = _on_backend(backend_settings(self._settings, env))
        else:
            from . import exported

            self._environment.enter_context(exported(env))

    async def invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        handler = self._handlers[route_key]
        payload = json.loads(json.dumps(event))
        context = LambdaContext(getattr(handler, "__name__", route_key), self._function_timeout)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._pool, self._run, handler, payload, context)
        return json.loads(json.dumps(result))

    def close(self) -> None:
        """Stop accepting invocations and restore the environment (idempotent)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._environment.close()


def backend_settings(settings: Settings | None, env: Mapping[str, str]) -> Settings:
    """``settings`` (default: from the environment) with the ``@connections`` endpoint
    the gateway passes in ``env``."""
    base = settings or Settings.from_env()
    return base.with_(connections_endpoint=env.get(CONNECTIONS_VARIABLE) or None)


def _plain(handler: Handler, event: Any, context: Any) -> Any:
    return handler(event, context)


def _on_backend(settings: Settings) -> Callable[[Handler, Any, Any], Any]:
    """Run deployed functions on one backend built from ``settings`` on first use."""
    lock, built = threading.Lock(), []

    def run(handler: Handler, event: Any, context: Any) -> Any:
        from chatkit.aws import handlers
        from chatkit.aws.backend import Backend

        with lock:
            if not built:
                built.append(Backend(settings))
        return handlers.run_with(built[0], handler, event, context)

    return run


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
