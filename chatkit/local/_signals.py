"""Run in the foreground until Ctrl+C or SIGTERM (``chatkit serve``, ``chatkit emulators``)."""

from __future__ import annotations

import signal
import threading

__all__ = ["wait_until_signalled"]


def wait_until_signalled(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> int:
    """Block the main thread until one of ``signals`` arrives; returns its number and
    restores the previous handlers.

    Example::

        with Gateway() as gateway:
            wait_until_signalled()
    """
    received: list[int] = []
    stopped = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        received.append(signum)
        stopped.set()

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        # Wake up now and then: a signal that lands on another thread only runs its
        # Python handler once the main thread runs bytecode again.
        while not stopped.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]
