"""Clients leaving at random points of 200 answers (seeded), through the real backend:
nothing crashes, every accepted turn is stored exactly once with the status it earned, and
after the client is gone the handler posts at most once more (the post that hears 410).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from aiohttp import web
from backend_client import Reply, Served, finished, wait_for

from chatkit.local.gateway import Gateway

ANSWERS = 200
WORKERS = 20
SEED = 8
QUESTION = "!rate 150 !long 80 서울 이야기"  # ~0.2 s of deltas in a few frames
ANSWER_FRAMES_MAX = 1_000  # more frames than any answer to QUESTION has


class CountingGateway(Gateway):
    """The local gateway, counting ``@connections`` posts answered 410 per connection."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gone_posts: Counter[str] = Counter()

    async def _management(self, request: web.Request) -> web.Response:
        response = await super()._management(request)
        if request.method == "POST" and response.status == 410:
            self.gone_posts[request.match_info["connection_id"]] += 1
        return response


@dataclass
class Outcome:
    user: str
    reply: Reply
    started: bool  # the client saw ``start``: the request was accepted
    ended: bool  # the client saw ``end`` before it left


async def _leave_at_random(served: Served, user: str, rng: random.Random) -> Outcome:
    # One client in five stays to the end (so both outcomes occur whatever the load).
    frames_to_read = rng.randint(0, 6) if rng.random() < 0.8 else ANSWER_FRAMES_MAX
    abrupt = rng.random() < 0.5
    token = await served.login(user)
    reply = Reply(f"{user}-r")
    async with served.connect(token) as ws:
        chat = {"type": "chat", "request_id": reply.request_id, "text": QUESTION}
        await ws.send(json.dumps(chat, ensure_ascii=False))
        while len(reply.raw) < frames_to_read and not finished(reply):
            reply.raw.append(await asyncio.wait_for(ws.recv(), 30))
        if abrupt:
            ws.transport.abort()  # the network drops: no close frame
    types = {f["type"] for f in reply.own}
    assert "error" not in types and all("request_id" in f for f in reply.frames), reply.raw
    return Outcome(user, reply, "start" in types, "end" in types)


async def _worker(served: Served, index: int) -> list[Outcome]:
    """One of ``WORKERS`` clients in parallel, each asking as a new user every time (a
    user's next question could meet the ``busy`` limit while the handler of the one it
    left is still finding out that the client is gone)."""
    rng = random.Random(SEED * 1000 + index)
    return [
        await _leave_at_random(served, f"leaver-{index}-{turn}", rng)
        for turn in range(ANSWERS // WORKERS)
    ]


@pytest.mark.slow
async def test_random_disconnects_store_every_turn_once_and_stop_posting(
    serve, history, stack, caplog
):
    caplog.set_level(logging.WARNING)
    served = await serve(gateway_class=CountingGateway)
    try:
        workers = await asyncio.gather(*(_worker(served, i) for i in range(WORKERS)))
    finally:  # 200 calls would fill the shared emulator's record (it keeps the last 200)
        stack.emulator.clear_requests()
    outcomes = [outcome for worker in workers for outcome in worker]

    def stored(outcome: Outcome) -> list[dict]:
        return [t.to_public() for t in history.page(outcome.user, limit=10).items]

    async def all_accepted_stored() -> bool:
        accepted = [o for o in outcomes if o.started]
        return all(await asyncio.gather(*(asyncio.to_thread(stored, o) for o in accepted)))

    await wait_for(all_accepted_stored, timeout=30)
    await asyncio.sleep(0.5)  # late handlers of requests the client never saw start
    statuses: Counter[str] = Counter()
    for outcome in outcomes:
        items = stored(outcome)
        assert len(items) <= 1, f"{outcome.user}: stored {len(items)} times"
        if outcome.started:
            (item,) = items
            if outcome.ended:
                assert item["status"] == "completed" and item["answer"] == outcome.reply.text
            else:
                assert item["status"] in ("interrupted", "completed")
                assert item["answer"].startswith(outcome.reply.text)
        statuses.update(i["status"] for i in items)

    ended = sum(o.ended for o in outcomes)
    assert 0 < ended < ANSWERS and statuses["interrupted"] > ANSWERS // 4, statuses
    gone = served.gateway.gone_posts
    assert gone and max(gone.values()) == 1, gone
    crashes = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage() for r in crashes[:3]]
