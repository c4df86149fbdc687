"""The deterministic Korean demo model: directives, memory use, length, tokens."""

from __future__ import annotations

import pytest

from chatkit.local.demo_model import (
    MAX_LONG_CHARS,
    DemoModel,
    Directives,
    parse_directives,
    tokenize,
)


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": [{"text": text}]}


@pytest.fixture
def model() -> DemoModel:
    return DemoModel()


# -- directives -------------------------------------------------------------------------


def test_no_directives_leaves_text_untouched():
    assert parse_directives("서울 여행 추천해줘") == (Directives(), "서울 여행 추천해줘")
    assert not parse_directives("안녕")[0].any


def test_all_directives_in_any_order():
    text = "!fail-after 3 !throttle !slow-first 0.5 !rate 12.5 !long 2000 !fail-as internal "
    text += "서울 이야기"
    directives, rest = parse_directives(text)
    assert directives == Directives(
        long=2000, rate=12.5, slow_first=0.5, throttle=True, fail_after=3, fail_as="internal"
    )
    assert rest == "서울 이야기"
    same, rest2 = parse_directives(
        "!fail-as internal !long 2000 !rate 12.5 !throttle !slow-first 0.5 !fail-after 3 "
        "서울 이야기"
    )
    assert same == directives and rest2 == rest


def test_rate_zero_and_repeats():
    directives, rest = parse_directives("!rate 0 !rate 7 !rate 0 hi")
    assert directives.rate == 0.0 and rest == "hi"
    assert directives.any


def test_unknown_word_stops_parsing():
    directives, rest = parse_directives("!rate 5 !foo !long 10 안녕")
    assert directives == Directives(rate=5.0)
    assert rest == "!foo !long 10 안녕"


@pytest.mark.parametrize(
    "text",
    [
        "!long abc 안녕",
        "!long -5 안녕",
        "!long 1e3 안녕",
        "!long 2,000 안녕",
        "!rate nan 안녕",
        "!rate inf 안녕",
        "!rate -1 안녕",
        "!slow-first 1s 안녕",
        "!fail-after 2.5 안녕",
        "!long",
        "!throttle서울",
        "서울 !throttle",
    ],
)
def test_malformed_directive_is_text(text):
    directives, rest = parse_directives(text)
    assert directives == Directives()
    assert rest == text


def test_malformed_after_valid_keeps_the_valid_ones():
    directives, rest = parse_directives("!throttle !rate fast 안녕")
    assert directives == Directives(throttle=True)
    assert rest == "!rate fast 안녕"


def test_directive_only_message_and_clamp():
    assert parse_directives("!throttle") == (Directives(throttle=True), "")
    assert parse_directives("!long 999999999 x")[0].long == MAX_LONG_CHARS


def test_directives_only_from_last_user_message(model):
    reply = model.reply([user("!throttle !rate 1 서울"), assistant("..."), user("부산 날씨")])
    assert reply.directives == Directives()
    reply = model.reply([user("서울"), assistant("..."), user("!fail-after 2 부산 날씨")])
    assert reply.directives == Directives(fail_after=2)
    assert "!fail-after" not in reply.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!fail-after 3 안녕", (3, "modelStreamErrorException")),
        ("!fail-as internal 안녕", (0, "internalServerException")),
        ("!fail-as THROTTLING !fail-after 1 안녕", (1, "throttlingException")),
        ("!fail-after 2 !fail-as unavailable 안녕", (2, "serviceUnavailableException")),
        ("!fail-as validation 안녕", (0, "validationException")),
        ("!fail-as model 안녕", (0, "modelStreamErrorException")),
        ("안녕", None),
    ],
)
def test_fail_as_picks_the_in_stream_error(text, expected):
    directives, rest = parse_directives(text)
    assert directives.stream_error == expected
    assert rest == "안녕"


def test_unknown_fail_kind_is_text():
    directives, rest = parse_directives("!fail-after 1 !fail-as boom 안녕")
    assert directives == Directives(fail_after=1)
    assert rest == "!fail-as boom 안녕"


# -- answers ----------------------------------------------------------------------------


