"""ChatPanel without a browser: the real ChatSession against the offline stack, widget
traffic counted at the comm (chatkit_widgets.testing.CommRecorder)."""

from __future__ import annotations

import asyncio
import time

import pytest
from chatkit_widgets import ChatPanel
from chatkit_widgets.bubble import MessageView
from chatkit_widgets.testing import parse_html, until
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from chatkit.history import Turn
from chatkit.session import ChatSession

LONG = "!rate 400 !long 1500 서울 이야기"  # ~700 tokens in ~1.8 s


async def test_streaming_is_coalesced_and_touches_only_the_current_answer(session, recorder):
    panel = ChatPanel(session, "minsu")
    await panel.send("!rate 0 안녕")
    first_answer = panel.transcript.children[-1]
    mark = len(recorder.messages)

    started = time.perf_counter()
    result = await panel.send(LONG)
    elapsed = time.perf_counter() - started

    answer = panel.transcript.children[-1]
    sent = recorder.of(answer, since=mark, deep=False)
    deltas = [m for m in sent if m.method == "custom"]
    tokens = session.history.page("minsu", limit=1).items[0].usage["output_tokens"]
    assert tokens > 500
    # At most one update per 0.25 s (+ the first at once); one update per token would be ~700.
    assert 3 <= len(deltas) <= elapsed / panel.interval + 2
    # Deltas carry only new text: joined, they are a prefix of the answer.
    streamed = "".join(m.data["content"]["text"] for m in deltas)
    assert result["text"].startswith(streamed) and len(streamed) > len(result["text"]) / 2
    # The end is one state update: text, html, status and footer together.
    assert [m.method for m in sent if m.method == "update"] == ["update"]
    assert result == {"role": "assistant", "text": result["text"], "status": "completed"}
    # Earlier messages are never touched again; the transcript only re-sends ids.
    assert recorder.of(first_answer, since=mark, deep=False) == []
    transcript = recorder.of(panel.transcript, since=mark, deep=False)
    assert len(transcript) == 1 and transcript[0].nbytes < 500


async def test_a_finished_answer_is_markdown_and_has_a_footer(session):
    panel = ChatPanel(session, "u")
    await panel.send("!rate 0 서울 여행 추천해줘")
    answer = panel.transcript.children[-1]
    assert answer.status == "completed" and answer.actions
    assert answer.html.startswith('<p dir="auto">') and "서울" in parse_html(answer.html).text
    assert "첫 토큰" in answer.footer and "토큰" in answer.footer and "전체" in answer.footer
    assert not panel.busy and panel.stop_button.disabled and not panel.composer.disabled


async def test_stop_keeps_the_partial_answer_marked_interrupted(session):
    panel = ChatPanel(session, "u")
    task = panel.send("!rate 50 !long 2000 부산 이야기")
    assert panel.busy and not panel.stop_button.disabled and panel.composer.disabled
    await until(lambda: len(panel.messages[-1]["text"]) > 20)

    panel.stop_button.click()
    assert panel.messages[-1]["status"] == "interrupted"  # at once, before the task ends
    result = await task
    assert task.done() and result["status"] == "interrupted"
    stored = session.history.page("u", limit=1).items[0]
    assert stored.status == "interrupted"
    assert stored.answer == result["text"] and 20 < len(result["text"]) < 2000
    assert "중단됨" in panel.transcript.children[-1].footer
    assert not panel.busy
    panel.stop()  # idle: nothing happens


async def test_regenerate_asks_the_same_question_again_as_a_new_turn(session):
    panel = ChatPanel(session, "u")
    await panel.send("!rate 0 부산 맛집 알려줘")
    first_answer = panel.transcript.children[-1]

    await panel.regenerate()
    first_answer._handle_custom_msg({"type": "regenerate"}, [])  # the button in the browser
    await panel._task

    questions = [m["text"] for m in panel.messages if m["role"] == "user"]
    assert questions == ["!rate 0 부산 맛집 알려줘"] * 3
    stored = session.history.page("u", limit=10).items
    assert [t.question for t in stored] == ["!rate 0 부산 맛집 알려줘"] * 3
    assert len({t.request_id for t in stored}) == 3


