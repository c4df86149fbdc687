"""chatkit.retry: which storage errors are retried, full-jitter backoff inside the budget
(on an injected clock and sleep: no real waiting)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from chatkit.retry import retry_within, retryable


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem"
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_client_error("ProvisionedThroughputExceededException"), True),
        (_client_error("ThrottlingException"), True),
        (_client_error("RequestLimitExceeded"), True),
        (_client_error("InternalServerError", 500), True),
        (_client_error("Whatever", 503), True),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (ConnectionClosedError(endpoint_url="http://x"), True),
        (ReadTimeoutError(endpoint_url="http://x"), True),
        (_client_error("ValidationException"), False),
        (_client_error("ConditionalCheckFailedException"), False),
        (_client_error("ResourceNotFoundException"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_passing_errors_are_retryable(exc, expected):
    assert retryable(exc) is expected


class _Timeline:
    """A fake clock that ``sleep`` advances; ``rand`` returns 1.0 (the jitter's ceiling)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _failing(times: int, exc: Exception):
    calls = []

    async def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return "saved"

    return call, calls


async def test_backoff_doubles_up_to_the_cap_and_the_call_succeeds():
    timeline = _Timeline()
    call, calls = _failing(5, _client_error("ThrottlingException"))
    result = await retry_within(
        call,
        budget=100,
        base=0.5,
        cap=3.0,
        clock=timeline.clock,
        sleep=timeline.sleep,
        rand=lambda: 1.0,
    )
    assert result == "saved" and len(calls) == 6
    assert timeline.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_full_jitter_scales_each_wait():
    timeline = _Timeline()
    call, _ = _failing(3, _client_error("ThrottlingException"))
    await retry_within(
        call, budget=100, base=1.0, clock=timeline.clock, sleep=timeline.sleep, rand=lambda: 0.25
    )
    assert timeline.sleeps == [0.25, 0.5, 1.0]


async def test_the_budget_bounds_the_waiting_and_the_last_error_is_raised():
    timeline = _Timeline()
    throttled = _client_error("ProvisionedThroughputExceededException")
    call, calls = _failing(10**6, throttled)
    with pytest.raises(ClientError) as raised:
        await retry_within(
            call,
            budget=10,
            base=1.0,
            cap=4.0,
            clock=timeline.clock,
            sleep=timeline.sleep,
            rand=lambda: 1.0,
        )
    assert raised.value is throttled
    assert timeline.sleeps == [1.0, 2.0, 4.0, 3.0]  # the last wait ends at the budget
    assert timeline.now == 10 and len(calls) == 5


async def test_a_validation_error_is_not_retried():
    timeline = _Timeline()
    call, calls = _failing(1, _client_error("ValidationException"))
    with pytest.raises(ClientError):
        await retry_within(call, budget=100, clock=timeline.clock, sleep=timeline.sleep)
    assert len(calls) == 1 and timeline.sleeps == []
