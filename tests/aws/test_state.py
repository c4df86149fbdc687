"""Abuse limits through the real handlers and the DynamoDB state table: rate buckets per
connection and per user (shared by every container), one generation at a time per user
(a lease that a crashed Lambda cannot hold forever), and a cap on a user's history."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from handler_client import RecordingManagementApi, backend_with, connect, message, outcome

from chatkit.auth import Identity
from chatkit.aws.backend import Backend
from chatkit.aws.state import Generation, Limits, StateStore
from chatkit.aws_clients import dynamodb_client
from chatkit.ratelimit import Bucket


class Clock:
    """A settable wall clock for the state store."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def chat(backend: Backend, rid: str, text: str = "안녕", connection_id: str = "conn-1") -> None:
    message(backend, {"type": "chat", "request_id": rid, "text": text}, connection_id)


# -- rate limits ------------------------------------------------------------------------


def test_a_connection_over_its_burst_gets_rate_limited_with_retry_after(settings, api):
    backend = backend_with(
        settings, api, Clock(), rate_connection_burst=2, rate_connection_per_minute=1
    )
    connect(backend, "민수")
    for rid in ("r1", "r2", "r3"):
        chat(backend, rid)
    assert outcome(api, "r1")["type"] == outcome(api, "r2")["type"] == "end"
    refused = outcome(api, "r3")
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert refused["retry_after"] == 60  # one token a minute, rounded up to whole seconds
    assert "잠시" in refused["message"] and "wait" in refused["message"]
    assert backend.history.get("민수", "r3") is None  # refused before anything is stored
    connect(backend, "민수", connection_id="conn-2")  # the user's other connection is fine
    chat(backend, "r4", connection_id="conn-2")
    assert outcome(api, "r4")["type"] == "end"


def test_the_user_bucket_is_shared_by_every_container(settings, api):
    limits = {"rate_user_burst": 2, "rate_user_per_minute": 1}
    first, second = backend_with(settings, api, **limits), backend_with(settings, api, **limits)
    connect(first, "민수", connection_id="c1")
    connect(second, "민수", connection_id="c2")
    chat(first, "r1", connection_id="c1")
    chat(second, "r2", connection_id="c2")
    chat(first, "r3", connection_id="c1")
    assert outcome(api, "r3")["code"] == "rate_limited"
    connect(second, "지은", connection_id="c3")  # another user has a bucket of her own
    chat(second, "r4", connection_id="c3")
    assert outcome(api, "r4")["type"] == "end"


def test_replayed_chats_are_charged_too(settings, api):
    """A redelivered request id is answered from history without the model — and still
    costs a token, as every frame does (else replays would be a free flood)."""
    limits = {"rate_connection_burst": 3, "rate_connection_per_minute": 1}
    backend = backend_with(settings, api, **limits)
    connect(backend, "민수")
    for _ in range(3):
        chat(backend, "r1")
    assert outcome(api, "r1")["replayed"] is True
    chat(backend_with(settings, api, **limits), "r2")  # another container: from the table
    assert outcome(api, "r2")["code"] == "rate_limited"


def test_a_limited_user_may_chat_again_after_retry_after(settings, api):
    clock = Clock()
    backend = backend_with(settings, api, clock, rate_user_burst=1, rate_user_per_minute=6)
    connect(backend, "민수")
    chat(backend, "r1")
    chat(backend, "r2")
    wait = outcome(api, "r2")["retry_after"]
    assert wait == 10
    clock.now += wait - 1
    chat(backend, "r3")
    assert outcome(api, "r3")["code"] == "rate_limited"
    clock.now += 1
    chat(backend, "r4")
    assert outcome(api, "r4")["type"] == "end"


class Serializable:
    """The DynamoDB client, with transactions isolated from each other as DynamoDB isolates
    them (serializable). moto 5.2 does not: two at once may both pass their conditions."""

    def __init__(self, client) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def transact_write_items(self, **request):
        with self._lock:
            return self._client.transact_write_items(**request)


def test_concurrent_charges_never_admit_more_than_the_bucket_holds(settings):
    """24 frames at once on 24 connections of one user, each in a container of its own."""
    client = Serializable(dynamodb_client(settings))
    limits = Limits(Bucket.per_minute(10, 10), Bucket.per_minute(10, 1))
    user = Identity("busy", expires_at=time.time() + 600, issued_at=time.time() - 1)
    for index in range(24):
        StateStore(settings.state_table_name, client).bind(f"c{index}", user)
    started = round(time.time() * 1000)

    def charge(index: int) -> bool:
        state = StateStore(settings.state_table_name, client)
        return state.charge(f"c{index}", user, limits).refused is None

    with ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(charge, range(24)))
    assert 1 <= admitted <= 10
    item = client.get_item(
        TableName=settings.state_table_name, Key={"pk": {"S": "rate#user#busy"}}
    )["Item"]
    taken = (int(item["due"]["N"]) - started) / limits.user.interval_ms
    assert taken == pytest.approx(admitted, abs=0.2)  # no update was lost


