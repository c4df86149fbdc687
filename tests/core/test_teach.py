"""Every grader accepts the reference solution (notebooks/solutions/solutions.py) and
rejects a wrong answer with a hint; ``strict=True`` raises instead of printing."""

from __future__ import annotations

import json
import uuid

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from teach_runs import BUILD

from chatkit import Turn
from chatkit.events import Delta, End, Error, Latency, Start, Usage
from chatkit.memory import build_context, count_message_tokens
from chatkit.schema import HISTORY_TABLE
from chatkit.teach import GRADERS, check

ANSWERS = BUILD.solutions()


def solution(notebook: str, cell: str, **names) -> dict:
    """The names a solved exercise cell defines, run with the notebook's earlier names."""
    namespace = {
        "SystemMessage": SystemMessage,
        "HumanMessage": HumanMessage,
        "count_message_tokens": count_message_tokens,
        "turn_messages": lambda turn: [HumanMessage(turn.question), AIMessage(turn.answer)],
        "build_context": build_context,
        "PK": HISTORY_TABLE.partition_key,
        "SK": HISTORY_TABLE.sort_key,
        "uuid": uuid,
        "Turn": Turn,
        **dict(Start=Start, Delta=Delta, End=End, Error=Error, Usage=Usage, Latency=Latency),
        **names,
    }
    exec(ANSWERS[notebook][cell], namespace)
    return namespace


def graded(name, answer, capsys, **given) -> str:
    """Grade a wrong answer: False and a printed bilingual hint; strict raises it."""
    assert check(name, answer, **given) is False
    printed = capsys.readouterr().out
    assert printed.startswith(f"✗ {name}:") and "(" in printed, printed
    with pytest.raises(AssertionError, match=name):
        check(name, answer, strict=True, **given)
    return printed


def test_every_grader_has_a_test():
    tested = {name.removeprefix("test_").rsplit("__", 1)[0] for name in globals()}
    assert set(GRADERS) <= tested, set(GRADERS) - tested


def test_unknown_grader_names_the_known_ones():
    with pytest.raises(ValueError, match="context_builder"):
        check("no-such-grader", None)


# -- 01 -------------------------------------------------------------------------------


def test_stream_stats(capsys):
    assert check("stream_stats", solution("01_bedrock_streaming", "ex-stats")["stream_stats"])


def test_stream_stats__rejects_wrong_answers(capsys):
    def seconds(arrivals, tokens):  # ms forgotten
        return {"ttft_ms": arrivals[0], "tokens_per_s": tokens / (arrivals[-1] - arrivals[0])}

    def whole_time(arrivals, tokens):  # divides by the time since the request
        return {"ttft_ms": arrivals[0] * 1000, "tokens_per_s": tokens / arrivals[-1]}

    assert "× 1000" in graded("stream_stats", seconds, capsys)
    assert "마지막 − 첫 도착" in graded("stream_stats", whole_time, capsys)
    assert "아직 작성하지" in graded("stream_stats", _unfinished, capsys)


def test_slow_first_token(capsys):
    assert check("slow_first_token", 1512.3, mode="offline", delay_s=1.5)
    assert check("slow_first_token", None, mode="aws", delay_s=1.5)  # offline only: skipped


def test_slow_first_token__rejects_wrong_answers(capsys):
    given = {"mode": "offline", "delay_s": 1.5}
    assert "1500 ms" in graded("slow_first_token", 1.51, capsys, **given)  # seconds, not ms
    assert "아직 작성하지" in graded("slow_first_token", None, capsys, **given)


def _unfinished(*args, **kwargs):
    raise NotImplementedError


# -- 02 -------------------------------------------------------------------------------


def test_context_builder(capsys):
    my_context = solution("02_memory", "ex-context")["my_context"]
    assert check("context_builder", my_context) is True
    assert capsys.readouterr().out == "✓ context_builder: 통과 (passed)\n"


