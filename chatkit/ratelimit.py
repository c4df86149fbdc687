"""Token buckets, sans I/O: the arithmetic only; the caller stores the bucket's state
(the backend keeps it in the DynamoDB state table, shared by every Lambda invocation).

A bucket holds up to ``capacity`` tokens and refills ``per_second``; each request takes
one. Its state is one number, the *due* time in integer milliseconds (the generic cell
rate algorithm): the moment the bucket would be full again. Taking a token moves it one
``interval_ms`` later; a take is allowed while the due time is at most ``tolerance_ms``
ahead of now. Because a busy bucket's due time only grows by a constant, a store can
apply a take with one conditional ``SET due = due + interval`` without reading it first
(see :func:`idle`). Time comes from the caller, so tests need no sleeping::

    >>> bucket = Bucket(capacity=2, per_second=0.5)
    >>> first = take(bucket, None, now=0)
    >>> second = take(bucket, first.due, now=0)
    >>> third = take(bucket, second.due, now=0)
    >>> first.allowed, second.allowed, third.allowed, third.retry_after
    (True, True, False, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bucket", "Decision", "idle", "take"]


@dataclass(frozen=True)
class Bucket:
    """``capacity`` tokens at most (the burst), refilled at ``per_second``."""

    capacity: float
    per_second: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.per_second <= 0:
            raise ValueError("a bucket needs capacity ≥ 1 and a positive refill rate")

    @classmethod
    def per_minute(cls, capacity: int, per_minute: int) -> Bucket:
        """The settings' form: ``Bucket.per_minute(30, 60)`` = burst 30, one a second."""
        return cls(capacity, per_minute / 60)

    @property
    def seconds_to_full(self) -> float:
        return self.capacity / self.per_second

    @property
    def interval_ms(self) -> int:
        """Milliseconds one token takes to refill."""
        return max(1, round(1000 / self.per_second))

    @property
    def tolerance_ms(self) -> int:
        """How far ahead of now the due time may be for a take to be allowed."""
        return round((self.capacity - 1) * self.interval_ms)


@dataclass(frozen=True)
class Decision:
    """``allowed`` with the bucket's new ``due`` time to store, or ``retry_after`` seconds
    to wait (``due`` unchanged)."""

    allowed: bool
    due: int
    retry_after: float = 0.0


def idle(due: int | None, now: int) -> bool:
    """Whether a bucket last due at ``due`` is full at ``now`` (its next due time is then
    ``now + interval``, else ``due + interval``)."""
    return due is None or due <= now


def take(bucket: Bucket, due: int | None, now: int) -> Decision:
    """Take one token at ``now`` (ms) from a bucket last due at ``due`` (None: full). A
    clock behind the stored due time refills nothing."""
    start = now if idle(due, now) else due
    ahead = start - now
    if ahead > bucket.tolerance_ms:
        return Decision(False, start, (ahead - bucket.tolerance_ms) / 1000)
    return Decision(True, start + bucket.interval_ms)