def test_label_and_model_id(model):
    plain = model.reply([user("안녕")])
    assert plain.text.startswith("[데모 모델]")
    named = model.reply([user("안녕")], model_id="global.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert named.text.startswith("[데모 모델 · global.anthropic.claude-haiku-4-5-20251001-v1:0]")


def test_deterministic(model):
    messages = [user("서울 여행 추천해줘"), assistant("..."), user("그럼 지하철 요금은?")]
    first = model.reply(messages, [{"text": "system"}])
    again = DemoModel().reply([dict(m) for m in messages], [{"text": "system"}])
    assert first == again
    long_a = model.reply([user("!long 1500 제주 이야기")])
    long_b = model.reply([user("!long 1500 제주 이야기")])
    assert long_a.text == long_b.text


def test_place_answer(model):
    text = model.reply([user("부산 맛집 알려줘")]).text
    assert "부산" in text and "돼지국밥" in text


def test_follow_up_refers_back_to_earlier_place(model):
    first = model.reply([user("서울 여행 추천해줘")])
    history = [user("서울 여행 추천해줘"), assistant(first.text), user("그럼 지하철 요금은?")]
    follow_up = model.reply(history).text
    assert "앞에서 이야기한 서울" in follow_up and "서울 지하철" in follow_up

    # Without that history the model cannot know the place: it asks which one.
    alone = model.reply([user("그럼 지하철 요금은?")]).text
    assert "어느 지역" in alone
    assert "앞에서 이야기한" not in alone and "서울 지하철" not in alone


def test_most_recent_place_wins_and_topic_carries(model):
    history = [
        user("서울 여행 추천해줘"),
        assistant("..."),
        user("제주 날씨는 어때?"),
        assistant("..."),
        user("교통은?"),
    ]
    assert "제주에는 지하철이 없어요" in model.reply(history).text
    # A new place with no topic keeps the earlier topic.
    history = [user("서울 지하철 요금 알려줘"), assistant("..."), user("부산은?")]
    text = model.reply(history).text
    assert "부산" in text and "지하철" in text


def test_name_memory(model):
    history = [
        user("내 이름은 민수야"),
        assistant("반가워요"),
        user("경주 여행 추천해줘"),
        assistant("..."),
        user("내 이름이 뭐야?"),
    ]
    assert "민수" in model.reply(history).text
    assert "민수" in model.reply([user("내 이름은 민수야")]).text


def test_name_unknown_without_history(model):
    text = model.reply([user("내 이름이 뭐야?")]).text
    assert "모르" in text and "민수" not in text
    # Another user's history (not received) cannot leak in: only the given messages count.
    other = [user("서울 여행"), assistant("..."), user("내 이름 기억해?")]
    text = model.reply(other).text
    assert "모르" in text and "1턴" in text


def test_generic_fallback_mentions_question_and_turns(model):
    history = [user("안녕"), assistant("..."), user("부산 여행"), assistant("...")]
    text = model.reply([*history, user("양자역학을 설명해줘")]).text
    assert text.startswith("[데모 모델]")
    assert "양자역학을 설명해줘" in text
    assert "2턴" in text
    assert "부산" in text  # offers to continue the earlier topic


# -- length, tokens, usage ----------------------------------------------------------------


@pytest.mark.parametrize("target", [300, 2000, 5000])
def test_long_answer_length(model, target):
    reply = model.reply([user(f"!long {target} 서울 이야기")])
    assert abs(len(reply.text) - target) <= target * 0.1
    assert reply.text.startswith("[데모 모델]")
    assert sum("가" <= ch <= "힣" for ch in reply.text) > len(reply.text) / 2


def test_tokens_concatenate_to_answer(model):
    for text in ["!long 2000 경주", "서울 여행 추천해줘", "hello   world\n\n12345 🚇 ㅋㅋ"]:
        reply = model.reply([user(text)], model_id="demo.model:1")
        assert "".join(reply.tokens) == reply.text
        assert len(reply.tokens) > 10
        # small pieces: at most one leading space plus 1-4 characters (4 only for Latin)
        assert all(1 <= len(t.removeprefix(" ")) <= 4 or t.isspace() for t in reply.tokens)
    tokens = tokenize("서울 지하철 요금은?")
    assert tokens == ["서울", " 지하", "철", " 요금", "은", "?"]
    assert "".join(tokenize("a  b\t\n가나다라 ")) == "a  b\t\n가나다라 "


def test_usage(model):
    reply = model.reply(
        [user("서울 여행"), assistant("좋아요"), user("날씨는?")], [{"text": "시스템"}]
    )
    assert reply.stop_reason == "end_turn"
    assert reply.output_tokens == len(reply.tokens)
    assert reply.usage == {
        "inputTokens": reply.input_tokens,
        "outputTokens": len(reply.tokens),
        "totalTokens": reply.input_tokens + len(reply.tokens),
    }
    longer_history = [user("서울 여행"), assistant("좋아요" * 50), user("날씨는?")]
    bigger = model.reply(longer_history, [{"text": "시스템"}])
    assert bigger.input_tokens > reply.input_tokens
    with_system = model.reply(longer_history, [{"text": "긴 시스템 프롬프트" * 20}])
    assert with_system.input_tokens > bigger.input_tokens


def test_max_tokens_truncation(model):
    full = model.reply([user("서울 여행 추천해줘")])
    cut = model.reply([user("서울 여행 추천해줘")], max_tokens=5)
    assert cut.stop_reason == "max_tokens"
    assert cut.tokens == full.tokens[:5]
    assert cut.text == "".join(full.tokens[:5])
    same = model.reply([user("서울 여행 추천해줘")], max_tokens=len(full.tokens))
    assert same.stop_reason == "end_turn" and same.text == full.text


def test_robust_to_odd_messages(model):
    assert model.reply([]).text.startswith("[데모 모델]")
    odd = [{"role": "user", "content": "문자열 내용"}, {"role": "user", "content": [{"image": {}}]}]
    assert model.reply(odd).text.startswith("[데모 모델]")
