"""Run the Lambda handlers **from the built zip** in a ``python3.12`` child process, behind
the local API Gateway — so packaging is really exercised.

    bundle = build_bundle()
    with offline_stack() as stack:
        invoker = ZipInvoker(bundle.path, env=stack.env)
        with Gateway(invoker=invoker, port=0) as gateway:
            ...  # chatkit smoke --url gateway.url

The child (``_zip_worker.py``) sees only the unzipped bundle and the standard library
(``python3.12 -I -S``) and an environment built like Lambda's: the variables given here
(the offline stack's endpoints) plus the gateway's ``CHATKIT_CONNECTIONS_ENDPOINT``; none of
this process's environment leaks in. One child serves every route, one thread per running
invocation (so a ``stop`` runs while a ``chat`` streams), like the in-process invoker.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import json
import logging
import os
import subprocess
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ..local.gateway import DEFAULT_ROUTES
from .runtime import find_python312, unpack

__all__ = ["ZipInvoker"]

log = logging.getLogger(__name__)

_WORKER = Path(__file__).with_name("_zip_worker.py")


class ZipInvoker:
    """An :class:`~chatkit.local._invoker.Invoker` that runs the handlers from a zip.

    ``bundle`` is the zip (unpacked once next to it) or an unpacked directory; ``env``
    the functions' variables; ``python`` defaults to :func:`find_python312`.
    After ``start``, ``info`` holds what the child reported (``chatkit`` module path,
    ``python`` version, ``init_ms``: the import of the handlers).
    """

    def __init__(
        self,
        bundle: Path,
        *,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        function_timeout: float = 300.0,
        start_timeout: float = 120.0,
    ) -> None:
        bundle = Path(bundle)
        self.bundle_dir = unpack(bundle) if bundle.suffix == ".zip" else bundle
        self.python = python or find_python312()
        self.env = dict(env or {})
        self.function_timeout = function_timeout
        self.start_timeout = start_timeout
        self.info: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)

    @property
    def route_keys(self) -> Collection[str]:
        return DEFAULT_ROUTES.keys()

    def _child_env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "LAMBDA_TASK_ROOT": str(self.bundle_dir),
            # Like Lambda: no AWS config files, no instance metadata.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            **self.env,
            **env,
        }

    def start(self, env: Mapping[str, str]) -> None:
        """Start the child with ``env`` added and wait until the handlers are imported."""
        ready: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self._pending[0] = ready
        self._process = subprocess.Popen(
            [self.python, "-I", "-S", str(_WORKER), str(self.bundle_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._child_env(env),
        )
        threading.Thread(target=self._read_replies, daemon=True, name="zip-replies").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="zip-stderr").start()
        try:
            self.info = ready.result(timeout=self.start_timeout)
        except Exception as err:
            self.close()
            tail = "\n".join(self._stderr_tail)
            raise RuntimeError(f"the Lambda bundle did not start: {err}\n{tail}") from None
        if not self.info["chatkit"].startswith(str(self.bundle_dir)):
            self.close()
            raise RuntimeError(f"chatkit came from {self.info['chatkit']}, not from the bundle")
        log.info("zip invoker ready: %s", self.info)

    def _read_replies(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            message = json.loads(line)
            if "ready" in message:
                future, outcome = self._pending.pop(0, None), message["ready"]
            else:
                future = self._pending.pop(message["id"], None)
                outcome = message.get("result")
                if "error" in message:
                    outcome = RuntimeError(f"the function failed: {message['error']}")
            if future is None or future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        self._fail_pending("the Lambda process exited")

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for raw in self._process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(line)
            log.info("[lambda] %s", line)

    def _fail_pending(self, reason: str) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(RuntimeError(reason))
        self._pending.clear()

    async def invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        process = self._process
        if process is None or process.poll() is not None or process.stdin is None:
            raise RuntimeError("the Lambda process is not running")
        request_id = next(self._ids)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._pending[request_id] = future
        request = {
            "id": request_id,
            "function": DEFAULT_ROUTES[route_key],
            "event": event,
            "timeout": self.function_timeout,
        }
        line = (json.dumps(request, ensure_ascii=False) + "\n").encode()
        with self._write_lock:
            process.stdin.write(line)
            process.stdin.flush()
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """End the child (running invocations fail); idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._fail_pending("the Lambda process was stopped")
