"""The gateway going away and coming back, and its idle close, with real ``websockets``
clients: a conversation survives a restart on the same port (its memory is the history);
the client's ``ping`` keep-alive holds a connection open past the idle timeout.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from backend_client import ask
from websockets.exceptions import ConnectionClosed

#: Idle close for the keep-alive test; pings go 6× as often, so a loaded machine (the
#: suite runs in two workers) may stall the client for ~2 s without a false close.
IDLE = 3.0


async def test_a_conversation_continues_after_the_gateway_restarts(serve, stack):
    second_question = "!rate 0 그럼 재시작 뒤 지하철 요금은?"  # unique in the emulator log
    served = await serve()
    token = await served.login("restart")
    async with served.connect(token) as ws:
        first = await ask(ws, "r1", "!rate 0 서울 여행 추천해줘")
        port = served.gateway.port
        await asyncio.to_thread(served.gateway.stop)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1001  # going away
    restarted = await serve(port=port)
    assert restarted.gateway.ws_url == served.gateway.ws_url
    async with restarted.connect(token) as ws:  # the same URL and token
        second = await ask(ws, "r2", second_question)
    assert first.last["type"] == second.last["type"] == "end"
    assert "1,550원" in second.text  # the Seoul fare: the city came from the first turn
    (request,) = [
        r
        for r in stack.emulator.requests
        if r.body["messages"][-1]["content"][0]["text"] == second_question
    ]
    remembered = [m["content"][0]["text"] for m in request.body["messages"][:2]]
    assert remembered == ["!rate 0 서울 여행 추천해줘", first.text]


async def _ping_for(ws, every: float, seconds: float) -> int:
    """Send ``ping`` every ``every`` s for ``seconds``; return the pongs received."""
    pongs = 0
    for _ in range(round(seconds / every)):
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
        pongs += 1
        await asyncio.sleep(every)
    return pongs


@pytest.mark.slow
async def test_the_keep_alive_outlives_the_idle_timeout_and_silence_does_not(serve):
    served = await serve(idle_timeout=IDLE)
    token = await served.login("idle")
    async with served.connect(token) as kept, served.connect(token) as silent:
        pongs = await _ping_for(kept, IDLE / 6, IDLE * 2)
        reply = await ask(kept, "k1", "!rate 0 안녕")  # still open and served
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(silent.recv(), 5)
        assert silent.close_code == 1001
    assert pongs == 12 and reply.last["type"] == "end"
