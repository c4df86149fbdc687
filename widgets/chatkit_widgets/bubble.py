"""``MessageView``: one chat message as a small anywidget (front end in ``bubble.js``).

Each message is its own widget, so streaming touches only the current answer. While an
answer streams, only *new* text travels, as custom messages ``{"type": "delta"}``
(appended with ``textContent`` in the browser, never parsed as HTML); when it ends, one
state update carries the final sanitised HTML, the raw text (for copy), the status and
the footer. A view opened mid-answer asks for the text so far (``resync``).

    >>> MessageView.user("<b>안녕</b>").html           # shown as text, tags visible
    '<div class="chatkit-plain" dir="auto">&lt;b&gt;안녕&lt;/b&gt;</div>'
    >>> answer = MessageView.streaming("안녕")
    >>> answer.receive("**반가워요**")
    >>> answer.show("**반가워요**")                     # one custom message to the browser
    >>> answer.finish("completed", "첫 토큰 0.1 s")      # Markdown → sanitised HTML
    >>> answer.message
    {'role': 'assistant', 'text': '**반가워요**', 'status': 'completed'}
    >>> answer.html
    '<p dir="auto"><strong dir="auto">반가워요</strong></p>'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from ipywidgets import CallbackDispatcher

from .render import render_markdown, render_plain

__all__ = ["MessageView"]

_HERE = Path(__file__).parent


class MessageView(anywidget.AnyWidget):
    """A user question or an assistant answer (``status``: completed, streaming, …)."""

    _esm = _HERE / "bubble.js"
    _css = _HERE / "bubble.css"

    role = traitlets.Unicode("assistant").tag(sync=True)
    status = traitlets.Unicode("completed").tag(sync=True)
    #: Sanitised HTML of a finished message (render.py).
    html = traitlets.Unicode("").tag(sync=True)
    #: Raw text of a finished message (what "copy" copies).
    text = traitlets.Unicode("").tag(sync=True)
    footer = traitlets.Unicode("").tag(sync=True)
    #: Show the copy and regenerate actions.
    actions = traitlets.Bool(False).tag(sync=True)

    def __init__(self, *, question: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: For an answer: the question it answers (what "regenerate" asks again).
        self.question = question
        self._received: list[str] = []
        self._shown: list[str] = []
        self._regenerate = CallbackDispatcher()
        self.on_msg(self._on_frontend_msg)

    @classmethod
    def user(cls, text: str, **kwargs: Any) -> MessageView:
        """A question, shown exactly as typed."""
        return cls(role="user", text=text, html=render_plain(text), **kwargs)

    @classmethod
    def answer(
        cls, question: str, text: str, status: str, footer: str = "", **kwargs: Any
    ) -> MessageView:
        """A finished answer (e.g. loaded from history), built in one piece."""
        return cls(
            question=question,
            text=text,
            html=render_markdown(text),
            status=status,
            footer=footer,
            actions=True,
            **kwargs,
        )

    @classmethod
    def streaming(cls, question: str, **kwargs: Any) -> MessageView:
        """An answer about to stream."""
        return cls(question=question, status="streaming", **kwargs)

    # -- streaming ----------------------------------------------------------------------

    def receive(self, piece: str) -> None:
        """Record a piece of the answer (every delta, shown or not yet)."""
        self._received.append(piece)

    def show(self, text: str) -> None:
        """Send text to the front end: one small custom message, the view appends it."""
        self._shown.append(text)
        self.send({"type": "delta", "text": text})

    def finish(self, status: str, footer: str = "") -> None:
        """End an answer: one state update with HTML, raw text, status and footer."""
        text = "".join(self._received)
        with self.hold_sync():
            self.text = text
            self.html = render_markdown(text)
            self.footer = footer
            self.actions = True
            self.status = status

    @property
    def finished(self) -> bool:
        return self.status != "streaming"

    @property
    def message(self) -> dict[str, str]:
        """``{"role", "text", "status"}``; while streaming, the text received so far."""
        text = self.text if self.finished else "".join(self._received)
        return {"role": self.role, "text": text, "status": self.status}

    def on_regenerate(self, callback: Callable[[MessageView], Any]) -> None:
        """Call ``callback(view)`` when the regenerate action is clicked."""
        self._regenerate.register_callback(callback)

    def _on_frontend_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "resync" and not self.finished:
            self.send({"type": "reset", "text": "".join(self._shown)})
        elif kind == "regenerate":
            self._regenerate(self)
