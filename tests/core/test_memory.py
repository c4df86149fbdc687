from __future__ import annotations

from chatkit.history import Turn
from chatkit.memory import build_context, count_message_tokens, estimate_tokens


def _turns(n: int, size: int = 50) -> list[Turn]:
    """n turns, newest first, each question/answer about ``size`` Hangul characters."""
    return [
        Turn("u", f"r{i}", f"질문{i} " + "가" * size, f"답변{i} " + "나" * size)
        for i in reversed(range(n))
    ]


def test_estimate_tokens_counts_hangul_conservatively():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("한국어") == 3


def test_system_first_question_last_all_turns_when_they_fit():
    messages = build_context(_turns(3), "지금 질문", system_prompt="시스템", budget=10_000)
    assert [m.type for m in messages] == ["system"] + ["human", "ai"] * 3 + ["human"]
    assert messages[0].content == "시스템" and messages[-1].content == "지금 질문"
    assert messages[1].content.startswith("질문0")  # oldest kept turn comes first


def test_budget_drops_oldest_whole_turns_and_never_splits_one():
    budget = 400
    messages = build_context(_turns(20), "지금 질문", system_prompt="시스템", budget=budget)
    assert count_message_tokens(messages) <= budget
    middle = messages[1:-1]
    assert middle, "some turns should fit"
    assert [m.type for m in middle] == ["human", "ai"] * (len(middle) // 2)
    kept = [int(m.content.split()[0][2:]) for m in middle if m.type == "human"]
    assert kept == list(range(20 - len(kept), 20)), "the newest turns are the ones kept"
    for question, answer in zip(middle[::2], middle[1::2], strict=True):
        assert question.content.split()[0][2:] == answer.content.split()[0][2:]


def test_question_and_system_survive_a_tiny_budget():
    messages = build_context(_turns(5), "질문", system_prompt="시스템", budget=1)
    assert [m.type for m in messages] == ["system", "human"]


def test_failed_turns_are_left_out_interrupted_kept():
    turns = [
        Turn("u", "r2", "q2", "partial", status="interrupted"),
        Turn("u", "r1", "q1", "", status="error", error_code="throttled"),
    ]
    messages = build_context(turns, "q3", system_prompt="s", budget=1000)
    assert [m.content for m in messages] == ["s", "q2", "partial", "q3"]
