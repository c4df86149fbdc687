"""The whole backend over real loopback sockets: ``websockets`` and ``aiohttp`` clients talk
to the local API Gateway, which runs the real Lambda handlers (``chatkit.aws.handlers``)
in-process against the offline stack (Bedrock emulator with the demo model, moto DynamoDB).
Nothing is faked: frames and bytes are what a browser would receive.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata

import pytest
from backend_client import TIMED_OUT, Reply, ask, finished, receive
from websockets.exceptions import InvalidStatus

from chatkit.local.gateway import Gateway

# -- conversations ----------------------------------------------------------------------


async def test_multi_turn_korean_conversation_remembers_the_first_turn(serve, stack):
    served = await serve()
    token = await served.login("민수")
    async with served.connect(token) as ws:
        first = await ask(ws, "m1", "서울 여행 추천해줘")
        second = await ask(ws, "m2", "그럼 지하철 요금은?")
    for reply in (first, second):
        reply.assert_well_formed()
        assert reply.last["type"] == "end" and reply.last["usage"]["output_tokens"] > 0
    assert "1,550원" in second.text  # Seoul's fare: the city came from the first turn
    assert any("서울" in raw for raw in second.raw)  # UTF-8 on the wire, not \uXXXX escapes
    sent = [
        r
        for r in stack.emulator.requests
        if r.body["messages"][-1]["content"][0]["text"] == "그럼 지하철 요금은?"
    ]
    messages = sent[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [m["content"][0]["text"] for m in messages[:2]] == ["서울 여행 추천해줘", first.text]


async def test_history_after_reconnect_is_the_streamed_text_newest_first(serve):
    served = await serve()
    token = await served.login("지수")
    async with served.connect(token) as ws:
        first = await ask(ws, "h1", "부산 맛집 알려줘")
    async with served.connect(token) as ws:  # a new connection: memory lives in history
        second = await ask(ws, "h2", "그럼 날씨는?")
    assert "부산은 겨울이" in second.text

    status, page = await served.history(token, limit=1)
    assert status == 200 and [i["request_id"] for i in page["items"]] == ["h2"]
    status, older = await served.history(token, limit=1, cursor=page["cursor"])
    assert status == 200 and older["cursor"] is None
    for item, reply in ((page["items"][0], second), (older["items"][0], first)):
        assert item["answer"] == reply.text and item["status"] == "completed"
        assert "user_id" not in item


# -- interruptions and redelivery -------------------------------------------------------


async def test_client_gone_mid_answer_stops_generation_and_saves_the_partial(serve):
    served = await serve()
    token = await served.login("gone")
    async with served.connect(token) as ws:
        await ws.send(
            json.dumps(
                {"type": "chat", "request_id": "g1", "text": "!rate 50 !long 2000 제주 이야기"}
            )
        )
        reply = await receive(
            ws, Reply("g1"), lambda r: sum(f["type"] == "delta" for f in r.own) >= 3
        )
    # The socket is closed: the next post answers 410 Gone and the handler stops.
    turn = await served.turn(token, "g1", "interrupted")
    assert turn["answer"].startswith(reply.text)
    assert len(turn["answer"]) < 1000, "stopped early, not generated to the end (~2000 chars)"


async def test_a_redelivered_request_id_is_answered_once_and_replayed(serve, stack):
    served = await serve()
    token = await served.login("redo")
    chat = json.dumps(
        {"type": "chat", "request_id": "d1", "text": "!rate 100 !long 200 경주 이야기"}
    )
    calls = len(stack.emulator.requests)
    async with served.connect(token) as ws:
        await ws.send(chat)
        await ws.send(chat)  # redelivered while the first is still streaming
        both = await receive(
            ws,
            Reply("d1"),
            lambda r: {"end", "error"} <= {f["type"] for f in r.own},
        )
        (busy,) = [f for f in both.own if f["type"] == "error"]
        assert busy["code"] == "busy"
        await ws.send(chat)  # redelivered after it was answered
        replay = await receive(ws, Reply("d1"), finished)
    replay.assert_well_formed()
    assert replay.last["type"] == "end" and replay.last["replayed"] is True
    answered = Reply("d1", [r for r in both.raw if json.loads(r)["type"] != "error"])
    assert replay.text == answered.text
    assert len(stack.emulator.requests) == calls + 1
    assert [i["request_id"] for i in await served.items(token)] == ["d1"]


async def test_a_long_delta_is_split_into_frames_of_at_most_32_kb(serve, monkeypatch):
    monkeypatch.setenv("CHATKIT_MAX_OUTPUT_TOKENS", "20000")  # room for a > 32 KB answer
    served = await serve()
    token = await served.login("long")
    async with served.connect(token) as ws:
        streamed = await ask(ws, "s1", "!rate 0 !long 14000 서울 이야기")
        replayed = await ask(ws, "s1", "!rate 0 !long 14000 서울 이야기")  # one ~36 KB delta
    deltas = [f for f in replayed.own if f["type"] == "delta"]
    assert replayed.last["replayed"] is True and len(deltas) >= 2
    assert max(len(raw.encode()) for raw in streamed.raw + replayed.raw) <= 32 * 1024
    assert replayed.text == streamed.text
    assert len(streamed.text.encode()) > 32 * 1024  # really more than one frame's worth
    (item,) = await served.items(token)
    assert item["answer"] == streamed.text


@pytest.mark.slow
async def test_a_reply_longer_than_the_integration_timeout_still_completes(serve):
    served = await serve(integration_timeout=1.5)
    token = await served.login("slow")
    async with served.connect(token) as ws:
        reply = await ask(ws, "t1", "!slow-first 2 !rate 100 서울 여행 추천해줘")
    timeouts = [i for i, f in enumerate(reply.frames) if f.get("message") == TIMED_OUT]
    assert len(timeouts) == 1
    assert timeouts[0] < len(reply.frames) - 1 and reply.last["type"] == "end"
    reply.assert_well_formed()
    assert "경복궁" in reply.text
    assert (await served.turn(token, "t1", "completed"))["answer"] == reply.text


# -- bad and hostile input ---------------------------------------------------------------


async def test_malformed_and_hostile_messages_get_clear_errors_and_nothing_breaks(serve):
    served = await serve()
    token = await served.login("tester")
    victim = await served.login("victim")
    nfd_question = unicodedata.normalize("NFD", "가" * 5000)  # 10,000 code points, 5,000 after NFC
    html = "<img src=x onerror=alert(1)>&amp;"
    async with served.connect(token) as ws:
        errors = []
        for body in (
            "{not json",
            json.dumps({"type": "dance", "request_id": "b1"}),
            json.dumps({"type": "chat", "request_id": "b2"}),
            json.dumps(
                {"type": "chat", "request_id": "b3", "text": "가" * 8001}, ensure_ascii=False
            ),
            json.dumps({"type": "chat", "request_id": "b4 <bad id>", "text": "안녕"}),
            "[1, 2]",
        ):
            await ws.send(body)
            errors.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        await ws.send('{"type": "ping"}')
        pong = json.loads(await asyncio.wait_for(ws.recv(), 10))
        long_ok = await ask(ws, "n1", nfd_question)
        hostile = await ask(
            ws, "x1", html, user_id="victim", extra={"nested": [1, None]}, role="admin"
        )
    codes = [(e["type"], e["code"], e["request_id"]) for e in errors]
    assert codes == [
        ("error", "bad_request", None),
        ("error", "bad_request", "b1"),
        ("error", "bad_request", "b2"),
        ("error", "too_long", "b3"),
        ("error", "bad_request", None),
        ("error", "bad_request", None),
    ]
    for error in errors:
        assert "(" in error["message"] and "Traceback" not in error["message"]
        assert any("가" <= ch <= "힣" for ch in error["message"])  # Korean, English alongside
    assert pong == {"type": "pong"}
    assert long_ok.last["type"] == "end" and hostile.last["type"] == "end"

    # Markup is text: verbatim in the JSON frames (not escaped into entities or \u003c, not
    # dropped), wherever the answer was cut into frames.
    assert html in hostile.text
    for raw in hostile.raw:
        frame = json.loads(raw)
        assert "&lt;" not in raw and "\\u003c" not in raw.lower()
        if frame["type"] == "delta":
            assert json.dumps(frame["text"], ensure_ascii=False) in raw
    items = {i["request_id"]: i for i in await served.items(token)}
    assert set(items) == {"n1", "x1"}  # errors stored nothing
    assert items["n1"]["question"] == unicodedata.normalize("NFC", nfd_question)
    assert items["x1"]["question"] == html and items["x1"]["answer"] == hostile.text
    assert await served.items(victim) == []  # the body's user_id changed nothing


async def test_another_users_token_cannot_read_or_write_this_users_history(serve):
    served = await serve()
    alice, bob = await served.login("alice"), await served.login("bob")
    async with served.connect(alice) as alice_ws, served.connect(bob) as bob_ws:
        await alice_ws.send(
            json.dumps(
                {"type": "chat", "request_id": "a1", "text": "!rate 40 !long 120 서울 이야기"}
            )
        )
        alice_reply = await receive(
            alice_ws, Reply("a1"), lambda r: any(f["type"] == "delta" for f in r.own)
        )
        # Bob tries to stop Alice's answer and to write under her request id and name.
        await bob_ws.send(json.dumps({"type": "stop", "request_id": "a1", "user_id": "alice"}))
        bob_reply = await ask(bob_ws, "a1", "부산 여행 추천해줘", user_id="alice")
        await receive(alice_ws, alice_reply, finished)
    assert alice_reply.last["type"] == "end" and alice_reply.last["stop_reason"] == "end_turn"
    assert bob_reply.last["type"] == "end" and "replayed" not in bob_reply.last

    (alice_item,) = await served.items(alice)
    assert alice_item["status"] == "completed" and alice_item["answer"] == alice_reply.text
    (bob_item,) = await served.items(bob)
    assert bob_item["answer"] == bob_reply.text and "부산" in bob_item["answer"]

    status, page = await served.history(alice, limit=1)
    assert status == 200
    assert (await served.history(bob, cursor=page["cursor"]))[0] == 400  # cursors are per user
    forged = alice.rsplit(".", 1)[0] + "." + bob.rsplit(".", 1)[1]
    for token in (None, "garbage", forged):
        status, body = await served.history(token)
        assert status == 401 and body["code"] == "unauthorized"
        with pytest.raises(InvalidStatus) as refused:
            async with served.connect(token):
                pass
        assert refused.value.response.status_code == 401


# -- the benchmarks stay runnable (tiny versions; the real runs are `python -m benchmarks.…`) --


async def test_relay_benchmark_tiny_run_sends_far_fewer_bytes_than_the_seed():
    from benchmarks import relay as bench

    tokens = bench.demo_tokens(300)
    gateway = Gateway({"$default": bench.relay_handler(tokens)}, port=0, web_root=None)
    await asyncio.to_thread(gateway.start)
    try:
        ours, seed = [
            await bench.measure(gateway.ws_url, name, 0.0, "".join(tokens))
            for name in ("ours", "seed")
        ]
    finally:
        await asyncio.to_thread(gateway.stop)
    assert seed.bytes > 20 * ours.bytes and seed.frames > ours.frames


@pytest.mark.slow
async def test_concurrency_benchmark_tiny_run_has_no_errors(serve, stack):
    from benchmarks import concurrency as bench

    served = await serve()
    through_gateway = await bench.through_serve(served.gateway.url, 5)
    alone = await asyncio.to_thread(bench.emulator_alone, stack.env, 5)
    for timings in (through_gateway, alone):
        assert timings.errors == [] and len(timings.last) == 5
        assert all(
            0 < first <= last for first, last in zip(timings.first, timings.last, strict=True)
        )