def test_context_builder__rejects_wrong_answers(capsys):
    def stub(turns, question, *, system_prompt, budget):
        return [SystemMessage(system_prompt), HumanMessage(question)]

    def everything(turns, question, *, system_prompt, budget):  # ignores budget and status
        pairs = [
            m for t in reversed(turns) for m in (HumanMessage(t.question), AIMessage(t.answer))
        ]
        return [SystemMessage(system_prompt), *pairs, HumanMessage(question)]

    def no_error_filter(turns, question, *, system_prompt, budget):
        kept = [Turn(t.user_id, t.request_id, t.question, t.answer) for t in turns]
        return build_context(kept, question, system_prompt=system_prompt, budget=budget)

    assert "최신 턴부터" in graded("context_builder", stub, capsys)
    assert "실패한 턴" in graded("context_builder", everything, capsys)
    assert "실패한 턴" in graded("context_builder", no_error_filter, capsys)

    assert "아직 작성하지" in graded("context_builder", _unfinished, capsys)


TURNS = [
    Turn("u", "t3", "그럼 지하철 요금은?", "서울 지하철 기본요금은 1,550원쯤이에요."),
    Turn("u", "t2", "서울 맛집도 알려줘", "광장시장 빈대떡과 김밥이 인기예요.", status="error"),
    Turn("u", "t1", "서울 여행 추천해줘", "경복궁과 북촌 한옥마을을 추천해요."),
    Turn("u", "t0", "안녕", "안녕하세요!"),
]
GIVEN = {"turns": TURNS, "question": "고마워", "system_prompt": "친절하게"}


def test_budget_keeps_newest(capsys):
    turns_newest_first = [Turn("u", "t4", "제주 날씨는?", "바람", status="error"), *TURNS]
    answer = solution(
        "02_memory",
        "ex-budget",
        turns_newest_first=turns_newest_first,
        question="고마워",
        settings=type("S", (), {"system_prompt": "친절하게"}),
    )["budget_only_t3"]
    assert check("budget_keeps_newest", answer, **GIVEN) is True


def test_budget_keeps_newest__rejects_wrong_answers(capsys):
    assert "더 작게" in graded("budget_keeps_newest", 4000, capsys, **GIVEN)
    assert "더 크게" in graded("budget_keeps_newest", 10, capsys, **GIVEN)
    assert "정수" in graded("budget_keeps_newest", "100", capsys, **GIVEN)


# -- 03 -------------------------------------------------------------------------------


def test_conditional_claim(settings, capsys):
    my_claim = solution("03_dynamodb_history", "ex-claim")["my_claim"]
    assert check("conditional_claim", my_claim, settings=settings) is True


def test_conditional_claim__rejects_wrong_answers(settings, capsys):
    def unconditional(client, table, user, request_id):
        client.put_item(
            TableName=table, Item={"user_id": {"S": user}, "sk": {"S": "R#" + request_id}}
        )
        return True

    def read_then_write(client, table, user, request_id):
        key = {"user_id": {"S": user}, "sk": {"S": "R#" + request_id}}
        if client.get_item(TableName=table, Key=key).get("Item"):
            return False
        client.put_item(TableName=table, Item=key)
        return True

    def uncaught(client, table, user, request_id):
        client.put_item(
            TableName=table,
            Item={"user_id": {"S": user}, "sk": {"S": "R#" + request_id}},
            ConditionExpression="attribute_not_exists(sk)",
        )
        return True

    def wrong_key(client, table, user, request_id):
        return solution("03_dynamodb_history", "ex-claim")["my_claim"](
            client, table, user, "X" + request_id
        )

    assert "ConditionExpression" in graded(
        "conditional_claim", unconditional, capsys, settings=settings
    )
    assert "ConditionalCheckFailed" in graded(
        "conditional_claim", uncaught, capsys, settings=settings
    )
    assert "'R#'" in graded("conditional_claim", wrong_key, capsys, settings=settings)
    assert "조건부 쓰기 하나로" in graded(
        "conditional_claim", read_then_write, capsys, settings=settings
    )


def test_paginated_read(settings, capsys):
    my_pages = solution("03_dynamodb_history", "ex-pages")["my_pages"]
    assert check("paginated_read", my_pages, settings=settings) is True


