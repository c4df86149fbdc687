"""Run an aiohttp application on loopback in a background thread.

>>> from urllib.request import urlopen
>>> async def hello(request: web.Request) -> web.Response:
...     return web.Response(text="hi")
>>> def make_app() -> web.Application:
...     app = web.Application()
...     app.router.add_get("/", hello)
...     return app
>>> with BackgroundServer(make_app) as server:  # server.url: http://127.0.0.1:<free port>
...     urlopen(server.url).read()
b'hi'
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web

AppFactory = Callable[[], "web.Application | Awaitable[web.Application]"]
#: Given aiohttp's protocol factory, the factory the listener uses instead (e.g. one that
#: serves HTTP/2 too and hands everything else to aiohttp's).
ProtocolWrapper = Callable[[Callable[[], asyncio.BaseProtocol]], Callable[[], asyncio.BaseProtocol]]


class BackgroundServer:
    """An aiohttp app served from a daemon thread that owns its own asyncio loop.

    The factory is called inside the server thread (so the app, its signals and any
    loop-bound state belong to that loop). ``port=0`` picks a free port; the bound port
    is available as ``.port`` once ``start()`` has returned. ``protocol`` (optional) wraps
    aiohttp's protocol factory for the listening socket; a wrapper with a ``close()``
    method is closed after the listener and before aiohttp's own connections.

    Example::

        server = BackgroundServer(make_app, port=0).start()
        try:
            requests.get(server.url)
        finally:
            server.stop()
    """

    def __init__(
        self,
        app_factory: AppFactory,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "chatkit-background-server",
        shutdown_timeout: float = 2.0,
        start_timeout: float = 30.0,
        runner_kwargs: dict[str, Any] | None = None,
        protocol: ProtocolWrapper | None = None,
    ) -> None:
        self._factory = app_factory
        self.host = host
        self._requested_port = port
        self._name = name
        self._shutdown_timeout = shutdown_timeout
        self._start_timeout = start_timeout
        self._runner_kwargs = dict(runner_kwargs or {})
        self._protocol = protocol
        self._listener: asyncio.Server | None = None
        self._wrapped: Any = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._port: int | None = None
        self._stopped = False

    # -- public properties -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (only valid after ``start()``)."""
        if self._port is None:
            raise RuntimeError("server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:8765`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server thread's event loop (for ``run_coroutine_threadsafe``)."""
        if self._loop is None:
            raise RuntimeError("server is not started")
        return self._loop

    @property
    def app(self) -> web.Application:
        """The running application (built by the factory in the server thread)."""
        if self._runner is None:
            raise RuntimeError("server is not started")
        return self._runner.app

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._port is not None and not self._stopped

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> BackgroundServer:
        """Start the thread and block until the socket is bound; return ``self``."""
        with self._lock:
            if self._thread is not None:
                if self._stopped:
                    raise RuntimeError("a stopped BackgroundServer cannot be restarted")
                return self
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError(f"{self._name} did not start within {self._start_timeout} s")
        if self._start_error is not None:
            self._thread.join(timeout=5)
            self._stopped = True
            raise RuntimeError(f"{self._name} failed to start") from self._start_error
        return self

    def stop(self) -> None:
        """Clean up the aiohttp runner, stop the loop and join the thread (idempotent)."""
        with self._lock:
            if self._stopped or self._thread is None:
                self._stopped = True
                return
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
            with contextlib.suppress(Exception):  # shutting down: nothing useful to raise
                future.result(timeout=self._shutdown_timeout + 10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=self._shutdown_timeout + 10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<{type(self).__name__} {self._name} {where}>"

    # -- server thread ---------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self._setup())
            except BaseException as exc:  # reported to start()
                self._start_error = exc
                self._ready.set()
                return
            self._ready.set()
            loop.run_forever()
        finally:
            self._close_loop(loop)

    async def _setup(self) -> None:
        app = self._factory()
        if inspect.isawaitable(app):
            app = await app
        kwargs = {"shutdown_timeout": self._shutdown_timeout, **self._runner_kwargs}
        runner = web.AppRunner(app, **kwargs)
        await runner.setup()
        self._runner = runner
        if self._protocol is not None:
            await self._listen(runner)
            return
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])

    async def _listen(self, runner: web.AppRunner) -> None:
        """Listen with the wrapped protocol factory instead of an aiohttp site."""
        assert self._protocol is not None and runner.server is not None
        self._wrapped = self._protocol(runner.server)
        try:
            listener = await asyncio.get_running_loop().create_server(
                self._wrapped, self.host, self._requested_port
            )
        except BaseException:
            await runner.cleanup()
            raise
        self._listener = listener
        self._port = int(listener.sockets[0].getsockname()[1])

    async def _cleanup(self) -> None:
        if self._listener is not None:
            self._listener.close()
        close = getattr(self._wrapped, "close", None)
        if close is not None:
            close()
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
