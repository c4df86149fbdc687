"""Relay one streamed turn to a WebSocket client through a ``post(frame)`` function.

The relay is what the seed got wrong: it sends only *new* text, the first delta at once
and later ones coalesced (50 ms or 1 KB), frames ≤ 32 KB with an increasing ``seq``. It
checks for a ``stop`` request at most once a second (a stop arrives in another Lambda
invocation), and stops the generation within one chunk when the client is gone::

    result = await relay(session.astream(user, text, rid), post, request_id=rid,
                         stop_requested=lambda: state.stop_requested(user, rid))
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChatError, ErrorCode
from ..events import Delta, Error, Event
from ..protocol import DeltaCoalescer, FrameWriter

__all__ = ["ConnectionGone", "RelayResult", "relay"]

log = logging.getLogger(__name__)
_DONE = object()


class ConnectionGone(Exception):
    """The client's connection no longer exists (API Gateway answered 410 Gone)."""


@dataclass
class RelayResult:
    outcome: str = "completed"  # completed | error | stopped | gone
    frames: int = 0
    bytes: int = 0
    first_delta_at: float | None = None
    timeline: list[float] = field(default_factory=list, repr=False)


class _Sender:
    """Posts frames in order from a worker thread (boto3 is synchronous)."""

    def __init__(
        self,
        post: Callable[[str], Any],
        writer: FrameWriter,
        result: RelayResult,
        clock: Callable[[], float],
    ) -> None:
        self._post, self._writer, self._result, self._clock = post, writer, result, clock

    async def __call__(self, data: dict[str, Any]) -> None:
        for frame in self._writer.frames(data):
            await asyncio.to_thread(self._post, frame)
            self._result.frames += 1
            self._result.bytes += len(frame.encode())
            self._result.timeline.append(self._clock())


async def relay(
    events: AsyncIterator[Event],
    post: Callable[[str], Any],
    *,
    request_id: str,
    stop_requested: Callable[[], bool] | None = None,
    coalesce_interval: float = 0.05,
    coalesce_bytes: int = 1024,
    stop_check_interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> RelayResult:
    """Stream ``events`` to the client; returns what was sent and how it ended."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for event in events:
                queue.put_nowait(event)
        except Exception:  # a bug or a storage outage: the client still gets an answer
            log.exception("session failed", extra={"request_id": request_id})
            internal = ChatError(ErrorCode.INTERNAL)
            queue.put_nowait(Error(request_id, internal.code.value, internal.message))
        finally:
            queue.put_nowait(_DONE)

    result = RelayResult()
    send = _Sender(post, FrameWriter(request_id), result, clock)
    coalescer = DeltaCoalescer(coalesce_interval, coalesce_bytes)
    producer = asyncio.create_task(produce())
    started = clock()
    next_stop_check = started + stop_check_interval
    pending: list[Any] = []  # taken from the queue, not handled yet
    try:
        while True:
            now = clock()
            if not pending:
                waits = [
                    w
                    for w in (coalescer.due(now), next_stop_check - now if stop_requested else None)
                    if w is not None
                ]
                try:
                    timeout = max(0.0, min(waits)) if waits else None
                    pending.append(await asyncio.wait_for(queue.get(), timeout))
                except asyncio.TimeoutError:
                    pending.append(None)
                pending.extend(_drain(queue))  # what came while the last post ran
                now = clock()
            item = _pop_joined(pending)
            if item is _DONE:
                break
            if isinstance(item, Delta):
                if (text := coalescer.push(item.text, now)) is not None:
                    await _send_delta(send, text, result, now)
            elif item is not None:  # start, end or error: flush what waits, then the event
                if (text := coalescer.flush(now)) is not None:
                    await _send_delta(send, text, result, now)
                await send(item.to_dict())
                if isinstance(item, Error):
                    result.outcome = "error"
            elif coalescer.due(now) == 0.0 and (text := coalescer.flush(now)) is not None:
                await _send_delta(send, text, result, now)
            if stop_requested and now >= next_stop_check:
                next_stop_check = now + stop_check_interval
                if await asyncio.to_thread(stop_requested):
                    result.outcome = "stopped"
                    break
    except ConnectionGone:
        result.outcome = "gone"
    finally:
        if not producer.done():
            producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
    if result.outcome == "stopped":
        produced = [*pending, *_drain(queue)]
        await _finish_stopped(send, produced, coalescer, result, started, clock)
    return result


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    """Everything waiting in ``queue``, without waiting."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def _pop_joined(pending: list[Any]) -> Any:
    """The first pending item; consecutive deltas come out joined into one (when posting
    is slower than the model, the next frame carries all the text that came meanwhile)."""
    item = pending.pop(0)
    if not isinstance(item, Delta) or not pending or not isinstance(pending[0], Delta):
        return item
    texts = [item.text]
    while pending and isinstance(pending[0], Delta):
        texts.append(pending.pop(0).text)
    return Delta(item.request_id, "".join(texts))


async def _send_delta(send: _Sender, text: str, result: RelayResult, now: float) -> None:
    if result.first_delta_at is None:
        result.first_delta_at = now
    await send({"type": "delta", "text": text})


async def _finish_stopped(
    send: _Sender,
    produced: list[Any],
    coalescer: DeltaCoalescer,
    result: RelayResult,
    started: float,
    clock: Callable[[], float],
) -> None:
    """After a stop: deliver the text the session already produced (it is what was stored
    as the interrupted answer), then a final ``end`` with ``stop_reason: stopped``."""
    pending = [coalescer.flush(clock()) or ""]
    pending += [item.text for item in produced if isinstance(item, Delta)]
    try:
        if text := "".join(pending):  # one delta; FrameWriter splits it if it is large
            await _send_delta(send, text, result, clock())
        await send(
            {
                "type": "end",
                "stop_reason": "stopped",
                "status": "interrupted",
                "latency_ms": {"total": round((clock() - started) * 1000)},
            }
        )
    except ConnectionGone:
        result.outcome = "gone"
