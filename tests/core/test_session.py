"""ChatSession end to end: real langchain-aws + boto3 against the Bedrock emulator and
the local DynamoDB."""

from __future__ import annotations

import asyncio
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest

from chatkit.errors import ChatError
from chatkit.session import ChatSession


async def _collect(session: ChatSession, user: str, text: str, request_id: str | None = None):
    return [event async for event in session.astream(user, text, request_id)]


def _answer(events) -> str:
    return "".join(e.text for e in events if e.type == "delta")


async def test_turn_streams_and_is_stored(session):
    events = await _collect(session, "minsu", "서울 여행 추천해줘", "r1")
    types = [e.type for e in events]
    assert types[0] == "start" and types[-1] == "end" and types.count("delta") >= 5
    end = events[-1]
    assert end.usage.output_tokens > 0 and end.latency.total >= end.latency.first_token >= 0
    stored = session.history.get("minsu", "r1")
    assert stored.status == "completed"
    assert stored.answer == _answer(events)
    assert stored.question == "서울 여행 추천해줘"


async def test_second_question_uses_the_first(session, stack):
    await _collect(session, "minsu", "서울 여행 추천해줘")
    events = await _collect(session, "minsu", "그럼 지하철 요금은?")
    assert "서울" in _answer(events)
    sent = stack.emulator.last_request.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]


async def test_two_users_never_share_memory_in_one_process(session, stack):
    stack.emulator.clear_requests()
    await asyncio.gather(
        _collect(session, "alice", "내 이름은 민수야"),
        _collect(session, "bob", "내 이름은 지우야"),
    )
    alice, bob = await asyncio.gather(
        _collect(session, "alice", "내 이름이 뭐야?"),
        _collect(session, "bob", "내 이름이 뭐야?"),
    )
    assert "민수" in _answer(alice) and "지우" not in _answer(alice)
    assert "지우" in _answer(bob) and "민수" not in _answer(bob)
    for request in stack.emulator.requests:
        text = str(request.body["messages"])
        assert not ("민수" in text and "지우" in text), "a request mixed two users' turns"


async def test_redelivered_request_is_answered_once(session, stack):
    first = await _collect(session, "u", "서울 여행", "dup-1")
    calls = len(stack.emulator.requests)
    again = await _collect(session, "u", "서울 여행", "dup-1")
    assert len(stack.emulator.requests) == calls, "the model must not be called again"
    assert _answer(again) == _answer(first)
    assert again[-1].type == "end" and again[-1].replayed
    assert len(session.history.page("u").items) == 1


async def test_cancelling_the_consumer_stores_the_partial_answer(session):
    received: list[str] = []

    async def consume():
        async for event in session.astream("u", "!rate 50 !long 600 이야기", "cut"):
            if event.type == "delta":
                received.append(event.text)

    task = asyncio.create_task(consume())
    while len(received) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = session.history.get("u", "cut")
    assert stored.status == "interrupted"
    assert stored.answer == "".join(received)
    assert 0 < len(stored.answer) < 600


async def test_closing_the_stream_early_stores_interrupted(session):
    stream = session.astream("u", "!rate 100 !long 300 이야기", "closed")
    async for event in stream:
        if event.type == "delta":
            break
    await stream.aclose()
    assert session.history.get("u", "closed").status == "interrupted"


async def test_mid_stream_failure_keeps_partial_answer_as_error(session):
    events = await _collect(session, "u", "!fail-after 3 서울 여행", "boom")
    assert events[-1].type == "error" and events[-1].code == "model_error"
    assert "Traceback" not in events[-1].message
    stored = session.history.get("u", "boom")
    assert stored.status == "error" and stored.error_code == "model_error"
    assert stored.answer == _answer(events) != ""


async def test_throttling_becomes_a_clear_error_and_is_stored(settings):
    session = ChatSession(settings.with_(max_attempts=1))
    events = await _collect(session, "u", "!throttle 안녕", "slow")
    assert events[-1].code == "throttled"
    assert "요청이 많아" in events[-1].message and "throttled" in events[-1].message
    assert session.history.get("u", "slow").status == "error"


@pytest.mark.parametrize(
    ("text", "code"), [("x" * 8001, "too_long"), ("   ", "bad_request"), ("", "bad_request")]
)
async def test_invalid_questions_are_rejected_and_not_stored(session, text, code):
    events = await _collect(session, "u", text, "bad")
    assert [e.type for e in events] == ["error"] and events[0].code == code
    assert session.history.get("u", "bad") is None


async def test_deltas_arrive_while_the_model_still_streams(settings, stack):
    """The first delta reaches the caller while the model is still sending: leaving right
    then, the emulator counts fewer deltas sent than the answer had (a stream buffered to
    its end could not be left early). Counts, not clocks: the answer takes about a minute."""
    session = ChatSession(settings.with_(model_id="demo.incremental"))
    stream = session.astream("u", "!rate 10 !long 1200 서울 여행 추천해줘")
    async for event in stream:
        if event.type == "delta":
            break
    await stream.aclose()
    left = await asyncio.to_thread(stack.emulator.wait_client_left, "demo.incremental")
    assert left is not None and 0 < left.sent < left.total


def test_a_long_answer_takes_a_few_thread_hops_not_one_per_chunk(session):
    """langchain-aws streams through boto3's blocking iterator; langchain's own ``astream``
    hands every chunk to the executor and back. The session reads it in one worker thread:
    the loop's executor runs only the history calls (claim, context, save)."""
    hops = []

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            hops.append(getattr(fn, "__name__", fn))
            return super().submit(fn, *args, **kwargs)

    async def answer():
        asyncio.get_running_loop().set_default_executor(Counting(4))
        return await _collect(session, "u", "!long 2000 서울 이야기", "long")

    events = asyncio.run(answer())
    deltas = [e for e in events if e.type == "delta"]
    assert events[-1].type == "end" and len(deltas) >= 500
    assert len(hops) <= 3, hops
    assert session.history.get("u", "long").answer == _answer(events)


def test_sync_stream_for_scripts(session):
    events = list(session.stream("script", "부산 맛집 알려줘"))
    assert events[-1].type == "end" and "부산" in _answer(events)


def test_reset_forgets_only_that_user(session):
    list(session.stream("a", "내 이름은 민수야"))
    list(session.stream("b", "내 이름은 지우야"))
    assert session.reset("a") == 1
    assert "민수" not in _answer(list(session.stream("a", "내 이름이 뭐야?")))
    assert "지우" in _answer(list(session.stream("b", "내 이름이 뭐야?")))


def test_reset_reads_the_user_id_as_the_turns_were_stored(session):
    """One user-id rule (chatkit.auth.validate_user_id): stripped and NFC on both paths."""
    decomposed = unicodedata.normalize("NFD", " 지우 ")
    assert list(session.stream(decomposed, "!rate 0 안녕"))[-1].type == "end"
    assert session.reset("지우") == 1
    with pytest.raises(ChatError):
        session.reset("#지우")  # refused as sign-in refuses it, nothing deleted
