"""The deployed handlers in a pool of worker processes (``chatkit serve --workers N``): a
classroom on one machine is CPU-bound in one process (botocore, langchain, a post per
frame), so the handlers run in N processes while the gateway stays one asyncio process.

Each worker is a warm "container": ``python -m chatkit.local._pool`` receives the
:class:`~chatkit.config.Settings` on its first line (not the environment), builds one
backend and the chat path (as the chat function's init does), then runs many invocations
at once, one thread each (a chat streams for seconds; a ``stop`` comes meanwhile). Events
and results are JSON lines, as on Lambda::

    → {"settings": {...}}                       ← {"ready": {"pid": 4242, "init_ms": 1830.5}}
    → {"id": 7, "function": "ws_default", "event": {...}, "timeout": 300}
    ← {"id": 7, "result": {"statusCode": 200}}     or {"id": 7, "error": "KeyError: …"}

One process's semantics hold because every piece of state that outlives an invocation is
in the state table (connection bindings, stop flags, rate buckets, leases, turn counts) or
the history table, as with Lambda's many containers: a ``stop`` may run in another worker
than its ``chat``. What is per process: a turn that could not be saved is kept for a retry
of its request id (``ChatSession._unsaved``) in its worker only; a retry that lands in
another worker is answered ``busy`` until the turn's claim expires, as on Lambda. A worker
that dies fails its running invocations (the gateway answers ``Internal server error``,
their leases expire) and is replaced.

Example::

    invoker = ProcessPoolInvoker(settings, workers=2)
    with Gateway(invoker=invoker, port=0) as gateway:
        ...
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping
from typing import IO, Any

from chatkit.config import Settings

from ._invoker import DEFAULT_ROUTES, LambdaContext, backend_settings

__all__ = ["ProcessPoolInvoker"]

log = logging.getLogger(__name__)

_CLOSE_GRACE = 5.0  # seconds workers get to finish after their input closes


class _Worker:
    """One worker process and the invocations it is running."""

    def __init__(self, settings: Settings, on_exit: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl+C reaches the gateway only; it ends the workers
        )
        self.running = 0
        self.ready: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()
        self._on_exit = on_exit
        self._write({"settings": dataclasses.asdict(settings)})
        threading.Thread(target=self._read, daemon=True, name=f"pool-{self.pid}").start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def invoke(self, request_id: int, request: dict[str, Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            self._pending[request_id] = future
        try:
            self._write({"id": request_id, **request})
        except OSError:
            self._fail(f"worker {self.pid} is gone")
        return future

    def _write(self, message: dict[str, Any]) -> None:
        line = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        stdin = self.process.stdin
        assert stdin is not None
        with self._lock:
            stdin.write(line)
            stdin.flush()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            message = json.loads(line)
            if "ready" in message:
                self.ready.set_result(message["ready"])
                continue
            with self._lock:
                future = self._pending.pop(message["id"], None)
            if future is None:
                continue
            if "error" in message:
                future.set_exception(RuntimeError(f"the function failed: {message['error']}"))
            else:
                future.set_result(message["result"])
        code = self.process.wait()
        self._fail(f"worker {self.pid} exited with {code}")
        self._on_exit(self, code)

    def _fail(self, reason: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in [self.ready, *pending.values()]:
            if not future.done():
                future.set_exception(RuntimeError(reason))

    def close(self) -> None:
        """Close its input: it finishes what runs (up to a grace period) and exits."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):  # already gone
                self.process.stdin.close()

    def end(self, deadline: float) -> None:
        """Wait for the exit until ``deadline`` (monotonic), then terminate, then kill."""
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ProcessPoolInvoker:
    """An :class:`~chatkit.local._invoker.Invoker` running the deployed handlers in
    ``workers`` processes (default: the cores), each invocation in the worker with the
    fewest running; a worker that dies is replaced.

    ``settings`` (default: from the environment, read at ``start``) gain the gateway's
    ``@connections`` endpoint at ``start``; :attr:`invocations` counts per worker slot
    (a replaced worker keeps its slot).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        workers: int | None = None,
        function_timeout: float = 300.0,
        start_timeout: float = 120.0,
    ) -> None:
        self._settings = settings
        self.size = workers or os.cpu_count() or 1
        self.function_timeout = function_timeout
        self.start_timeout = start_timeout
        self.invocations = [0] * self.size
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self._closing = False
        self._started: Settings | None = None

    @property
    def route_keys(self) -> Collection[str]:
        return DEFAULT_ROUTES.keys()

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self._workers]

    @property
    def running(self) -> list[int]:
        """Invocations running now, per worker."""
        return [worker.running for worker in self._workers]

    def start(self, env: Mapping[str, str]) -> None:
        """Start the workers (all at once) and wait until each has built its backend."""
        self._started = backend_settings(self._settings, env)
        self._workers = [_Worker(self._started, self._replace) for _ in range(self.size)]
        try:
            for worker in self._workers:
                info = worker.ready.result(timeout=self.start_timeout)
                log.info("pool worker ready: %s", info)
        except Exception as err:
            self.close()
            raise RuntimeError(f"the handler workers did not start: {err}") from None

    def _replace(self, worker: _Worker, code: int) -> None:
        """A worker exited: start another in its slot, unless it never got ready (a worker
        that cannot start would be restarted forever) or the pool is closing."""
        if self._closing or worker not in self._workers:
            return
        if worker.ready.exception() is not None:
            log.error("pool worker %d exited with %s before it was ready", worker.pid, code)
            self._workers = [w for w in self._workers if w is not worker]
            return
        log.error("pool worker %d exited with %s; starting another", worker.pid, code)
        assert self._started is not None
        self._workers = [
            _Worker(self._started, self._replace) if w is worker else w for w in self._workers
        ]

    async def invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        workers = self._workers  # a new list when a worker is replaced
        if not workers:
            raise RuntimeError("the handler workers are not running")
        # Choose and count in one step (no await between): a burst of frames spreads out.
        slot = min(range(len(workers)), key=lambda i: workers[i].running)
        worker = workers[slot]
        worker.running += 1
        self.invocations[slot] += 1
        request = {
            "function": DEFAULT_ROUTES[route_key],
            "event": event,
            "timeout": self.function_timeout,
        }
        try:
            await asyncio.wrap_future(worker.ready)
            return await asyncio.wrap_future(worker.invoke(next(self._ids), request))
        finally:
            worker.running -= 1

    def close(self) -> None:
        """End the workers: their input closes, running invocations get a few seconds,
        then they are terminated (idempotent)."""
        self._closing = True
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()
        deadline = time.monotonic() + _CLOSE_GRACE
        for worker in workers:
            worker.end(deadline)


# -- in the worker process ----------------------------------------------------------------


def _serve_requests(replies: IO[str]) -> None:
    """Read the settings, build and warm the backend, then run each request in a thread
    until the input closes."""
    from chatkit.aws import handlers
    from chatkit.aws.backend import Backend

    started = time.perf_counter()
    lock = threading.Lock()

    def reply(message: dict[str, Any]) -> None:
        line = json.dumps(message, ensure_ascii=False)
        with lock:
            replies.write(line + "\n")
            replies.flush()

    settings = Settings(**json.loads(sys.stdin.readline())["settings"])
    backend = Backend(settings)
    handlers.warm_chat_path(backend)
    init_ms = round((time.perf_counter() - started) * 1000, 1)
    reply({"ready": {"pid": os.getpid(), "init_ms": init_ms}})

    def invoke(request: dict[str, Any]) -> None:
        name = request["function"]
        try:
            context = LambdaContext(name, request["timeout"])
            result = handlers.run_with(backend, getattr(handlers, name), request["event"], context)
            reply({"id": request["id"], "result": result})
        except Exception as err:
            log.exception("%s failed", name)
            reply({"id": request["id"], "error": f"{type(err).__name__}: {err}"})

    with concurrent.futures.ThreadPoolExecutor(256, thread_name_prefix="chatkit-lambda") as pool:
        for line in sys.stdin.buffer:
            pool.submit(invoke, json.loads(line))


def _main() -> None:
    logging.basicConfig(level=logging.WARNING, format="[worker %(process)d] %(message)s")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the handlers print goes to stderr; stdout carries replies
    _serve_requests(replies)


if __name__ == "__main__":
    _main()
