"""The token bucket's arithmetic with an injected clock (no sleeping). Times in ms."""

from __future__ import annotations

import pytest

from chatkit.ratelimit import Bucket, idle, take


def drain(bucket: Bucket, now: int, due: int | None = None) -> tuple[int, int | None]:
    """Take until refused at ``now``; returns how many were allowed and the last due time."""
    allowed = 0
    while (decision := take(bucket, due, now)).allowed:
        allowed, due = allowed + 1, decision.due
    return allowed, due


def test_a_full_bucket_allows_exactly_its_burst():
    allowed, _ = drain(Bucket(capacity=5, per_second=1), now=100_000)
    assert allowed == 5


def test_a_refused_take_says_how_long_to_wait_and_that_wait_is_enough():
    bucket = Bucket(capacity=3, per_second=0.5)
    _, due = drain(bucket, now=0)
    refused = take(bucket, due, now=0)
    assert not refused.allowed and refused.retry_after == pytest.approx(2.0)
    assert refused.due == due  # a refusal changes nothing
    assert not take(bucket, due, now=1_990).allowed
    assert take(bucket, due, now=2_000).allowed


def test_refill_is_capped_at_capacity():
    bucket = Bucket(capacity=2, per_second=10)
    _, due = drain(bucket, now=0)
    allowed, _ = drain(bucket, now=3_600_000, due=due)
    assert allowed == 2


def test_partial_refill_counts_fractions():
    bucket = Bucket(capacity=4, per_second=1)
    _, due = drain(bucket, now=0)
    half = take(bucket, due, now=500)
    assert not half.allowed and half.retry_after == pytest.approx(0.5)
    assert take(bucket, half.due, now=1_000).allowed


def test_a_clock_going_backwards_refills_nothing():
    bucket = Bucket(capacity=2, per_second=1)
    _, due = drain(bucket, now=50_000)
    assert not take(bucket, due, now=10_000).allowed
    assert not take(bucket, due, now=50_999).allowed


def test_a_busy_bucket_moves_by_one_interval_whatever_its_exact_due_time():
    """What lets the state store take a token with ``SET due = due + interval``: from any
    due time ahead of now the next is one interval later; from a full bucket, now + one."""
    bucket = Bucket(capacity=3, per_second=2)
    assert bucket.interval_ms == 500 and bucket.tolerance_ms == 1_000
    for due in (10_001, 10_500, 11_000):
        assert not idle(due, 10_000) and take(bucket, due, 10_000).due == due + 500
    for due in (None, 0, 10_000):
        assert idle(due, 10_000) and take(bucket, due, 10_000).due == 10_500


def test_per_minute_settings_form():
    bucket = Bucket.per_minute(30, 60)
    assert (bucket.capacity, bucket.per_second, bucket.seconds_to_full) == (30, 1.0, 30.0)
    assert (bucket.interval_ms, bucket.tolerance_ms) == (1_000, 29_000)


@pytest.mark.parametrize("capacity, per_second", [(0, 1), (1, 0), (1, -1)])
def test_an_unusable_bucket_is_refused(capacity, per_second):
    with pytest.raises(ValueError):
        Bucket(capacity, per_second)
