"""DynamoDB failing under the real backend: throttled writes are retried by botocore and
the answer is stored once; a write whose response is lost (the retry then meets its own
conditional put) still answers and stores exactly one turn; a redelivered request is
replayed, not answered again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from backend_client import ask
from fault_proxy import LOST_RESPONSE, THROTTLED_WRITE, fail_times


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
