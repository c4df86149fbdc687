"""DynamoDB calls between a chat frame and the model request, counted with botocore's event
hooks on the real clients while the real ``$default`` handler answers one chat against the
local stack: at most 4 calls and 2 sequential round trips (issue 15; 9 calls, 8 in a row
before). A round trip is sequential when its call starts after an earlier one returned."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest
from handler_client import connect, fixture

from chatkit.aws.backend import Backend
from chatkit.aws.handlers import run_with, warm_chat_path, ws_default
from chatkit.aws_clients import bedrock_runtime_client, dynamodb_client

MAX_CALLS = 4
MAX_ROUND_TRIPS = 2
#: How long a call that returned waits for one issued alongside it to start: calls made in
#: parallel then always overlap (however the threads are scheduled); a lone call just waits.
PARTNER_WAIT = 1.0


@dataclass
class Call:
    operation: str
    started: int  # order of events, not time
    ended: int | None = None


class CallLog:
    """Every DynamoDB call (``before-call`` … ``after-call``) from :meth:`reset` until
    ``ConverseStream`` starts, with its place in the order of events."""

    def __init__(self, dynamodb, bedrock) -> None:
        self.calls: list[Call] = []
        self.model_asked = True  # nothing counted before reset()
        self._events = 0
        self._changed = threading.Condition()
        dynamodb.meta.events.register("before-call.dynamodb", self._before)
        dynamodb.meta.events.register("after-call.dynamodb", self._after)
        bedrock.meta.events.register("before-call.bedrock-runtime.ConverseStream", self._model)

    def _tick(self) -> int:
        self._events += 1
        return self._events

    def _before(self, model, context, **_) -> None:
        with self._changed:
            if not self.model_asked:
                context["counted"] = Call(model.name, self._tick())
                self.calls.append(context["counted"])
                self._changed.notify_all()

    def _after(self, context, **_) -> None:
        call = context.get("counted")
        if call is None:
            return
        with self._changed:
            self._changed.wait_for(lambda: self._partnered(call), timeout=PARTNER_WAIT)
            call.ended = self._tick()
            self._changed.notify_all()

    def _partnered(self, call: Call) -> bool:
        return any(
            other is not call and (other.ended is None or other.ended > call.started)
            for other in self.calls
        )

    def _model(self, **_) -> None:
        with self._changed:
            self.model_asked = True

    def round_trips(self) -> int:
        """The longest chain of calls each started after the one before it returned."""
        depth: dict[int, int] = {}
        for call in sorted(self.calls, key=lambda c: c.started):
            before = [depth[id(c)] for c in self.calls if c.ended and c.ended < call.started]
            depth[id(call)] = 1 + max(before, default=0)
        return max(depth.values(), default=0)

    def reset(self) -> None:
        with self._changed:
            self.calls, self.model_asked = [], False


@pytest.fixture
def log(settings) -> CallLog:
    return CallLog(dynamodb_client(settings), bedrock_runtime_client(settings))


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
    log.reset()
    run_with(backend, ws_default, event, None)
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


def test_the_call_log_sees_sequential_calls(backend, api, log, settings):
    """The counter itself: calls made one after another count one round trip each."""
    client = dynamodb_client(settings)
    log.reset()
    for _ in range(3):
        client.get_item(TableName=settings.state_table_name, Key={"pk": {"S": "x"}})
    assert len(log.calls) == 3 and log.round_trips() == 3
