"""ChatPanel when its endpoints fail mid-conversation: the real ChatSession talks to the
offline stack through fault proxies (real boto3 clients, real HTTP, injected AWS errors).
Each failing turn shows a clear error in its own answer; the panel stays usable and the
next question is answered with the memory of the turns that were stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from chatkit_widgets import ChatPanel
from fault_proxy import THROTTLED_WRITE, UNAVAILABLE, FaultProxy, fail_times

import chatkit.session
from chatkit.errors import ChatError, ErrorCode
from chatkit.session import ChatSession


@pytest.fixture
def proxied(stack, settings) -> Iterator[tuple[ChatSession, FaultProxy, FaultProxy]]:
    """A session whose Bedrock and DynamoDB endpoints are fault proxies (two attempts per
    call, so botocore's backoff stays under a second)."""
    bedrock = FaultProxy(stack.bedrock_url).start()
    dynamodb = FaultProxy(stack.dynamodb_url).start()
    session = ChatSession(
        settings.with_(bedrock_endpoint=bedrock.url, dynamodb_endpoint=dynamodb.url, max_attempts=2)
    )
    yield session, bedrock, dynamodb
    bedrock.stop()
    dynamodb.stop()


def _every_call(operation: str, body: dict) -> bool:
    return True


def _turn_writes(operation: str, body: dict) -> bool:
    return operation == "PutItem" and body.get("Item", {}).get("sk", {}).get("S", "")[:2] == "T#"


def _usable(panel: ChatPanel) -> bool:
    return not panel.busy and not panel.composer.disabled and panel.stop_button.disabled


async def test_failing_endpoints_fail_one_turn_each_and_memory_survives(proxied, monkeypatch):
    session, bedrock, dynamodb = proxied
    monkeypatch.setattr(chatkit.session, "SAVE_RETRY_SECONDS", 0.3)
    panel = ChatPanel(session, "fault-minsu")
    assert (await panel.send("!rate 0 내 이름은 민수야"))["status"] == "completed"

    # The model endpoint answers 503 on every attempt.
    bedrock.rule = fail_times(10**6, UNAVAILABLE, _every_call)
    failed = await panel.send("!rate 0 부산 맛집 알려줘")
    view = panel.transcript.children[-1]
    assert failed == {"role": "assistant", "text": "", "status": "error"}
    assert ChatError(ErrorCode.THROTTLED).message in view.footer and _usable(panel)
    bedrock.rule = lambda operation, body: None

    # DynamoDB answers 503 to everything: the turn cannot even start.
    dynamodb.rule = fail_times(10**6, UNAVAILABLE, _every_call)
    failed = await panel.send("!rate 0 제주 날씨는?")
    assert failed["status"] == "error"
    assert ChatError(ErrorCode.INTERNAL).message in panel.transcript.children[-1].footer
    assert _usable(panel)

    # Only the turn's save is throttled, past the budget: the whole answer is shown, and
    # the answer says it was not saved.
    dynamodb.rule = fail_times(10**6, THROTTLED_WRITE, _turn_writes)
    unsaved = await panel.send("!rate 0 경주 여행 추천해줘")
    assert unsaved["status"] == "error" and "불국사" in unsaved["text"]
    assert ChatError(ErrorCode.NOT_SAVED).message in panel.transcript.children[-1].footer
    assert _usable(panel)
    dynamodb.rule = lambda operation, body: None

    recalled = await panel.send("!rate 0 내 이름이 뭐야?")
    assert recalled["status"] == "completed" and "민수" in recalled["text"]
    stored = [(t.question, t.status) for t in reversed(session.history.recent("fault-minsu"))]
    assert stored == [
        ("!rate 0 내 이름은 민수야", "completed"),
        ("!rate 0 부산 맛집 알려줘", "error"),
        ("!rate 0 내 이름이 뭐야?", "completed"),
    ]
    assert bedrock.injected > 0 and dynamodb.injected > 0


async def test_the_model_endpoint_restarting_mid_answer_then_memory_continues(settings):
    """The Bedrock endpoint goes away while an answer streams and comes back on the same
    port (a restarted emulator, a network blip): that answer ends as an error with its
    partial text kept, and the next question — on new connections — remembers the first."""
    from chatkit.local.bedrock_emulator import BedrockEmulator

    emulator = BedrockEmulator(default_rate=0).start()
    session = ChatSession(settings.with_(bedrock_endpoint=emulator.url, max_attempts=2))
    panel = ChatPanel(session, "restart-minsu")
    try:
        assert (await panel.send("내 이름은 민수야"))["status"] == "completed"
        streaming = asyncio.ensure_future(panel.send("!rate 20 !long 600 부산 이야기"))
        await _until(lambda: len(panel.transcript.children[-1].message["text"]) > 20)
        port = emulator.port
        await asyncio.to_thread(emulator.stop)
        cut = await asyncio.wait_for(streaming, 30)
        assert cut["status"] == "error" and len(cut["text"]) > 20 and _usable(panel)
        emulator = BedrockEmulator(default_rate=0, port=port).start()
        recalled = await panel.send("내 이름이 뭐야?")
    finally:
        emulator.stop()
    assert recalled["status"] == "completed" and "민수" in recalled["text"]
    (kept,) = [t for t in session.history.recent("restart-minsu") if t.status == "error"]
    assert kept.answer == cut["text"]


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)
