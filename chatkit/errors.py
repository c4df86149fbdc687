"""Stable error codes with messages for people (Korean first, English alongside).

Codes are part of the wire protocol (DESIGN.md). Tracebacks and AWS error text never
reach a user; they go to the logs. This module is the one home of the texts: the web client
gets them from the server (each ``error`` frame's ``message``, and :func:`error_texts` in
its ``config.js`` for the codes stored in history)::

    >>> err = ChatError(ErrorCode.THROTTLED)
    >>> err.code.value, err.message.startswith("요청이 많아")
    ('throttled', True)
    >>> error_texts()["not_saved"] == ChatError(ErrorCode.NOT_SAVED).message
    True
"""

from __future__ import annotations

from enum import Enum

__all__ = ["ChatError", "ErrorCode", "error_texts"]


class ErrorCode(str, Enum):
    """The error codes of the wire protocol; values are what clients see."""

    BAD_REQUEST = "bad_request"
    TOO_LONG = "too_long"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    HISTORY_FULL = "history_full"
    THROTTLED = "throttled"
    MODEL_ACCESS = "model_access"
    MODEL_ERROR = "model_error"
    TIMEOUT = "timeout"
    NOT_SAVED = "not_saved"
    INTERNAL = "internal"


_MESSAGES: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.BAD_REQUEST: ("요청 형식이 올바르지 않습니다.", "The request is malformed."),
    ErrorCode.TOO_LONG: ("메시지가 너무 깁니다.", "The message is too long."),
    ErrorCode.UNAUTHORIZED: ("로그인이 필요합니다.", "Please sign in."),
    ErrorCode.RATE_LIMITED: (
        "요청이 너무 잦습니다. 잠시 후 다시 시도해 주세요.",
        "Too many requests; please wait a moment.",
    ),
    ErrorCode.BUSY: (
        "이미 답변을 생성하고 있습니다. 끝난 뒤에 다시 보내 주세요.",
        "An answer is already being generated; send again when it is done.",
    ),
    ErrorCode.HISTORY_FULL: (
        "대화 기록이 가득 찼습니다. 기록을 초기화(reset)한 뒤 다시 시도해 주세요.",
        "The conversation history is full; reset it, then try again.",
    ),
    ErrorCode.THROTTLED: (
        "요청이 많아 잠시 후 다시 시도해 주세요.",
        "The model is busy (throttled); please retry shortly.",
    ),
    ErrorCode.MODEL_ACCESS: (
        "모델을 사용할 수 없습니다. 모델 액세스와 모델 ID를 확인하세요.",
        "The model cannot be used; check model access and the model id.",
    ),
    ErrorCode.MODEL_ERROR: (
        "답변을 생성하는 중에 모델 오류가 발생했습니다.",
        "The model failed while generating the answer.",
    ),
    ErrorCode.TIMEOUT: ("응답 시간이 초과되었습니다.", "The request timed out."),
    ErrorCode.NOT_SAVED: (
        "답변을 기록에 저장하지 못했습니다.",
        "The answer could not be saved to history.",
    ),
    ErrorCode.INTERNAL: ("일시적인 내부 오류가 발생했습니다.", "An internal error occurred."),
}


class ChatError(Exception):
    """An error with a stable ``code`` and a user-safe bilingual ``message``.

    ``hint`` is an optional extra sentence for people (e.g. how to fix model access);
    ``retry_after`` (seconds) goes with ``rate_limited``.
    """

    def __init__(
        self, code: ErrorCode, hint: str | None = None, *, retry_after: float | None = None
    ) -> None:
        self.code = ErrorCode(code)
        self.hint = hint
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def message(self) -> str:
        ko, en = _MESSAGES[self.code]
        text = f"{ko} ({en})"
        return f"{text} {self.hint}" if self.hint else text


def error_texts() -> dict[str, str]:
    """The message of every code (``{"throttled": "요청이 많아 … (…)"}``), for clients that
    show a code without a message (the web client's stored turns)."""
    return {code.value: ChatError(code).message for code in ErrorCode}