def test_paginated_read__rejects_wrong_answers(settings, capsys):
    my_pages = solution("03_dynamodb_history", "ex-pages")["my_pages"]

    def first_page_only(client, table, user, limit):
        return my_pages(client, table, user, limit)[:1]

    def oldest_first(client, table, user, limit):
        return [page[::-1] for page in my_pages(client, table, user, limit)[::-1]]

    def endless(client, table, user, limit):
        pages = []
        while len(pages) < 1000:
            response = client.query(
                TableName=table,
                KeyConditionExpression="user_id = :u",
                ExpressionAttributeValues={":u": {"S": user}},
                Limit=limit,
            )
            pages.append([item["sk"]["S"] for item in response["Items"]])
        return pages

    def everything(client, table, user, limit):  # markers too, not just turns
        response = client.query(
            TableName=table,
            KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": user}},
            ScanIndexForward=False,
        )
        return [[item["sk"]["S"]] for item in response["Items"]]

    assert "첫 페이지뿐" in graded("paginated_read", first_page_only, capsys, settings=settings)
    assert "ScanIndexForward" in graded("paginated_read", oldest_first, capsys, settings=settings)
    assert "ExclusiveStartKey" in graded("paginated_read", endless, capsys, settings=settings)
    assert "T#" in graded("paginated_read", everything, capsys, settings=settings)


# -- 04 -------------------------------------------------------------------------------


def mini(settings):
    return solution("04_chat_session", "ex-mini", settings=settings)["mini_astream"]


def test_mini_session(session, capsys):
    assert check("mini_session", mini(session.settings), session=session) is True
    assert check("mini_session_errors", mini(session.settings), session=session) is True


def test_mini_session__rejects_wrong_answers(session, capsys):
    async def no_memory(session_, user, text):  # context without the earlier turns
        async for event in mini(session.settings)(_NoHistory(session_), user, text):
            yield event

    async def unsaved(session_, user, text):
        yield Start("r", "m", "")
        yield Delta("r", "안녕")
        yield End("r", "end_turn", Usage(), Latency())

    def not_async(session_, user, text):
        return [Start("r", "m", "")]

    assert "ChatSession" in graded("mini_session", no_memory, capsys, session=session)
    assert "저장되지" in graded("mini_session", unsaved, capsys, session=session)
    assert "비동기 생성기" in graded("mini_session", not_async, capsys, session=session)


def test_mini_session_errors__rejects_wrong_answers(session, capsys):
    async def no_except(session_, user, text):  # the stream's exception escapes
        request_id = uuid.uuid4().hex
        claim = session_.history.claim(user, request_id)
        yield Start(request_id, "m", claim.created_at)
        async for chunk in session_.model.astream(text):
            yield Delta(request_id, chunk.text)

    printed = graded("mini_session_errors", no_except, capsys, session=session)
    assert "오류" in printed or "Error" in printed


class _NoHistory:
    """The session, but ``history.recent`` forgets everything (a builder without memory)."""

    def __init__(self, session):
        self._session = session
        self.history = _Forgetful(session.history)

    def __getattr__(self, name):
        return getattr(self._session, name)


class _Forgetful:
    def __init__(self, history):
        self._history = history

    def recent(self, user, limit=50):
        return []

    def __getattr__(self, name):
        return getattr(self._history, name)


def test_stored_error_turn(session, capsys):
    user = f"teach-test-{uuid.uuid4().hex[:8]}"
    events = list(session.stream(user, "!rate 0 !fail-after 2 부산"))
    assert events[-1].type == "error"
    failed = next(turn for turn in session.history.recent(user) if turn.status == "error")
    assert check("stored_error_turn", failed, session=session, user=user) is True


def test_stored_error_turn__rejects_wrong_answers(session, capsys):
    user = f"teach-test-{uuid.uuid4().hex[:8]}"
    list(session.stream(user, "!rate 0 안녕"))
    completed = session.history.recent(user)[0]
    elsewhere = Turn(user, "never-stored", "?", "부분", status="error")
    given = {"session": session, "user": user}
    assert "아직 작성하지" in graded("stored_error_turn", None, capsys, **given)
    assert "'error'" in graded("stored_error_turn", completed, capsys, **given)
    assert "기록에 없습니다" in graded("stored_error_turn", elsewhere, capsys, **given)


# -- 05 -------------------------------------------------------------------------------


def relay_solution():
    from chatkit.aws.relay import ConnectionGone
    from chatkit.protocol import FrameWriter

    names = {"FrameWriter": FrameWriter, "ConnectionGone": ConnectionGone}
    return solution("05_websocket_backend", "ex-relay", **names)["mini_relay"]


def test_relay_frames(capsys):
    assert check("relay_frames", relay_solution()) is True


