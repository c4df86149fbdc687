"""The token bucket's arithmetic with an injected clock (no sleeping)."""

from __future__ import annotations

import pytest

from chatkit.ratelimit import Bucket, Level, take


def drain(bucket: Bucket, now: float, level: Level | None = None) -> tuple[int, Level]:
    """Take until refused at ``now``; returns how many were allowed and the last level."""
    allowed = 0
    while (decision := take(bucket, level, now)).allowed:
        allowed, level = allowed + 1, decision.level
    return allowed, decision.level


def test_a_full_bucket_allows_exactly_its_burst():
    allowed, _ = drain(Bucket(capacity=5, per_second=1), now=100.0)
    assert allowed == 5


def test_a_refused_take_says_how_long_to_wait_and_that_wait_is_enough():
    bucket = Bucket(capacity=3, per_second=0.5)
    _, level = drain(bucket, now=0.0)
    refused = take(bucket, level, now=0.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(2.0)
    assert not take(bucket, level, now=1.99).allowed
    assert take(bucket, level, now=2.0).allowed


def test_refill_is_capped_at_capacity():
    bucket = Bucket(capacity=2, per_second=10)
    _, level = drain(bucket, now=0.0)
    allowed, _ = drain(bucket, now=3600.0, level=level)
    assert allowed == 2


def test_partial_refill_counts_fractions():
    bucket = Bucket(capacity=4, per_second=1)
    _, level = drain(bucket, now=0.0)
    half = take(bucket, level, now=0.5)
    assert not half.allowed and half.retry_after == pytest.approx(0.5)
    assert take(bucket, half.level, now=1.0).allowed


def test_a_clock_going_backwards_neither_refills_nor_drains():
    bucket = Bucket(capacity=2, per_second=1)
    _, level = drain(bucket, now=50.0)
    assert not take(bucket, level, now=10.0).allowed
    one_left = take(bucket, None, now=50.0).level
    assert take(bucket, one_left, now=10.0).allowed


def test_per_minute_settings_form():
    bucket = Bucket.per_minute(30, 60)
    assert (bucket.capacity, bucket.per_second, bucket.seconds_to_full) == (30, 1.0, 30.0)


@pytest.mark.parametrize("capacity, per_second", [(0, 1), (1, 0), (1, -1)])
def test_an_unusable_bucket_is_refused(capacity, per_second):
    with pytest.raises(ValueError):
        Bucket(capacity, per_second)
