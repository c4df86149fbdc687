"""Typed events of one streamed turn: ``Start → Delta* → End | Error``.

Every face (notebook, widget, CLI, Lambda handler) consumes these and nothing else::

    >>> Delta("r1", "안녕").to_dict()
    {'type': 'delta', 'request_id': 'r1', 'text': '안녕'}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar, Literal

__all__ = ["Delta", "End", "Error", "Event", "Latency", "Start", "Usage"]

Status = Literal["completed", "interrupted", "error"]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Latency:
    """Milliseconds from the request: to the first token (None if none came) and in all."""

    first_token: int | None = None
    total: int = 0


@dataclass(frozen=True)
class Start:
    """A turn began; the JSON of every event is ``to_dict()`` (the wire frame minus ``seq``)."""

    request_id: str
    model_id: str
    created_at: str
    type: ClassVar[str] = "start"

    def to_dict(self) -> dict:
        return {
            "type": "start",
            "request_id": self.request_id,
            "model_id": self.model_id,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Delta:
    """Only the *new* text since the previous delta."""

    request_id: str
    text: str
    type: ClassVar[str] = "delta"

    def to_dict(self) -> dict:
        return {"type": "delta", "request_id": self.request_id, "text": self.text}


@dataclass(frozen=True)
class End:
    """The turn completed; ``replayed`` is True when a redelivered request was answered
    from history instead of calling the model again."""

    request_id: str
    stop_reason: str
    usage: Usage
    latency: Latency
    replayed: bool = False
    type: ClassVar[str] = "end"

    def to_dict(self) -> dict:
        return {
            "type": "end",
            "request_id": self.request_id,
            "stop_reason": self.stop_reason,
            "usage": asdict(self.usage),
            "latency_ms": {"first_token": self.latency.first_token, "total": self.latency.total},
            **({"replayed": True} if self.replayed else {}),
        }


@dataclass(frozen=True)
class Error:
    """The turn failed; ``status`` says how it was stored (``error`` or ``interrupted``)."""

    request_id: str | None
    code: str
    message: str
    status: Status = "error"
    retry_after: float | None = None
    type: ClassVar[str] = "error"

    def to_dict(self) -> dict:
        out = {
            "type": "error",
            "request_id": self.request_id,
            "code": self.code,
            "message": self.message,
        }
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


Event = Start | Delta | End | Error
