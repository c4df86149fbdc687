"""DynamoDB calls between a chat frame and the model request, counted with botocore's event
hooks on the real clients while the real ``$default`` handler answers one chat against the
local stack: at most 4 calls and 2 sequential round trips (issue 15; before it, 10 calls
and 9 in a row in a container new to the connection). A round trip is sequential when its
call starts after an earlier one returned (:class:`benchmarks.round_trips.CallLog`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from handler_client import connect, fixture

from benchmarks.round_trips import CallLog
from chatkit.aws.backend import Backend
from chatkit.aws.handlers import run_with, warm_chat_path, ws_default
from chatkit.aws_clients import bedrock_runtime_client, dynamodb_client

MAX_CALLS = 4
MAX_ROUND_TRIPS = 2


@pytest.fixture
def log() -> Iterator[CallLog]:
    log = CallLog()
    yield log
    log.unwatch()  # the clients outlive the test


def container(backend: Backend, **settings) -> Backend:
    """Another Lambda container: a backend of its own, its init done (the chat path built,
    as the deployed chat function's init does, so no import runs inside the count)."""
    built = Backend(backend.settings.with_(**settings), management=backend._management)
    warm_chat_path(built)
    return built


def chat(backend: Backend, log: CallLog, rid: str, connection_id: str = "conn-1") -> CallLog:
    """One ``chat`` frame through the deployed ``$default`` handler on ``backend``."""
    event = fixture("ws_default")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = json.dumps({"type": "chat", "request_id": rid, "text": "안녕"})
    settings = backend.settings  # the clients of these settings are the backend's
    log.watch(dynamodb_client(settings), bedrock_runtime_client(settings)).reset()
    run_with(backend, ws_default, event, None)
    assert log.calls and log.model_asked  # the hooks saw this chat
    return log


def answered(api, rid: str) -> bool:
    return [f["type"] for f in api.frames if f.get("request_id") == rid][-1] == "end"


def test_a_first_chat_on_a_connection_reaches_the_model_after_two_round_trips(backend, api, log):
    connect(backend, "민수")
    chat(container(backend), log, "r1")  # a container that never saw conn-1
    assert answered(api, "r1") and log.model_asked
    assert len(log.calls) <= MAX_CALLS, [c.operation for c in log.calls]
    assert log.round_trips() <= MAX_ROUND_TRIPS, [c.operation for c in log.calls]


def test_a_warm_container_needs_one_round_trip(backend, api, log):
    connect(backend, "민수")
    warm = container(backend)
    chat(warm, log, "r1")
    chat(warm, log, "r2")
    assert answered(api, "r2") and log.model_asked
    assert sorted(c.operation for c in log.calls) == ["Query", "TransactWriteItems"]
    assert log.round_trips() == 1


def test_the_container_that_ran_connect_reads_no_binding(backend, api, log):
    """chatkit serve's workers run every route: the one that bound the connection knows it."""
    both = container(backend)
    connect(both, "민수")
    chat(both, log, "r1")
    assert answered(api, "r1")
    assert sorted(c.operation for c in log.calls) == ["Query", "TransactWriteItems"]
    assert log.round_trips() == 1


def test_the_next_chat_in_another_container_still_takes_two_round_trips(backend, api, log):
    """Lambda may run a connection's next frame anywhere: the binding carries what that
    container needs to guess both buckets right."""
    limits = {"rate_user_burst": 2, "rate_user_per_minute": 1}  # busy after one chat
    first = container(backend, **limits)
    connect(first, "민수")
    chat(first, log, "r1")
    chat(container(backend, **limits), log, "r2")
    assert answered(api, "r2")
    assert len(log.calls) <= MAX_CALLS and log.round_trips() <= MAX_ROUND_TRIPS
    # no second try: the binding told it the user's bucket is busy, not full
    assert sorted(c.operation for c in log.calls) == ["GetItem", "Query", "TransactWriteItems"]


def test_the_call_log_sees_sequential_calls(log, settings):
    """The counter itself: calls made one after another count one round trip each."""
    log.partner_wait = 0.1  # a lone call waits this long in vain: 3 s at the default
    client = dynamodb_client(settings)
    log.watch(client, bedrock_runtime_client(settings)).reset()
    for _ in range(3):
        client.get_item(TableName=settings.state_table_name, Key={"pk": {"S": "x"}})
    assert len(log.calls) == 3 and log.round_trips() == 3