async def test_reset_clears_transcript_and_history_even_while_streaming(session):
    panel = ChatPanel(session, "u")
    other = ChatPanel(session, "someone-else")
    await panel.send("!rate 0 안녕")
    await other.send("!rate 0 안녕")
    panel.send("!rate 50 !long 2000 이야기")
    await until(lambda: panel.messages[-1]["text"])

    removed = await panel.reset()
    assert removed == 2  # the finished turn and the interrupted one (saved before the reset)
    assert panel.messages == [] and not panel.busy
    assert session.history.page("u").items == []
    assert len(session.history.page("someone-else").items) == 1
    assert "지웠어요" in panel.notice.value


async def test_reset_button(session):
    panel = ChatPanel(session, "u")
    await panel.send("!rate 0 안녕")
    panel.reset_button.click()
    await panel._task
    assert panel.messages == [] and session.history.page("u").items == []


def _save_turns(history, user: str, count: int) -> None:
    for n in range(count):
        history.save(
            Turn(user, f"r{n}", f"질문 {n}", f"답 {n}", created_at=f"2026-01-01T00:00:0{n}.000Z")
        )


async def test_history_is_loaded_on_open_and_paged_back(session):
    _save_turns(session.history, "u", 5)
    panel = ChatPanel(session, "u", history_limit=2)
    assert [m["text"] for m in panel.messages] == ["질문 3", "답 3", "질문 4", "답 4"]
    assert panel.older_button.layout.display is None  # visible: there is more

    panel.older_button.click()
    assert [m["text"] for m in panel.messages][:2] == ["질문 1", "답 1"]
    assert panel.load_older() == 1
    assert [m["text"] for m in panel.messages if m["role"] == "user"] == [
        f"질문 {n}" for n in range(5)
    ]
    assert panel.older_button.layout.display == "none"
    await panel.send("!rate 0 안녕")
    assert panel.messages[-2]["text"] == "!rate 0 안녕"  # new turns go to the end


async def test_hostile_html_in_question_and_answer_is_visible_text(session, settings):
    attack = "<img src=x onerror=alert(1)>"
    panel = ChatPanel(session, "u")
    result = await panel.send(f"!rate 0 {attack}")  # the demo model quotes the question
    question, answer = panel.transcript.children[-2:]
    assert attack in result["text"]
    for view in (question, answer):
        parsed = parse_html(view.html)
        assert attack in parsed.text
        assert all(tag not in {"img", "script"} for tag, _ in parsed.elements)

    evil = f"**굵게** {attack} <script>alert(2)</script> [x](javascript:alert(3))"
    model = GenericFakeChatModel(messages=iter([AIMessage(content=evil)]))
    fake = ChatSession(settings, model=model, history=session.history)
    live = ChatPanel(fake, "v")
    assert (await live.send("아무거나"))["text"] == evil
    reopened = ChatPanel(fake, "v")  # the same answer, loaded from history
    for view in (live.transcript.children[-1], reopened.transcript.children[-1]):
        parsed = parse_html(view.html)
        assert attack in parsed.text and "<script>alert(2)</script>" in parsed.text
        assert [tag for tag, _ in parsed.elements] == ["p", "strong"]


async def test_two_panels_for_two_users_stay_isolated(session):
    alice, bob = ChatPanel(session, "alice"), ChatPanel(session, "bob")
    await asyncio.gather(
        alice.send("!rate 0 내 이름은 민수야"), bob.send("!rate 0 내 이름은 지우야")
    )
    asked = "!rate 0 내 이름이 뭐야?"
    a, b = await asyncio.gather(alice.send(asked), bob.send(asked))
    assert "민수" in a["text"] and "지우" not in a["text"]
    assert "지우" in b["text"] and "민수" not in b["text"]
    assert not any("지우" in m["text"] for m in alice.messages)
    assert [m["text"] for m in ChatPanel(session, "bob").messages] == [
        m["text"] for m in bob.messages
    ]


