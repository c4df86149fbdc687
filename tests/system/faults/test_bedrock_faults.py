"""Bedrock failing before and during the stream, through the real backend: the handlers'
botocore client retries throttling and 5xx with backoff and jitter (standard mode,
``CHATKIT_MAX_ATTEMPTS`` calls in all), then the client gets a clear error frame and the
turn is stored with status ``error`` — with the partial answer when the stream broke.
"""

from __future__ import annotations

import json

from backend_client import Reply, ask, receive
from fault_proxy import UNAVAILABLE, fail_times

from chatkit.aws_clients import bedrock_runtime_client
from chatkit.config import Settings

ATTEMPTS = 3  # keeps the backoff (≤ 1 + 2 s, jittered) short in CI


def _asked(emulator, text: str) -> int:
    return sum(r.body["messages"][-1]["content"][0]["text"] == text for r in emulator.requests)


def test_model_calls_retry_in_standard_mode_with_jittered_backoff():
    retries = bedrock_runtime_client(Settings(max_attempts=ATTEMPTS)).meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": ATTEMPTS}


async def test_throttling_is_retried_then_reported_and_stored_as_error(serve, stack, monkeypatch):
    monkeypatch.setenv("CHATKIT_MAX_ATTEMPTS", str(ATTEMPTS))
    served = await serve()
    token = await served.login("throttled")
    text = "!throttle 서울 여행 추천해줘"
    async with served.connect(token) as ws:
        reply = await ask(ws, "t1", text)
    reply.assert_well_formed()
    assert reply.last["code"] == "throttled" and reply.text == ""
    assert "잠시 후" in reply.last["message"] and "Traceback" not in reply.last["message"]
    assert _asked(stack.emulator, text) == ATTEMPTS
    turn = await served.turn(token, "t1", "error")
    assert turn["error_code"] == "throttled" and turn["answer"] == ""


async def test_a_5xx_before_the_stream_is_retried_and_the_answer_completes(proxies, serve):
    proxies.bedrock.rule = fail_times(
        ATTEMPTS - 1, UNAVAILABLE, lambda operation, body: operation == "ConverseStream"
    )
    served = await serve()
    token = await served.login("unavailable")
    async with served.connect(token) as ws:
        reply = await ask(ws, "u1", "!rate 0 부산 맛집 알려줘")
    assert reply.last["type"] == "end" and "부산" in reply.text
    assert proxies.bedrock.calls["ConverseStream"] == ATTEMPTS
    assert proxies.bedrock.injected == ATTEMPTS - 1
    assert (await served.turn(token, "u1", "completed"))["answer"] == reply.text


async def test_5xx_on_every_attempt_ends_as_throttled_after_the_budget(proxies, serve, monkeypatch):
    monkeypatch.setenv("CHATKIT_MAX_ATTEMPTS", str(ATTEMPTS))
    proxies.bedrock.rule = fail_times(
        100, UNAVAILABLE, lambda operation, body: operation == "ConverseStream"
    )
    served = await serve()
    token = await served.login("down")
    async with served.connect(token) as ws:
        reply = await ask(ws, "d1", "부산 맛집 알려줘")
    assert reply.last["type"] == "error" and reply.last["code"] == "throttled"
    assert proxies.bedrock.calls["ConverseStream"] == ATTEMPTS
    assert (await served.turn(token, "d1", "error"))["answer"] == ""


async def test_a_stream_that_breaks_keeps_the_partial_answer_and_tells_the_client(serve, stack):
    served = await serve()
    token = await served.login("broken")
    text = "!rate 0 !fail-after 5 제주 이야기"
    async with served.connect(token) as ws:
        await ws.send(json.dumps({"type": "chat", "request_id": "f1", "text": text}))
        reply = await receive(ws, Reply("f1"), lambda r: r.own and r.last["type"] == "error")
    reply.assert_well_formed()
    assert reply.last["code"] == "model_error" and "(" in reply.last["message"]
    assert reply.text.startswith("[데모 모델")  # five deltas reached the client
    assert _asked(stack.emulator, text) == 1  # an in-stream exception is not retried
    turn = await served.turn(token, "f1", "error")
    assert turn["answer"] == reply.text and turn["error_code"] == "model_error"