# -- one generation at a time per user ----------------------------------------------------


def test_a_second_chat_while_one_streams_is_busy_until_the_first_ends(settings, api):
    backend = backend_with(settings, api, max_generations_per_user=1)
    connect(backend, "민수", connection_id="tab-1")
    connect(backend, "민수", connection_id="tab-2")
    long = threading.Thread(
        target=chat, args=(backend, "long", "!rate 50 !long 3000 이야기", "tab-1")
    )
    long.start()
    while not any(f["type"] == "delta" for f in api.frames):
        time.sleep(0.02)
    chat(backend, "second", "부산은?", "tab-2")
    busy = outcome(api, "second")
    assert (busy["type"], busy["code"]) == ("error", "busy")
    assert backend.history.get("민수", "second") is None
    message(backend, {"type": "stop", "request_id": "long"}, "tab-1")
    long.join(timeout=15)
    assert not long.is_alive()
    chat(backend, "third", "부산은?", "tab-2")  # the lease was released
    assert outcome(api, "third")["type"] == "end"


def crashed_chat(backend: Backend, user: str, rid: str, slots: int = 1) -> int | None:
    """What a Lambda that crashed mid-answer leaves behind: an admission (a generation
    lease, a pending claim) that is never released. Returns the slot it holds."""
    connect(backend, user, connection_id="crashed")
    ask = Generation(rid, slots, 300, 100, 86400, backend.history.claim_put(user, rid))
    identity = backend.state.identity_of("crashed")
    return backend.state.admit("crashed", identity, backend.limits, ask).slot


def test_a_lease_left_by_a_crashed_lambda_expires(settings, api):
    clock = Clock()
    backend = backend_with(
        settings, api, clock, max_generations_per_user=1, generation_lease_seconds=300
    )
    assert crashed_chat(backend, "민수", "crashed") == 0
    connect(backend, "민수")
    chat(backend, "r1")
    assert outcome(api, "r1")["code"] == "busy"
    clock.now += 301
    chat(backend, "r2")
    assert outcome(api, "r2")["type"] == "end"


def test_two_generations_when_the_setting_allows_two(settings, api):
    backend = backend_with(settings, api, max_generations_per_user=2)
    held = crashed_chat(backend, "민수", "other", slots=2)
    connect(backend, "민수")
    chat(backend, "r1")
    assert held == 0 and outcome(api, "r1")["type"] == "end"
    chat(backend, "r2")  # slot 1 was released: still two at most
    assert outcome(api, "r2")["type"] == "end"


# -- history size ---------------------------------------------------------------------------


def test_a_full_history_refuses_new_turns_until_it_is_reset(settings, api):
    backend = backend_with(settings, api, max_history_turns=2)
    connect(backend, "민수")
    chat(backend, "r1")
    chat(backend, "r2")
    chat(backend, "r3")
    full = outcome(api, "r3")
    assert (full["type"], full["code"]) == ("error", "history_full")
    assert "초기화" in full["message"] and "reset" in full["message"] and "2" in full["message"]
    assert [t.request_id for t in backend.history.page("민수").items] == ["r2", "r1"]
    backend.session.reset("민수")
    chat(backend, "r4")
    assert outcome(api, "r4")["type"] == "end"


@pytest.mark.parametrize("text", ["안녕", "!fail-after 2 안녕"], ids=["end", "error"])
def test_a_chat_sent_the_moment_the_last_frame_arrives_is_not_busy(settings, text):
    """The lease is free before the final frame is posted (a quick client is not refused)."""

    class EagerClient(RecordingManagementApi):
        def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
            super().post_to_connection(ConnectionId, Data)
            last = self.frames[-1]
            if last.get("request_id") == "first" and last["type"] in ("end", "error"):
                chat(backend, "next", "부산은?", "tab-2")

    api = EagerClient()
    backend = backend_with(settings, api, max_generations_per_user=1)
    connect(backend, "민수", connection_id="tab-1")
    connect(backend, "민수", connection_id="tab-2")
    chat(backend, "first", text, "tab-1")
    assert outcome(api, "next")["type"] == "end"