def test_relay_gone(capsys):
    from chatkit.aws.relay import ConnectionGone

    assert check("relay_gone", relay_solution(), gone=ConnectionGone) is True


def test_relay_frames__rejects_wrong_answers(capsys):
    from chatkit.protocol import FrameWriter

    async def every_token(events, post, *, request_id, clock, interval=0.05):
        writer = FrameWriter(request_id)
        async for event in events:
            post(
                writer.frame(
                    event.to_dict()
                    if event.type != "delta"
                    else {"type": "delta", "text": event.text}
                )
            )
        return "completed"

    async def no_flush(events, post, *, request_id, clock, interval=0.05):
        writer, waiting, last = FrameWriter(request_id), "", None
        async for event in events:
            if event.type == "delta":
                waiting += event.text
                if last is None or clock() - last >= interval:
                    post(writer.frame({"type": "delta", "text": waiting}))
                    waiting, last = "", clock()
            else:
                post(writer.frame(event.to_dict()))
        return "completed"

    assert "interval" in graded("relay_frames", every_token, capsys)
    assert "끝 프레임 전에" in graded("relay_frames", no_flush, capsys)


def test_relay_gone__rejects_wrong_answers(capsys):
    from chatkit.aws.relay import ConnectionGone

    mini = relay_solution()

    async def keeps_reading(events, post, *, request_id, clock, interval=0.05):
        outcome = "completed"
        async for event in events:
            try:
                post(json.dumps(event.to_dict()))
            except ConnectionGone:
                outcome = "gone"
        return outcome

    async def never_gone(events, post, *, request_id, clock, interval=0.05):
        await mini(events, post, request_id=request_id, clock=clock, interval=interval)
        return "completed"

    assert "aclose" in graded("relay_gone", keeps_reading, capsys, gone=ConnectionGone)
    assert "'gone'" in graded("relay_gone", never_gone, capsys, gone=ConnectionGone)


def test_predicted_frames(capsys):
    answer = solution("05_websocket_backend", "ex-predict")["predicted"]
    assert check("predicted_frames", answer, tokens=24, step=0.03, interval=0.1) is True


def test_predicted_frames__rejects_wrong_answers(capsys):
    given = {"tokens": 24, "step": 0.03, "interval": 0.1}
    assert "더 적게" in graded("predicted_frames", 24, capsys, **given)
    assert "더 많이" in graded("predicted_frames", 1, capsys, **given)
    assert "아직 작성하지" in graded("predicted_frames", None, capsys, **given)


# -- 06 -------------------------------------------------------------------------------


def hand_built_panel():
    import ipywidgets as widgets

    transcript = widgets.VBox([widgets.HTML("안녕")])
    send, stop = widgets.Button(description="send"), widgets.Button(description="stop")
    panel = widgets.VBox([transcript, widgets.HBox([widgets.Textarea(), send, stop])])
    return widgets, panel, transcript, (send, stop)


def test_panel_button(capsys):
    widgets, panel, transcript, keep = hand_built_panel()
    names = {"widgets": widgets, "transcript": transcript, "handmade_panel": panel}
    solution("06_chat_panel", "ex-button", **names)
    assert check("panel_button", panel, transcript=transcript, keep=keep) is True
    assert [child.value for child in transcript.children] == ["안녕"], "the grader restores it"


def test_panel_button__rejects_wrong_answers(capsys):
    widgets, panel, transcript, keep = hand_built_panel()
    given = {"transcript": transcript, "keep": keep}
    assert "새 버튼이 없습니다" in graded("panel_button", panel, capsys, **given)
    row = panel.children[1]
    row.children = (*row.children, widgets.Button(description="does nothing"))
    assert "대화창이 그대로" in graded("panel_button", panel, capsys, **given)


def test_interrupted_answers(capsys):
    answer = solution("06_chat_panel", "ex-interrupted")["interrupted_answers"]
    assert check("interrupted_answers", answer) is True


def test_interrupted_answers__rejects_wrong_answers(capsys):
    def any_role(messages):
        return [m["text"] for m in messages if m["status"] == "interrupted"]

    assert "assistant" in graded("interrupted_answers", any_role, capsys)
    assert "아직 작성하지" in graded("interrupted_answers", lambda messages: None, capsys)
