from __future__ import annotations

import json
import unicodedata

import pytest

from chatkit.config import Settings
from chatkit.errors import ChatError, ErrorCode
from chatkit.protocol import (
    MAX_FRAME_BYTES,
    ChatMessage,
    DeltaCoalescer,
    FrameWriter,
    PingMessage,
    ProtocolError,
    SignOutMessage,
    StopMessage,
    parse_client_message,
    validate_question,
)
from chatkit.session import ChatSession

CODES = {code.value for code in ErrorCode}


def test_parses_the_three_message_types():
    assert parse_client_message('{"type":"ping"}') == PingMessage()
    assert parse_client_message('{"type":"stop","request_id":"r1"}') == StopMessage("r1")
    chat = parse_client_message('{"type":"chat","request_id":"r-1","text":"안녕"}')
    assert chat == ChatMessage("r-1", "안녕")


def test_identity_fields_in_the_body_are_ignored():
    raw = {"type": "chat", "request_id": "r1", "text": "hi", "user_id": "someone-else"}
    assert parse_client_message(json.dumps(raw)) == ChatMessage("r1", "hi")


def test_text_is_nfc_normalised_before_the_length_check():
    decomposed = unicodedata.normalize("NFD", "가" * 8000)  # 16,000 code points as NFD
    msg = parse_client_message(json.dumps({"type": "chat", "request_id": "r", "text": decomposed}))
    assert msg.text == "가" * 8000


@pytest.mark.parametrize(
    ("raw", "code", "request_id"),
    [
        ("not json", "bad_request", None),
        (None, "bad_request", None),
        ("[1, 2]", "bad_request", None),
        ('{"type":"dance","request_id":"r9"}', "bad_request", "r9"),
        ('{"type":"chat","text":"hi"}', "bad_request", None),
        ('{"type":"chat","request_id":"bad id with spaces","text":"hi"}', "bad_request", None),
        ('{"type":"chat","request_id":"r2"}', "bad_request", "r2"),
        ('{"type":"chat","request_id":"r3","text":"   "}', "bad_request", "r3"),
        (json.dumps({"type": "chat", "request_id": "r4", "text": "가" * 8001}), "too_long", "r4"),
        # 6,001 characters but 24,004 bytes of UTF-8 (emoji are 4 bytes each)
        (
            json.dumps(
                {"type": "chat", "request_id": "r5", "text": "😀" * 6001}, ensure_ascii=False
            ),
            "too_long",
            "r5",
        ),
        # a body over API Gateway's 128 KB message limit is refused before it is parsed
        (
            json.dumps({"type": "chat", "request_id": "r6", "text": "hi", "pad": "x" * 131_100}),
            "too_long",
            None,
        ),
    ],
)
def test_bad_messages_raise_stable_codes(raw, code, request_id):
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code.value == code
    assert info.value.request_id == request_id
    assert "(" in info.value.message  # Korean with English alongside


def test_the_longest_korean_question_fits_both_caps():
    text = "가" * 8000  # 8,000 characters, 24,000 bytes: exactly at both limits
    raw = json.dumps({"type": "chat", "request_id": "r", "text": text}, ensure_ascii=False)
    assert parse_client_message(raw) == ChatMessage("r", text)
    assert parse_client_message(raw.encode()) == ChatMessage("r", text)


def test_frames_carry_request_id_and_increasing_seq_and_keep_korean():
    writer = FrameWriter("r1")
    frames = [
        json.loads(f)
        for f in (
            writer.frame({"type": "start"}),
            *writer.frames({"type": "delta", "text": "한글"}),
        )
    ]
    assert [f["seq"] for f in frames] == [0, 1]
    assert "한글" in writer.frames({"type": "delta", "text": "한글"})[0]  # not \\uXXXX


@pytest.mark.parametrize(
    "text",
    [
        "가" * 40_000,  # 120 KB of Hangul
        '"\\' * 30_000,  # characters that double when escaped
        "\x01\x02" * 20_000,  # control characters: six bytes each
        "🙂a한" * 20_000,
    ],
)
def test_big_deltas_split_into_valid_frames_under_32kb(text):
    frames = FrameWriter("r1").frames({"type": "delta", "text": text})
    assert len(frames) > 1
    assert all(len(f.encode()) <= MAX_FRAME_BYTES for f in frames)
    decoded = [json.loads(f) for f in frames]
    assert "".join(d["text"] for d in decoded) == text
    assert [d["seq"] for d in decoded] == list(range(len(frames)))


def test_coalescer_first_piece_at_once_then_by_time_or_size():
    c = DeltaCoalescer(interval=0.05, max_bytes=10)
    assert c.push("a", 0.0) == "a"
    assert c.push("b", 0.01) is None and c.push("c", 0.02) is None
    assert c.due(0.02) == pytest.approx(0.03)
    assert c.push("d", 0.05) == "bcd"
    assert c.push("가나다라", 0.06) == "가나다라"  # 12 bytes ≥ 10: size flush
    assert c.due(0.07) is None and c.flush(0.07) is None


