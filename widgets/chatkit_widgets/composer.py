"""``Composer``: the multi-line question box and its send button (front end in
``composer.js``).

Korean IME: nothing is synced while typing; the browser sends the textarea's text in one
message when the button is clicked (which ends a composition first) or on Ctrl/Cmd+Enter
outside a composition. Plain Enter is a new line: Enter-to-send in a textarea cannot be
made IME-safe everywhere. The box is cleared only after the kernel accepted the text, and
never during a composition.

    >>> composer = Composer()
    >>> composer.on_submit(lambda text: print("보냄:", text))
    >>> composer._handle_custom_msg({"type": "send", "text": "안녕"}, [])  # what the browser sends
    보냄: 안녕
    >>> composer.disabled = True          # while an answer streams
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from ipywidgets import CallbackDispatcher

__all__ = ["Composer"]

_HERE = Path(__file__).parent


class Composer(anywidget.AnyWidget):
    """Question box; ``on_submit(callback)`` receives the text of each send."""

    _esm = _HERE / "composer.js"
    _css = _HERE / "composer.css"

    placeholder = traitlets.Unicode(
        "질문을 입력하세요 · Ctrl/Cmd+Enter로 보내기 (type a question; Ctrl/Cmd+Enter sends)"
    ).tag(sync=True)
    send_label = traitlets.Unicode("보내기 (Send)").tag(sync=True)
    #: Sending is off (an answer is streaming); typing still works.
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit = CallbackDispatcher()
        self.on_msg(self._on_frontend_msg)

    def on_submit(self, callback: Callable[[str], Any]) -> None:
        """Call ``callback(text)`` for each send from the browser."""
        self._submit.register_callback(callback)

    def accept(self) -> None:
        """Tell the browser the text was taken: it clears the box (if unchanged)."""
        self.send({"type": "accepted"})

    def _on_frontend_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "send":
            self._submit(str(content.get("text", "")))