async def test_composer_sends_and_refuses_while_busy(session, recorder):
    panel = ChatPanel(session, "u")
    # busy from the send on: the answer cannot stream before this test next awaits
    panel.composer._handle_custom_msg({"type": "send", "text": "!rate 50 서울"}, [])
    assert panel.busy and panel.messages[-2]["text"] == "!rate 50 서울"
    panel.composer._handle_custom_msg({"type": "send", "text": "두 번째"}, [])
    assert "still streaming" in panel.notice.value
    accepted = [m for m in recorder.of(panel.composer, deep=False) if m.method == "custom"]
    assert [m.data["content"] for m in accepted] == [{"type": "accepted"}]  # only the first
    await panel._task
    panel.composer._handle_custom_msg({"type": "send", "text": "   "}, [])
    assert "비어" in panel.notice.value and len(panel.messages) == 2


async def test_a_too_long_question_is_refused_and_stays_in_the_box(settings, recorder):
    panel = ChatPanel(ChatSession(settings.with_(max_question_chars=10)), "u")
    panel.composer._handle_custom_msg({"type": "send", "text": "가" * 11}, [])
    assert "너무 깁니다" in panel.notice.value and "too long" in panel.notice.value
    assert panel.messages == [] and not panel.busy
    sent = [m for m in recorder.of(panel.composer, deep=False) if m.method == "custom"]
    assert sent == []  # not "accepted": the browser keeps the text
    # The limit counts like the session (NFC): 10 decomposed syllables are 10 characters.
    decomposed = "가" * 10  # 가 as two jamo, ×10
    assert (await panel.send(decomposed))["status"] == "completed"


@pytest.mark.parametrize("text", ["😀" * 7, " \n ", "안녕 \udc00"])
async def test_the_panel_refuses_what_the_session_refuses_in_its_words(settings, text):
    """One rule (chatkit.protocol.validate_question), the byte limit included: 7 emoji are
    7 characters but 28 bytes."""
    session = ChatSession(settings.with_(max_question_chars=20, max_question_bytes=24))
    [refused] = [e async for e in session.astream("u", text)]
    panel = ChatPanel(session, "u")
    panel.composer._handle_custom_msg({"type": "send", "text": text}, [])
    assert refused.type == "error" and refused.message in panel.notice.value
    assert panel.messages == [] and not panel.busy


async def test_model_errors_end_the_answer_with_a_clear_footer(settings):
    panel = ChatPanel(ChatSession(settings.with_(max_attempts=1)), "u")
    result = await panel.send("!throttle 안녕")
    assert result["status"] == "error"
    assert "요청이 많아" in panel.transcript.children[-1].footer


async def test_unexpected_failures_become_an_error_message(session, monkeypatch):
    def unavailable(*args, **kwargs):
        raise ConnectionError("dynamodb is down")

    monkeypatch.setattr(session.history, "claim", unavailable)
    panel = ChatPanel(session, "u")
    result = await panel.send("안녕")
    assert result["status"] == "error" and not panel.busy
    assert "internal" in panel.transcript.children[-1].footer


async def test_send_refuses_blank_questions_and_a_second_question_meanwhile(session):
    panel = ChatPanel(session, "u")
    with pytest.raises(ValueError):
        panel.send("  ")
    task = panel.send("!rate 50 서울")
    with pytest.raises(RuntimeError, match="still streaming"):
        panel.send("또")
    await task


def test_send_needs_a_running_loop(session):
    with pytest.raises(RuntimeError, match="running event loop"):
        ChatPanel(session, "u").send("안녕")


def test_defaults_come_from_the_environment(stack, monkeypatch):
    monkeypatch.setenv("CHATKIT_USER", "jiwoo")
    panel = ChatPanel()
    assert panel.user_id == "jiwoo" and panel.session.settings.mode == "offline"
    assert "jiwoo" in panel.indicator.value and panel.session.model_id in panel.indicator.value
    assert repr(panel).startswith("ChatPanel(user_id='jiwoo'")


def test_a_view_opened_mid_answer_gets_the_text_so_far(recorder):
    view = MessageView.streaming("질문")
    view.receive("안녕")
    view.show("안녕")
    view.receive("하세")  # received, not shown yet
    view._handle_custom_msg({"type": "resync"}, [])
    assert recorder.of(view)[-1].data["content"] == {"type": "reset", "text": "안녕"}
    assert view.message == {"role": "assistant", "text": "안녕하세", "status": "streaming"}
