"""The panel's coalescing: chatkit's one coalescer with the display's defaults.

A model streams 50–100 tokens per second; each widget update is one comm message, so
the panel sends the text it has gathered at most once per ``interval`` (no size rule),
reading the monotonic clock. The rule itself — the first piece at once, then whatever
gathered once the interval has passed — is :class:`chatkit.protocol.DeltaCoalescer`, the
same one that coalesces the Lambda relay's WebSocket frames; the caller flushes what is
still pending when ``due()`` says so, and at the end.

Example::

    >>> now = [0.0]
    >>> c = Coalescer(interval=0.25, clock=lambda: now[0])
    >>> c.push("안녕")                # the first piece: at once
    '안녕'
    >>> c.push("하세"), c.push("요")  # within the interval: kept
    (None, None)
    >>> c.due()
    0.25
    >>> now[0] = 0.3
    >>> c.push("!")                  # interval passed: everything pending
    '하세요!'
    >>> c.flush() is None            # nothing left
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chatkit.protocol import DeltaCoalescer

__all__ = ["DEFAULT_INTERVAL", "Coalescer", "DeltaCoalescer"]

#: Seconds between two updates of a streaming answer: 4 updates/s still reads as
#: streaming, and at 50 tokens/s it is ~12× fewer messages than one update per token.
DEFAULT_INTERVAL = 0.25


class Coalescer(DeltaCoalescer):
    """:class:`~chatkit.protocol.DeltaCoalescer` with the display's defaults: one update per
    ``interval`` seconds at most, no size rule, ``time.monotonic`` as the clock."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(interval, max_bytes=None, clock=clock)
