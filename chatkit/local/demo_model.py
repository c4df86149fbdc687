"""The deterministic Korean demo model served by the local Bedrock emulator (pure, no I/O).

It answers in Korean from a tiny knowledge table, always starts with a ``[데모 모델]`` label,
and *uses the conversation history it receives* (places and names mentioned in earlier user
turns), so memory can be seen working offline. Test directives at the start of the last user
message change how the emulator streams (see :func:`parse_directives`):

- ``!rate TPS`` tokens per second (``0`` = no delay); ``!long N`` an answer of about N
  characters; ``!slow-first S`` S seconds before the first token;
- ``!throttle``: ``ThrottlingException`` (HTTP 429) before any event;
- ``!fail-after N``: an in-stream error after N deltas, ``modelStreamErrorException``
  unless ``!fail-as KIND`` picks another of Bedrock's in-stream errors (see
  :data:`STREAM_ERRORS`): ``model``, ``internal``, ``throttling``, ``unavailable``,
  ``validation``; ``!fail-as`` alone fails before the first delta.

Example::

    >>> model = DemoModel()
    >>> history = [
    ...     {"role": "user", "content": [{"text": "서울 여행 추천해줘"}]},
    ...     {"role": "assistant", "content": [{"text": "..."}]},
    ...     {"role": "user", "content": [{"text": "그럼 지하철 요금은?"}]},
    ... ]
    >>> reply = model.reply(history)
    >>> reply.text.startswith("[데모 모델]") and "서울" in reply.text
    True
    >>> "".join(reply.tokens) == reply.text
    True
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_LONG_CHARS = 100_000
"""``!long N`` is clamped to this many characters."""

LABEL = "데모 모델"

# --------------------------------------------------------------------------------------
# Directives
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directives:
    """Test directives found at the start of a user message.

    ``None`` means "not given" (the emulator then uses its defaults).

    Example::

        >>> Directives(rate=0.0).rate
        0.0
    """

    long: int | None = None
    rate: float | None = None
    slow_first: float | None = None
    throttle: bool = False
    fail_after: int | None = None
    fail_as: str | None = None

    @property
    def any(self) -> bool:
        """True when at least one directive was given."""
        return self != Directives()

    @property
    def stream_error(self) -> tuple[int, str] | None:
        """``(deltas before the error, exception type)``, or None for a normal stream."""
        if self.fail_after is None and self.fail_as is None:
            return None
        return self.fail_after or 0, STREAM_ERRORS[self.fail_as or "model"]


def _parse_count(raw: str) -> int | None:
    if not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def _parse_seconds(raw: str) -> float | None:
    if not re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", raw):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


STREAM_ERRORS: dict[str, str] = {
    "model": "modelStreamErrorException",
    "internal": "internalServerException",
    "throttling": "throttlingException",
    "unavailable": "serviceUnavailableException",
    "validation": "validationException",
}
"""``!fail-as KIND`` → the ConverseStream union member Bedrock sends mid-stream."""


def _parse_kind(raw: str) -> str | None:
    return raw.lower() if raw.lower() in STREAM_ERRORS else None


_VALUE_DIRECTIVES = {
    "long": ("long", _parse_count),
    "rate": ("rate", _parse_seconds),
    "slow-first": ("slow_first", _parse_seconds),
    "fail-after": ("fail_after", _parse_count),
    "fail-as": ("fail_as", _parse_kind),
}
_FLAG_DIRECTIVES = {"throttle": "throttle"}
_DIRECTIVE_RE = re.compile(r"\s*!([A-Za-z][A-Za-z-]*)(?=\s|$)")
_VALUE_RE = re.compile(r"\s+(\S+)")


def parse_directives(text: str) -> tuple[Directives, str]:
    """Read directives at the start of ``text``; return them and the rest of the text.

    Directives: ``!long N``, ``!rate TPS``, ``!slow-first S``, ``!throttle``,
    ``!fail-after N``, ``!fail-as KIND`` (any number, any order, separated by spaces).
    Parsing stops at the first word that is not a well-formed directive; that word and
    everything after it is the text. A later repeat of a directive wins. Never raises.

    Example::

        >>> parse_directives("!rate 1000 !long 2000 서울 이야기")
        (Directives(long=2000, rate=1000.0, slow_first=None, throttle=False, fail_after=None, fail_as=None), '서울 이야기')
        >>> parse_directives("!fail-after 2 !fail-as throttling 안녕")[0].stream_error
        (2, 'throttlingException')
        >>> parse_directives("!long abc 안녕")[1]
        '!long abc 안녕'
    """  # noqa: E501
    values: dict[str, Any] = {}
    pos = 0
    while True:
        match = _DIRECTIVE_RE.match(text, pos)
        if match is None:
            break
        name = match.group(1).lower()
        if name in _FLAG_DIRECTIVES:
            values[_FLAG_DIRECTIVES[name]] = True
            pos = match.end()
            continue
        if name not in _VALUE_DIRECTIVES:
            break
        value_match = _VALUE_RE.match(text, match.end())
        if value_match is None:
            break
        attr, parse = _VALUE_DIRECTIVES[name]
        value = parse(value_match.group(1))
        if value is None:
            break
        values[attr] = value
        pos = value_match.end()
    if not values:
        return Directives(), text
    if values.get("long") is not None:
        values["long"] = min(values["long"], MAX_LONG_CHARS)
    return Directives(**values), text[pos:].lstrip()


# --------------------------------------------------------------------------------------
# Tokenisation
# --------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"[ \t]?(?:[가-힣ㄱ-ㅎㅏ-ㅣ]{1,2}|[A-Za-z]{1,4}|[0-9]{1,3}|[^\sA-Za-z0-9가-힣ㄱ-ㅎㅏ-ㅣ])|\s+"
)


def tokenize(text: str) -> list[str]:
    """Split text into small model-like pieces (1–3 characters, a space joins the next piece).

    Example::

        >>> tokenize("서울 지하철")
        ['서울', ' 지하', '철']
    """
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        end = match.end() if match is not None and match.end() > pos else pos + 1
        tokens.append(text[pos:end])
        pos = end
    return tokens


# --------------------------------------------------------------------------------------
# Knowledge (small, data-like, clearly demo)
# --------------------------------------------------------------------------------------

PLACES: dict[str, tuple[str, ...]] = {
    "서울": ("서울",),
    "부산": ("부산", "해운대", "광안리"),
    "제주": ("제주", "한라산", "서귀포"),
    "경주": ("경주", "불국사", "석굴암"),
}

# Checked in this order: the first topic with a matching keyword wins ("맛집 추천" → food).
TOPICS: dict[str, tuple[str, ...]] = {
    "교통": ("지하철", "교통", "요금", "버스", "택시", "전철", "이동", "가는 법", "기차"),
    "음식": ("음식", "맛집", "먹", "요리", "식당", "간식"),
    "날씨": ("날씨", "기온", "우산", "더워", "더운", "추워", "추운", "계절"),
    "여행": ("여행", "관광", "명소", "가볼", "구경", "추천", "코스", "일정", "놀러"),
}

KNOWLEDGE: dict[str, dict[str, str]] = {
    "서울": {
        "여행": "오전엔 경복궁과 북촌 한옥마을, 저녁엔 남산서울타워 야경을 보는 코스가 무난해요.",
        "교통": "서울 지하철 기본요금은 교통카드로 1,550원쯤이고 멀리 가면 추가 요금이 붙어요. "
        "30분 안에 갈아타면 환승 할인이 돼요.",
        "음식": "광장시장 빈대떡과 김밥, 을지로 골목의 평양냉면이 인기예요.",
        "날씨": "서울은 여름이 덥고 습하며 겨울엔 영하로 내려가요. 봄과 가을이 다니기 좋아요.",
    },
    "부산": {
        "여행": "해운대와 광안리 바다, 감천문화마을, 바닷가 절 해동용궁사를 둘러보세요.",
        "교통": "부산 지하철은 1~4호선이 있고 기본요금은 교통카드로 1,600원쯤이에요. "
        "해운대는 2호선이 편해요.",
        "음식": "돼지국밥과 밀면, 자갈치시장 생선구이, 씨앗호떡을 맛보세요.",
        "날씨": "부산은 겨울이 비교적 포근하고, 여름엔 태풍 소식을 꼭 확인하세요.",
    },
    "제주": {
        "여행": "성산일출봉 해돋이, 한라산 영실 코스, 협재 해변을 추천해요.",
        "교통": "제주에는 지하철이 없어요. 버스(기본요금 1,150원쯤)나 렌터카, 택시로 다녀요.",
        "음식": "흑돼지 구이, 고기국수, 갈치조림, 그리고 제철 귤을 드셔 보세요.",
        "날씨": "제주는 바람이 세고 날씨가 자주 바뀌어요. 얇은 겉옷을 챙기세요.",
    },
    "경주": {
        "여행": "불국사와 석굴암, 대릉원, 밤의 동궁과 월지를 묶은 코스가 인기예요.",
        "교통": "경주에는 지하철이 없어요. 시내버스나 자전거, 택시로 유적지를 다니고 "
        "KTX는 신경주역에 서요.",
        "음식": "황남빵, 찰보리빵, 쌈밥 정식이 유명해요.",
        "날씨": "경주는 여름에 꽤 덥고 겨울은 건조해요. 벚꽃 피는 4월 초가 특히 예뻐요.",
    },
}
"""Demo facts: ``KNOWLEDGE[place][topic]`` (plausible, not authoritative)."""

FILLER: tuple[str, ...] = (
    "여행 계획은 하루에 두세 곳만 넣어야 여유가 생겨요.",
    "이동 시간은 지도 앱 예상보다 조금 넉넉하게 잡는 편이 좋아요.",
    "현지 시장에 들르면 그 지역의 음식과 분위기를 한 번에 느낄 수 있어요.",
    "사진은 해가 뜬 직후나 지기 직전에 찍으면 색이 부드럽게 나와요.",
    "교통카드 하나면 대부분의 도시에서 버스와 지하철을 함께 탈 수 있어요.",
    "유명한 곳은 평일 오전에 가면 훨씬 한적해요.",
    "숙소는 역이나 터미널 가까이에 잡으면 짐을 옮기기 편해요.",
    "날씨가 바뀌기 쉬운 계절에는 얇은 옷을 여러 겹 입는 게 좋아요.",
    "걷는 시간이 길어지니 편한 신발을 꼭 챙기세요.",
    "작은 골목의 오래된 가게가 뜻밖의 맛집인 경우가 많아요.",
    "박물관이나 유적지는 쉬는 날이 있으니 미리 확인해 두세요.",
    "이 문장들은 긴 답변을 시험하려고 만든 데모 문장이에요.",
)

_FOOTNOTE = "(데모용 예시 정보예요.)"
_MENU = "서울·부산·제주·경주의 여행, 교통, 음식, 날씨를 물어보세요."

_NAME_STATEMENT_RE = re.compile(
    r"(?:내|제|나의|저의)\s*이름은\s*([가-힣A-Za-z]+?)"
    r"(?:이에요|예요|입니다|이야|야|이라고|라고|이고|임)?(?=[\s.!?,~]|$)"
    r"|my name is\s+([A-Za-z]+)",
    re.IGNORECASE,
)
_NAME_QUESTION_WORDS = ("뭐", "무엇", "알아", "기억", "뭔지", "누구")
_GREETING_RE = re.compile(r"^\s*(?:안녕|하이|hello|hi\b)", re.IGNORECASE)


# --------------------------------------------------------------------------------------
# Reply
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoReply:
    """One answer of the demo model.

    ``tokens`` concatenate to ``text`` exactly; ``stop_reason`` is ``"end_turn"`` or
    ``"max_tokens"`` (when ``max_tokens`` cut the answer).

    Example::

        >>> reply = DemoModel().reply([{"role": "user", "content": [{"text": "안녕"}]}])
        >>> reply.usage["outputTokens"] == len(reply.tokens)
        True
    """

    text: str
    tokens: list[str]
    stop_reason: str
    input_tokens: int
    directives: Directives = field(default_factory=Directives)
    model_id: str | None = None

    @property
    def output_tokens(self) -> int:
        """Number of generated tokens (``len(tokens)``)."""
        return len(self.tokens)

    @property
    def usage(self) -> dict[str, int]:
        """Bedrock-shaped usage: ``inputTokens``, ``outputTokens``, ``totalTokens``."""
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
        }


def message_text(message: Mapping[str, Any]) -> str:
    """Join the text blocks of one Converse message (non-text blocks are ignored).

    Example::

        >>> message_text({"role": "user", "content": [{"text": "가"}, {"image": {}}, {"text": "나"}]})
        '가\\n나'
    """  # noqa: E501
    return _blocks_text(message.get("content"))


def _blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, Iterable):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, Mapping) and isinstance(block.get("text"), str)
    ]
    return "\n".join(parts)


def _find_place(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for place, aliases in PLACES.items():
        for alias in aliases:
            index = text.find(alias)
            if index >= 0 and (best is None or index < best[0]):
                best = (index, place)
    return best[1] if best else None


def _find_topic(text: str) -> str | None:
    for topic, words in TOPICS.items():
        if any(word in text for word in words):
            return topic
    return None


def _find_name(text: str) -> str | None:
    match = _NAME_STATEMENT_RE.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def _is_name_question(text: str) -> bool:
    if _find_name(text) is not None:
        return False
    if "내가 누구" in text or "제가 누구" in text:
        return True
    return "이름" in text and any(word in text for word in _NAME_QUESTION_WORDS)


def _shorten(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class DemoModel:
    """Deterministic rule-based Korean model (same input → same output).

    Example::

        >>> model = DemoModel()
        >>> first = [{"role": "user", "content": [{"text": "내 이름은 민수야"}]}]
        >>> later = first + [
        ...     {"role": "assistant", "content": [{"text": "반가워요"}]},
        ...     {"role": "user", "content": [{"text": "내 이름이 뭐야?"}]},
        ... ]
        >>> "민수" in model.reply(later).text
        True
        >>> "민수" in model.reply(later[-1:]).text
        False
    """

    def label(self, model_id: str | None = None) -> str:
        """The label every answer starts with, e.g. ``[데모 모델 · my-model]``."""
        return f"[{LABEL} · {model_id}]" if model_id else f"[{LABEL}]"

    def reply(
        self,
        messages: Sequence[Mapping[str, Any]],
        system: Any = None,
        *,
        max_tokens: int | None = None,
        model_id: str | None = None,
    ) -> DemoReply:
        """Answer the last user message of ``messages`` (Converse format).

        ``system`` is a list of ``{"text": ...}`` blocks (or a string); it only counts
        towards the input tokens. ``max_tokens`` truncates the answer
        (``stop_reason="max_tokens"``).
        """
        last_index = max(
            (i for i, m in enumerate(messages) if m.get("role") == "user"), default=None
        )
        raw_question = message_text(messages[last_index]) if last_index is not None else ""
        directives, question = parse_directives(raw_question)
        earlier_user = [
            parse_directives(message_text(m))[1]
            for m in (messages[:last_index] if last_index is not None else [])
            if m.get("role") == "user"
        ]
        label = self.label(model_id)
        if directives.long is not None:
            body = self._long_body(directives.long, question, earlier_user, len(label) + 1)
        else:
            body = self._body(question, earlier_user)
        text = f"{label} {body}".rstrip()
        if directives.long is not None and len(text) > directives.long * 1.1:
            text = text[: max(directives.long, len(label))].rstrip()

        tokens = tokenize(text)
        stop_reason = "end_turn"
        if max_tokens is not None and max_tokens < len(tokens):
            tokens = tokens[: max(max_tokens, 0)]
            text = "".join(tokens)
            stop_reason = "max_tokens"

        inputs = [_blocks_text(system)] + [message_text(m) for m in messages]
        input_tokens = max(1, sum(len(tokenize(t)) for t in inputs))
        return DemoReply(
            text=text,
            tokens=tokens,
            stop_reason=stop_reason,
            input_tokens=input_tokens,
            directives=directives,
            model_id=model_id,
        )

    # -- answer bodies -------------------------------------------------------------------

    def _body(self, question: str, earlier: list[str]) -> str:
        turns = len(earlier)
        known_name = next((n for n in map(_find_name, reversed(earlier)) if n), None)

        name = _find_name(question)
        if name is not None:
            return f"반가워요, {name} 님! 이 대화 안에서 이름을 기억해 둘게요."
        if _is_name_question(question):
            if known_name:
                return f"앞에서 알려 주신 이름은 {known_name} 님이에요."
            return (
                "아직 이름을 알려 주신 적이 없어서 모르겠어요. "
                f"제가 받은 이전 대화 {turns}턴 안에는 이름이 없어요."
            )

        place = _find_place(question)
        topic = _find_topic(question)
        carried_place = None
        if place is None and topic is not None:
            carried_place = next((p for p in map(_find_place, reversed(earlier)) if p), None)
        if place is not None and topic is None:
            topic = next((t for t in map(_find_topic, reversed(earlier)) if t), "여행")

        if place is not None and topic is not None:
            return f"{place} {topic} 정보예요. {KNOWLEDGE[place][topic]} {_FOOTNOTE}"
        if carried_place is not None and topic is not None:
            return (
                f"앞에서 이야기한 {carried_place} 기준으로 알려 드릴게요. "
                f"{KNOWLEDGE[carried_place][topic]} {_FOOTNOTE}"
            )
        if topic is not None:
            places = ", ".join(PLACES)
            return f"어느 지역의 {topic} 정보가 궁금하신가요? {places} 중에서 골라 주세요."
        if _GREETING_RE.match(question):
            who = f", {known_name} 님" if known_name else ""
            return f"안녕하세요{who}! 저는 오프라인 데모 모델이에요. {_MENU}"

        asked = f"“{_shorten(question)}”" if question.strip() else "빈 메시지"
        last_place = next((p for p in map(_find_place, reversed(earlier)) if p), None)
        follow = f" 앞에서 이야기한 {last_place} 이야기를 이어 가도 좋아요." if last_place else ""
        return (
            f"{asked}에 대한 데모 답변이에요. 저는 정해진 규칙으로만 답해서 자세히 알지 못해요. "
            f"지금까지 이전 대화 {turns}턴을 받았어요.{follow} {_MENU}"
        )

    def _long_body(self, target: int, question: str, earlier: list[str], used: int) -> str:
        place = _find_place(question) or next(
            (p for p in map(_find_place, reversed(earlier)) if p), None
        )
        facts = [KNOWLEDGE[place][t] for t in TOPICS] if place else []
        start = zlib.crc32(question.encode("utf-8")) % len(FILLER)
        pool = facts + [FILLER[(start + i) % len(FILLER)] for i in range(len(FILLER))]
        parts = [f"요청하신 약 {target}자 분량의 긴 데모 답변이에요."]
        length = used + len(parts[0])
        index = 0
        while length < target:
            sentence = pool[index % len(pool)]
            sep = "\n\n" if index % 5 == 4 else " "
            parts.append(sep + sentence)
            length += len(sep) + len(sentence)
            index += 1
        return "".join(parts)