def test_coalescer_reads_its_clock_when_no_time_is_given():
    now = [0.0]
    c = DeltaCoalescer(interval=0.05, max_bytes=None, clock=lambda: now[0])
    assert c.push("a") == "a" and c.push("가" * 5000) is None  # no size rule
    now[0] = 0.02
    assert c.due() == pytest.approx(0.03)
    now[0] = 0.05
    assert c.push("b") == "가" * 5000 + "b"
    with pytest.raises(TypeError):
        DeltaCoalescer().push("a")  # neither a time nor a clock


def test_empty_pieces_are_not_sent():
    c = DeltaCoalescer(interval=0.05)
    assert c.push("", 0.0) is None and c.due(0.0) is None
    assert c.push("a", 0.01) == "a"


def test_a_delta_frame_at_the_limit_stays_whole_one_byte_more_splits():
    writer = FrameWriter("r1")
    overhead = len(writer.frame({"type": "delta", "text": ""}).encode())  # seq 0
    fits = "가" * ((MAX_FRAME_BYTES - overhead) // 3) + "a" * ((MAX_FRAME_BYTES - overhead) % 3)
    frames = FrameWriter("r1").frames({"type": "delta", "text": fits})
    assert len(frames) == 1 and len(frames[0].encode()) == MAX_FRAME_BYTES
    frames = FrameWriter("r1").frames({"type": "delta", "text": fits + "a"})
    assert len(frames) == 2 and all(len(f.encode()) <= MAX_FRAME_BYTES for f in frames)
    assert "".join(json.loads(f)["text"] for f in frames) == fits + "a"


def test_json_nested_too_deep_is_a_bad_request_not_a_crash():
    with pytest.raises(ProtocolError) as info:
        parse_client_message("[" * 3000 + "]" * 3000)
    assert info.value.code.value == "bad_request"


def test_a_lone_surrogate_in_text_is_a_bad_request_with_its_request_id():
    raw = '{"type": "chat", "request_id": "r1", "text": "안녕 \\udc00"}'
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert (info.value.code.value, info.value.request_id) == ("bad_request", "r1")


def test_sign_out_needs_no_request_id():
    assert parse_client_message('{"type": "sign_out"}') == SignOutMessage()


# ---- one question rule: the wire, the session and (tests/widgets) the panel ----------

NFD_AT_LIMIT = unicodedata.normalize("NFD", "가" * 8000)
QUESTIONS = [
    ("  서울 여행?\n", "서울 여행?"),  # stripped
    (NFD_AT_LIMIT, "가" * 8000),  # NFC before the length check
    ("", "bad_request"),
    (" \n\t ", "bad_request"),
    ("안녕 \udc00", "bad_request"),  # a lone surrogate
    ("가" * 8001, "too_long"),
    ("😀" * 6001, "too_long"),  # 6,001 characters, 24,004 bytes
]


def _outcome(call):
    try:
        return call()
    except ChatError as err:
        return err.code.value


@pytest.mark.parametrize(("text", "expected"), QUESTIONS)
async def test_the_wire_and_the_session_apply_one_question_rule(text, expected):
    raw = json.dumps({"type": "chat", "request_id": "r1", "text": text})
    session = ChatSession(Settings(), model=object(), history=object())  # refused before use
    events = [e async for e in session.astream("민수", text, "r1")] if expected in CODES else []
    assert _outcome(lambda: parse_client_message(raw).text) == expected
    assert _outcome(lambda: validate_question(text)) == expected
    if events:  # refused: one error with the same code and text, nothing asked or stored
        assert [(e.type, e.code) for e in events] == [("error", expected)]
        with pytest.raises(ChatError) as info:
            validate_question(text)
        assert events[0].message == info.value.message


def test_the_question_limits_are_the_settings():
    small = Settings(max_question_chars=5, max_question_bytes=9)
    assert validate_question("가나다", small.max_question_chars, small.max_question_bytes)
    with pytest.raises(ChatError, match="최대 9바이트, 지금 12바이트"):
        validate_question("가나다라", small.max_question_chars, small.max_question_bytes)
    raw = json.dumps({"type": "chat", "request_id": "r", "text": "가" * 6})
    with pytest.raises(ProtocolError, match="최대 5자, 지금 6자"):
        parse_client_message(raw, max_text_chars=5)


def test_the_question_limits_are_only_handed_to_the_one_rule():
    """Outside config and protocol, ``settings.max_question_chars``/``_bytes`` are only read
    as arguments of validate_question or parse_client_message (and by webconfig, which hands
    the limit to the web client's question box): a second copy of the rule
    (``limit = settings.max_question_chars; if len(q) > limit``) would read them elsewhere."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    limits = {"max_question_chars", "max_question_bytes"}
    rule = {"validate_question", "parse_client_message"}
    elsewhere = []
    for path in sorted([*root.glob("chatkit/**/*.py"), *root.glob("widgets/**/*.py")]):
        if (
            path.name in ("config.py", "protocol.py", "webconfig.py")
            and path.parent.name == "chatkit"
        ):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        handed = {
            id(arg)
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) in rule
            for arg in [*call.args, *(k.value for k in call.keywords)]
        }
        elsewhere += [
            f"{path.relative_to(root)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in limits and id(node) not in handed
        ]
    assert elsewhere == [], elsewhere
