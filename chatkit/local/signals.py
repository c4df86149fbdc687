"""Run in the foreground until Ctrl+C or SIGTERM (``chatkit serve``, ``chatkit emulators``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

__all__ = ["wait_until_signalled"]


def wait_until_signalled(
    ready: Callable[[], None] = lambda: None,
    signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
) -> int:
    """Block the main thread until one of ``signals`` arrives; returns its number and
    restores the previous handlers. ``ready`` runs once the handlers are in place: announce
    readiness there (a supervisor may signal as soon as it reads the announcement).

    Example::

        with Gateway() as gateway:
            wait_until_signalled(lambda: print(f"serving on {gateway.url}", flush=True))
    """
    received: list[int] = []
    stopped = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        received.append(signum)
        stopped.set()

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        ready()
        # Wake up now and then: a signal that lands on another thread only runs its
        # Python handler once the main thread runs bytecode again.
        while not stopped.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]
