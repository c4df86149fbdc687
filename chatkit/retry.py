"""Retry a storage call past botocore's own attempts: exponential backoff with full jitter,
inside a time budget, on errors that may pass (throttling, 5xx, lost connections) only.

botocore already retries each call a few times (``CHATKIT_MAX_ATTEMPTS``, about 3.5 s of
backoff); this outer loop rides out an outage that lasts longer, e.g. DynamoDB throttling
a hot partition for ten seconds. Validation errors fail at once::

    await retry_within(lambda: asyncio.to_thread(store.save, turn), budget=20.0)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

__all__ = ["error_name", "retry_within", "retryable"]

T = TypeVar("T")

#: Error codes that say "not now" rather than "never" (any 5xx counts as well).
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


def retryable(exc: BaseException) -> bool:
    """True for throttling, 5xx and connection errors; False for everything else.

    >>> retryable(ClientError({"Error": {"Code": "ValidationException"}}, "PutItem"))
    False
    >>> retryable(ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem"))
    True
    """
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error_name(exc) in RETRYABLE_CODES or status >= 500
    return isinstance(exc, (BotoConnectionError, HTTPClientError))


def error_name(exc: BaseException) -> str:
    """The AWS error code of ``exc``, else its class name (safe to log: no request data).

    >>> error_name(ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem"))
    'ThrottlingException'
    """
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


async def retry_within(
    call: Callable[[], Awaitable[T]],
    *,
    budget: float,
    base: float = 0.2,
    cap: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Await ``call()`` until it succeeds; after a :func:`retryable` failure sleep a random
    time up to ``min(cap, base * 2**n)`` (full jitter) and try again, as long as ``budget``
    seconds have not passed since the first try. Raises the last error otherwise."""
    deadline = clock() + budget
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            left = deadline - clock()
            if left <= 0 or not retryable(exc):
                raise
        await sleep(min(left, rand() * min(cap, base * 2**attempt)))
        attempt += 1
