"""Token buckets, sans I/O: the arithmetic only; the caller stores the :class:`Level`
(the backend keeps it in the DynamoDB state table, shared by every Lambda invocation).

A bucket holds up to ``capacity`` tokens and refills ``per_second``; each request takes
one. Time comes from the caller, so tests need no sleeping::

    >>> bucket = Bucket(capacity=2, per_second=0.5)
    >>> first = take(bucket, None, now=0.0)
    >>> second = take(bucket, first.level, now=0.0)
    >>> third = take(bucket, second.level, now=0.0)
    >>> first.allowed, second.allowed, third.allowed, third.retry_after
    (True, True, False, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bucket", "Decision", "Level", "take"]


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


@dataclass(frozen=True)
class Level:
    """Tokens left at time ``at`` (what is stored between requests)."""

    tokens: float
    at: float


@dataclass(frozen=True)
class Decision:
    """``allowed`` with the new ``level`` to store, or ``retry_after`` seconds to wait."""

    allowed: bool
    level: Level
    retry_after: float = 0.0


def take(bucket: Bucket, level: Level | None, now: float, cost: float = 1.0) -> Decision:
    """Take ``cost`` tokens at ``now`` from a bucket last seen at ``level`` (None: full)."""
    if level is None:
        tokens = bucket.capacity
    else:
        elapsed = max(0.0, now - level.at)  # a clock that went back refills nothing
        tokens = min(bucket.capacity, level.tokens + elapsed * bucket.per_second)
    refilled = Level(tokens, now)
    if tokens >= cost:
        return Decision(True, Level(tokens - cost, now))
    return Decision(False, refilled, (cost - tokens) / bucket.per_second)
