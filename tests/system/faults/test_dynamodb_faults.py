"""DynamoDB failing under the real backend: throttled writes are retried by botocore and
the answer is stored once; throttling that outlasts botocore's attempts is ridden out by
the session's own bounded retry, and past that budget the client is told ``not_saved``
(with the whole answer already delivered) and a retry of the request id stores it once;
a write whose response is lost (the retry then meets its own conditional put) still
answers and stores exactly one turn; a redelivered request is replayed, not answered again.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from backend_client import ask
from fault_proxy import LOST_RESPONSE, THROTTLED_WRITE, fail_times

import chatkit.session
from chatkit.config import Settings


def _writes(prefix: str):
    """Matches ``PutItem`` calls on the history table whose sort key starts with ``prefix``
    (``T#`` a turn, ``R#`` a request marker)."""

    def matches(operation: str, body: dict[str, Any]) -> bool:
        sort_key = body.get("Item", {}).get("sk", {}).get("S", "")
        return operation == "PutItem" and sort_key.startswith(prefix)

    return matches


async def test_throttled_turn_writes_are_retried_and_the_answer_is_stored_once(proxies, serve):
    proxies.dynamodb.rule = fail_times(2, THROTTLED_WRITE, _writes("T#"))
    served = await serve()
    token = await served.login("busy-table")
    async with served.connect(token) as ws:
        reply = await ask(ws, "w1", "!rate 0 서울 여행 추천해줘")
    assert reply.last["type"] == "end"
    assert proxies.dynamodb.injected == 2
    items = await served.items(token)
    assert [(i["request_id"], i["status"]) for i in items] == [("w1", "completed")]
    assert items[0]["answer"] == reply.text


def _asked(emulator, text: str, since: float) -> int:
    """How many model calls asked ``text`` (as the last user message) since ``since``."""
    return sum(
        r.body["messages"][-1]["content"][0]["text"] == text and r.received_at >= since
        for r in emulator.requests
    )


@pytest.mark.slow  # real botocore retry backoff: not in test-fast
async def test_throttling_longer_than_botocore_retries_is_ridden_out_within_the_budget(
    proxies, serve
):
    botocore_attempts = Settings().max_attempts  # the handlers' default (4)
    proxies.dynamodb.rule = fail_times(botocore_attempts + 1, THROTTLED_WRITE, _writes("T#"))
    served = await serve()
    token = await served.login("hot-partition")
    async with served.connect(token) as ws:
        reply = await ask(ws, "s1", "!rate 0 경주 여행 추천해줘")
    reply.assert_well_formed()
    assert reply.last["type"] == "end"
    assert proxies.dynamodb.injected == botocore_attempts + 1  # one save call was not enough
    items = await served.items(token)
    assert [(i["request_id"], i["status"]) for i in items] == [("s1", "completed")]
    assert items[0]["answer"] == reply.text


async def test_throttling_beyond_the_budget_says_not_saved_and_a_retry_stores_once(
    proxies, serve, stack, monkeypatch, caplog
):
    monkeypatch.setattr(chatkit.session, "SAVE_RETRY_SECONDS", 0.5)
    monkeypatch.setenv("CHATKIT_MAX_ATTEMPTS", "2")  # botocore's part short, too
    caplog.set_level(logging.INFO)
    proxies.dynamodb.rule = fail_times(10**6, THROTTLED_WRITE, _writes("T#"))
    served = await serve()
    token = await served.login("table-down")
    text = "!rate 0 제주 맛집 알려줘"
    started = time.time()
    async with served.connect(token) as ws:
        lost = await ask(ws, "n1", text)
        lost.assert_well_formed()
        assert lost.last["code"] == "not_saved"
        assert lost.last["message"] == (
            "답변을 기록에 저장하지 못했습니다. (The answer could not be saved to history.)"
        )
        assert lost.text.startswith("[데모 모델") and "제주" in lost.text
        assert await served.items(token) == []
        await ws.send(json.dumps({"type": "ping"}))  # the connection is fine
        assert json.loads(await ws.recv()) == {"type": "pong"}

        proxies.dynamodb.rule = lambda operation, body: None  # DynamoDB recovers
        again = await ask(ws, "n1", text)  # the client retries the same request id
    again.assert_well_formed()
    assert again.last["type"] == "end" and again.last["replayed"] is True
    assert again.text == lost.text  # the answer the client already has, now stored
    assert _asked(stack.emulator, text, started) == 1  # not answered twice
    items = await served.items(token)
    assert [(i["request_id"], i["status"]) for i in items] == [("n1", "completed")]
    assert items[0]["answer"] == lost.text
    not_saved = [r for r in caplog.records if r.getMessage().startswith("turn not saved")]
    assert [getattr(r, "request_id", None) for r in not_saved] == ["n1"]
    assert not any(r.exc_info for r in caplog.records)
    assert not any("제주" in r.getMessage() for r in caplog.records)  # never the text


async def test_a_claim_whose_response_was_lost_still_answers_once(proxies, serve, stack):
    """botocore retries the conditional put of the request marker after a lost response;
    the retry fails its condition on the marker the first attempt wrote."""
    proxies.dynamodb.rule = fail_times(1, LOST_RESPONSE, _writes("R#"))
    served = await serve()
    token = await served.login("lost")
    started = time.time()
    async with served.connect(token) as ws:
        first = await ask(ws, "c1", "!rate 0 부산 맛집 알려줘")
        again = await ask(ws, "c1", "!rate 0 부산 맛집 알려줘")  # redelivered
    assert proxies.dynamodb.injected == 1
    assert first.last["type"] == "end" and "부산" in first.text
    assert again.last["type"] == "end" and again.last["replayed"] is True
    assert again.text == first.text
    asked = [
        r
        for r in stack.emulator.requests
        if "부산 맛집 알려줘" in json.dumps(r.body, ensure_ascii=False) and r.received_at >= started
    ]
    assert len(asked) == 1  # answered once
    items = await served.items(token)
    assert [(i["request_id"], i["status"]) for i in items] == [("c1", "completed")]
