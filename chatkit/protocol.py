"""The WebSocket wire protocol, sans I/O: parse client messages, turn session events into
frames (``seq``, ≤ 32 KB, ``ensure_ascii=False``) and coalesce deltas.

Nothing here touches a socket or a clock of its own, so the Lambda relay, the local
gateway and the tests share it::

    >>> parse_client_message('{"type":"chat","request_id":"r1","text":"안녕"}')
    ChatMessage(request_id='r1', text='안녕')
    >>> frames = FrameWriter("r1")
    >>> frames.frame({"type": "delta", "text": "안녕"})
    '{"type": "delta", "text": "안녕", "request_id": "r1", "seq": 0}'
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .errors import ChatError, ErrorCode

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_MESSAGE_BYTES",
    "ChatMessage",
    "DeltaCoalescer",
    "FrameWriter",
    "PingMessage",
    "ProtocolError",
    "SignOutMessage",
    "StopMessage",
    "parse_client_message",
    "parse_json",
    "validate_question",
]

#: API Gateway's WebSocket frame limit.
MAX_FRAME_BYTES = 32_000  # a little under the 32 KB (32,768 bytes) limit
#: API Gateway's WebSocket message limit (a message may span frames); bodies over it are
#: refused before parsing.
MAX_MESSAGE_BYTES = 128 * 1024
#: Longest question accepted by default (characters after NFC; DESIGN.md's limit) and its
#: UTF-8 bytes (8,000 Hangul syllables are 24,000 bytes): the Settings defaults.
MAX_TEXT_CHARS = Settings.max_question_chars
MAX_TEXT_BYTES = Settings.max_question_bytes
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ProtocolError(ChatError):
    """A client message we cannot act on; ``request_id`` is None if it was unreadable."""

    def __init__(
        self,
        code: ErrorCode,
        hint: str | None = None,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, hint, retry_after=retry_after)
        self.request_id = request_id


@dataclass(frozen=True)
class ChatMessage:
    request_id: str
    text: str


@dataclass(frozen=True)
class StopMessage:
    request_id: str


@dataclass(frozen=True)
class PingMessage:
    pass


@dataclass(frozen=True)
class SignOutMessage:
    """``{"type": "sign_out"}``: the token this connection was opened with stops working
    (every token of its sign-in), then the connection is closed."""


ClientMessage = ChatMessage | StopMessage | PingMessage | SignOutMessage


def parse_json(raw: str | bytes | None) -> Any:
    """``json.loads`` that fails only with :class:`ProtocolError` (``bad_request``): also
    for nesting too deep to parse (a ``RecursionError``) and bytes that are not UTF-8.

    >>> parse_json('{"type": "ping"}')
    {'type': 'ping'}
    """
    try:
        return json.loads(raw or "")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "JSON이 아닙니다. (Not JSON.)") from None


def parse_client_message(
    raw: str | bytes | None,
    *,
    max_text_chars: int = MAX_TEXT_CHARS,
    max_text_bytes: int = MAX_TEXT_BYTES,
) -> ClientMessage:
    """Parse one client frame; unknown fields are ignored (a ``user_id`` in the body changes
    nothing — identity comes from the connection). A body over :data:`MAX_MESSAGE_BYTES`
    is refused unread. Raises :class:`ProtocolError`."""
    size = len(raw.encode() if isinstance(raw, str) else raw or b"")
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LONG,
            f"메시지는 최대 {MAX_MESSAGE_BYTES:,}바이트입니다. "
            f"(A message is at most {MAX_MESSAGE_BYTES:,} bytes.)",
        )
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "JSON 객체여야 합니다. (Expected an object.)")
    kind = data.get("type")
    if kind == "ping":
        return PingMessage()
    if kind == "sign_out":
        return SignOutMessage()
    request_id = data.get("request_id")
    valid_id = isinstance(request_id, str) and _REQUEST_ID.match(request_id)
    rid = request_id if valid_id else None
    if kind not in ("chat", "stop"):
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, "알 수 없는 type 입니다. (Unknown message type.)", request_id=rid
        )
    if not valid_id:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            "request_id가 필요합니다 (영숫자 1–128자). "
            "(request_id is required: 1–128 letters, digits, ._:-)",
        )
    if kind == "stop":
        return StopMessage(request_id)
    try:
        text = validate_question(data.get("text"), max_text_chars, max_text_bytes)
    except ChatError as err:
        raise ProtocolError(err.code, err.hint, request_id=rid) from None
    return ChatMessage(request_id, text)


def validate_question(
    text: object, max_chars: int = MAX_TEXT_CHARS, max_bytes: int = MAX_TEXT_BYTES
) -> str:
    """The question to answer: NFC, stripped, 1 to ``max_chars`` characters and at most
    ``max_bytes`` of UTF-8, else :class:`ChatError` (``bad_request``, ``too_long``). The one
    home of the rule: the wire protocol, ``ChatSession`` and the notebook panel all call it
    (with ``settings.max_question_chars`` and ``settings.max_question_bytes``).

    >>> validate_question("  안녕 ")
    '안녕'
    >>> validate_question("가" * 9, max_chars=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    chatkit.errors.ChatError: 메시지가 너무 깁니다. ... 최대 8자, 지금 9자. ...
    """
    if not isinstance(text, str) or not text.strip():
        raise ChatError(ErrorCode.BAD_REQUEST, "질문이 비어 있습니다. (The question is empty.)")
    question = unicodedata.normalize("NFC", text).strip()
    try:
        size = len(question.encode())
    except UnicodeEncodeError:  # a lone surrogate, which a JSON escape can carry
        raise ChatError(
            ErrorCode.BAD_REQUEST,
            "질문에 잘못된 유니코드(짝 없는 서로게이트)가 있습니다. "
            "(The question holds invalid Unicode: a lone surrogate.)",
        ) from None
    if len(question) > max_chars:
        raise ChatError(
            ErrorCode.TOO_LONG,
            f"최대 {max_chars:,}자, 지금 {len(question):,}자. "
            f"(At most {max_chars:,} characters; it has {len(question):,}.)",
        )
    if size > max_bytes:
        raise ChatError(
            ErrorCode.TOO_LONG,
            f"질문은 UTF-8로 최대 {max_bytes:,}바이트, 지금 {size:,}바이트. "
            f"(At most {max_bytes:,} bytes of UTF-8; it has {size:,}.)",
        )
    return question


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


def _escaped_bytes(ch: str) -> int:
    """UTF-8 bytes of ``ch`` inside a JSON string (quotes, backslashes, controls escaped)."""
    if " " <= ch <= "~":
        return 2 if ch in '"\\' else 1
    return len(_dumps({"": ch}).encode()) - 8  # minus the bytes of '{"": ""}'


class FrameWriter:
    """Frames of one request: adds ``request_id`` and an increasing ``seq``; splits a delta
    whose frame would exceed ``max_bytes`` into several delta frames."""

    def __init__(self, request_id: str | None, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.request_id = request_id
        self.max_bytes = max_bytes
        self.seq = 0

    def frame(self, data: dict[str, Any]) -> str:
        """One frame (must fit; use :meth:`frames` for deltas of any size)."""
        out = _dumps({**data, "request_id": self.request_id, "seq": self.seq})
        self.seq += 1
        return out

    def frames(self, data: dict[str, Any]) -> list[str]:
        """``data`` as frames ≤ ``max_bytes``; a long delta text becomes several deltas."""
        if data.get("type") != "delta":
            return [self.frame(data)]
        whole = _dumps({**data, "request_id": self.request_id, "seq": self.seq})
        if len(whole) * 4 <= self.max_bytes or len(whole.encode()) <= self.max_bytes:
            self.seq += 1  # it fits (the usual case): no need to measure it char by char
            return [whole]
        empty = {**data, "text": "", "request_id": self.request_id, "seq": 10**12}
        budget = self.max_bytes - len(_dumps(empty).encode())
        return [
            self.frame({**data, "text": piece}) for piece in _split_json_text(data["text"], budget)
        ]


def _split_json_text(text: str, budget: int) -> list[str]:
    pieces, start, used = [], 0, 0
    for index, ch in enumerate(text):
        size = _escaped_bytes(ch)
        if used + size > budget:
            pieces.append(text[start:index])
            start, used = index, 0
        used += size
    pieces.append(text[start:])
    return pieces


class DeltaCoalescer:
    """Gathers streamed text into few sends — the one coalescer of every face (the relay's
    WebSocket frames, the panel's and ``%%chat``'s display updates): the first piece goes
    out at once, later ones when ``interval`` seconds have passed since the last release or
    ``max_bytes`` (UTF-8) are waiting (``None``: no size rule). Sans I/O: pass ``now`` to
    each call, or give a ``clock`` to read instead.

    >>> c = DeltaCoalescer(interval=0.05, max_bytes=1024)
    >>> c.push("안", now=0.0), c.push("녕", now=0.01), c.due(now=0.01)
    ('안', None, 0.04)
    >>> c.push("하", now=0.06)
    '녕하'
    >>> c.flush(now=0.07) is None     # nothing waits
    True
    """

    def __init__(
        self,
        interval: float = 0.05,
        max_bytes: int | None = 1024,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.interval = interval
        self.max_bytes = max_bytes
        self._clock = clock
        self._buffer: list[str] = []
        self._bytes = 0
        self._last_flush: float | None = None

    @property
    def pending(self) -> str:
        """Text gathered but not released yet."""
        return "".join(self._buffer)

    def push(self, text: str, now: float | None = None) -> str | None:
        """Add ``text``; returns everything waiting if it should be sent now, else None."""
        if text:
            self._buffer.append(text)
            if self.max_bytes is not None:
                self._bytes += len(text.encode())
        if not self._buffer:
            return None
        now = self._now(now)
        if (
            self._last_flush is None
            or now - self._last_flush >= self.interval
            or (self.max_bytes is not None and self._bytes >= self.max_bytes)
        ):
            return self.flush(now)
        return None

    def due(self, now: float | None = None) -> float | None:
        """Seconds until the waiting text must be released; None when nothing waits."""
        if not self._buffer:
            return None
        if self._last_flush is None:
            return 0.0
        return max(0.0, self._last_flush + self.interval - self._now(now))

    def flush(self, now: float | None = None) -> str | None:
        """Release everything waiting (the timer fired, or the answer ended); None if
        nothing waits."""
        if not self._buffer:
            return None
        self._last_flush = self._now(now)
        text, self._buffer, self._bytes = "".join(self._buffer), [], 0
        return text

    def _now(self, now: float | None) -> float:
        if now is not None:
            return now
        if self._clock is None:
            raise TypeError("pass now= or give the DeltaCoalescer a clock")
        return self._clock()
