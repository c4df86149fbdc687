"""``ChatPanel``: a chat in a notebook, built from ipywidgets parts around
``ChatSession.astream``.

Layout: a header (model · user · mode, reset), "load older", the transcript (a ``VBox``
with one small widget per message), a notice line, and the question box with send and
stop. The logic is plain Python on the kernel's asyncio loop, testable without a browser:

- ``send(text)`` adds the question and an empty answer and returns the ``asyncio.Task``
  that streams into it; the cell that called it returns at once.
- Streaming updates are coalesced (``coalesce.Coalescer``, chatkit's one coalescer
  ``chatkit.protocol.DeltaCoalescer`` with the display's defaults: at most one per ``interval``,
  default 0.25 s, plus the end) and carry only new text; only the current answer's widget
  is touched. Adding a message re-sends the transcript's ``children`` list, which holds
  widget ids only, never the messages' text.
- ``stop()`` marks the answer interrupted at once and cancels the task; ``ChatSession``
  stores the partial answer as ``interrupted``.
- ``regenerate()`` asks the answer's question again as a *new* turn appended at the end
  (the first answer stays, as it stays in history).
- ``reset()`` stops, clears the transcript and deletes the user's history.
- On open, the newest turns are loaded from history; "load older" pages back with the
  cursor.

Example (in a notebook)::

    from chatkit_widgets import ChatPanel
    panel = ChatPanel()                    # offline by default: no AWS account needed
    panel                                  # shows the chat
    task = panel.send("서울 여행 추천해줘")
    await task                             # or keep working: the kernel stays free
    panel.messages[-1]                     # {'role': 'assistant', 'text': …, 'status': …}
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from chatkit.errors import ChatError
from chatkit.events import Delta, End, Error
from chatkit.history import Turn
from chatkit.protocol import validate_question
from chatkit.session import ChatSession

from .bubble import MessageView
from .coalesce import DEFAULT_INTERVAL, Coalescer
from .composer import Composer
from .defaults import default_user_id, shared_session
from .render import render_plain, sanitize

__all__ = ["ChatPanel", "footer_text"]

log = logging.getLogger(__name__)


def footer_text(
    status: str,
    first_token_ms: float | None = None,
    total_ms: float | None = None,
    output_tokens: int | None = None,
    error: str = "",
) -> str:
    """The line under an answer.

    >>> footer_text("completed", 640, 5210, 240)
    '첫 토큰 0.64 s · 전체 5.21 s · 240 토큰'
    >>> footer_text("interrupted", 300, 1200)
    '⏹ 중단됨 (interrupted) · 첫 토큰 0.30 s · 전체 1.20 s'
    """
    parts = []
    if status == "interrupted":
        parts.append("⏹ 중단됨 (interrupted)")
    elif status == "error":
        parts.append(f"⚠ 오류 (error): {error}" if error else "⚠ 오류 (error)")
    if first_token_ms is not None:
        parts.append(f"첫 토큰 {first_token_ms / 1000:.2f} s")
    if total_ms:
        parts.append(f"전체 {total_ms / 1000:.2f} s")
    if output_tokens:
        parts.append(f"{output_tokens} 토큰")
    return " · ".join(parts)


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "실행 중인 이벤트 루프가 필요합니다: Jupyter나 `async def` 안에서 쓰세요. "
            "(ChatPanel needs a running event loop: use it in Jupyter, where the kernel runs "
            "one, or inside `async def`.)"
        ) from None


class _LiveAnswer:
    """The answer being streamed: coalesces pieces into its view, times the answer."""

    def __init__(
        self, view: MessageView, coalescer: Coalescer, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.view = view
        self.coalescer = coalescer
        self.loop = loop
        self.started = time.perf_counter()
        self.first_token_ms: float | None = None
        self.stopped = False
        self._timer: asyncio.TimerHandle | None = None

    def push(self, piece: str) -> None:
        if self.view.finished:  # stopped: late pieces are not shown
            return
        if self.first_token_ms is None:
            self.first_token_ms = self._elapsed_ms()
        self.view.receive(piece)
        ready = self.coalescer.push(piece)
        if ready:
            self._cancel_timer()
            self.view.show(ready)
        elif self._timer is None:
            self._timer = self.loop.call_later(self.coalescer.due() or 0.0, self._flush)

    def finish(self, status: str, footer: str | None = None) -> None:
        """End the answer once (later calls do nothing); the final HTML holds all text."""
        if self.view.finished:
            return
        self._cancel_timer()
        self.coalescer.flush()  # the final view shows all the text
        if footer is None:
            footer = footer_text(status, self.first_token_ms, self._elapsed_ms())
        self.view.finish(status, footer)

    def _flush(self) -> None:
        self._timer = None
        if not self.view.finished and (text := self.coalescer.flush()):
            self.view.show(text)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class ChatPanel(widgets.VBox):
    """A chat for one user over any ``ChatSession`` (default: from the environment)."""

    #: True while an answer streams (or a reset runs): send is off, stop is on.
    busy = traitlets.Bool(False)

    def __init__(
        self,
        session: ChatSession | None = None,
        user_id: str | None = None,
        *,
        history_limit: int = 20,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.session = session or shared_session()
        self.user_id = user_id or default_user_id()
        self.history_limit = history_limit
        self.interval = interval
        self._task: asyncio.Task[Any] | None = None
        self._live: _LiveAnswer | None = None
        self._cursor: str | None = None
        # One layout shared by every message: one widget instead of one per message.
        self._message_layout = widgets.Layout()

        self.indicator = widgets.HTML(self._indicator_html())
        self.reset_button = widgets.Button(description="대화 초기화 (reset)", icon="trash")
        self.older_button = widgets.Button(description="이전 대화 더 보기 (load older)")
        self.transcript = widgets.VBox(
            layout=widgets.Layout(max_height="32em", overflow="auto", padding="4px")
        )
        self.notice = widgets.HTML()
        self.composer = Composer(layout=widgets.Layout(flex="1 1 auto"))
        self.stop_button = widgets.Button(
            description="멈춤 (stop)", icon="stop", button_style="warning", disabled=True
        )
        header = widgets.HBox(
            [self.indicator, self.reset_button],
            layout=widgets.Layout(justify_content="space-between", align_items="center"),
        )
        inputs = widgets.HBox([self.composer, self.stop_button])
        super().__init__(
            children=[header, self.older_button, self.transcript, self.notice, inputs],
            layout=widgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        for widget, name in [
            (self, "chatkit-panel"),
            (self.transcript, "chatkit-transcript"),
            (self.reset_button, "chatkit-reset"),
            (self.older_button, "chatkit-older"),
            (self.stop_button, "chatkit-stop"),
            (self.notice, "chatkit-notice"),
        ]:
            widget.add_class(name)
        self.composer.on_submit(self._on_submit)
        self.stop_button.on_click(lambda _button: self.stop())
        self.reset_button.on_click(lambda _button: self._guarded(self.reset))
        self.older_button.on_click(lambda _button: self.load_older())
        self.load_older()

    # -- public ---------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        """Every message shown, oldest first: ``{"role", "text", "status"}``."""
        return [view.message for view in self._views()]

    def send(self, text: str) -> asyncio.Task[dict[str, str]]:
        """Ask ``text``; returns the task streaming the answer (its result: the answer's
        ``messages`` entry). Needs a running loop (a kernel, or ``async def``)."""
        loop = _running_loop()
        if self.busy:
            raise RuntimeError(
                "답변을 아직 생성하고 있어요: 멈추거나 기다려 주세요. "
                "(An answer is still streaming: stop() it or wait for it.)"
            )
        self._check_question(text)
        answer = self._view(MessageView.streaming(text, layout=self._message_layout))
        self.transcript.children = (
            *self.transcript.children,
            MessageView.user(text, layout=self._message_layout),
            answer,
        )
        self.notice.value = ""
        self.busy = True
        self._live = live = _LiveAnswer(answer, Coalescer(self.interval), loop)
        self._task = loop.create_task(self._answer(text, live))
        return self._task

    def stop(self) -> None:
        """Stop the streaming answer now: it is kept, marked interrupted (no-op if idle)."""
        live, task = self._live, self._task
        if live is None or live.view.finished or task is None or task.done():
            return
        live.stopped = True
        live.finish("interrupted")
        task.cancel()

    def regenerate(self, view: MessageView | None = None) -> asyncio.Task[dict[str, str]]:
        """Ask again the question of ``view`` (default: the last answer) as a new turn."""
        if view is None:
            answers = [v for v in self._views() if v.role == "assistant"]
            if not answers:
                raise ValueError(
                    "다시 생성할 답변이 아직 없어요. (There is no answer to regenerate yet.)"
                )
            view = answers[-1]
        return self.send(view.question)

    def reset(self) -> asyncio.Task[int]:
        """Stop, clear the transcript, and delete this user's history (in the task,
        after a stopped answer was saved); the task's result is the number of turns."""
        loop = _running_loop()
        previous = self._task
        self.stop()
        self._live = None
        for view in self._views():
            view.close()
        self.transcript.children = ()
        self._show_older(None)
        self.busy = True
        self._task = loop.create_task(self._reset(previous))
        return self._task

    def load_older(self) -> int:
        """Prepend the next older page of history; returns how many turns came."""
        try:
            page = self.session.history.page(
                self.user_id, limit=self.history_limit, cursor=self._cursor
            )
        except Exception:
            log.exception("loading history failed")
            self._say("기록을 불러오지 못했어요. (Could not load the history.)")
            return 0
        older = [view for turn in reversed(page.items) for view in self._turn_views(turn)]
        self.transcript.children = (*older, *self.transcript.children)
        self._show_older(page.cursor)
        return len(page.items)

    def __repr__(self) -> str:
        return (
            f"ChatPanel(user_id={self.user_id!r}, model_id={self.session.model_id!r}, "
            f"messages={len(self.transcript.children)})"
        )

    # -- internals ------------------------------------------------------------------------

    async def _answer(self, question: str, live: _LiveAnswer) -> dict[str, str]:
        try:
            async for event in self.session.astream(self.user_id, question):
                if isinstance(event, Delta):
                    live.push(event.text)
                elif isinstance(event, End):
                    live.finish(
                        "completed",
                        footer_text(
                            "completed",
                            event.latency.first_token,
                            event.latency.total,
                            event.usage.output_tokens,
                        ),
                    )
                elif isinstance(event, Error):
                    live.finish(event.status, footer_text(event.status, error=event.message))
        except asyncio.CancelledError:
            live.finish("interrupted")
            if not live.stopped:  # cancelled from outside (e.g. kernel shutdown)
                raise
        except Exception:  # e.g. DynamoDB unreachable: show it, keep the kernel's log
            log.exception("answer failed")
            live.finish("error", footer_text("error", error="internal"))
        finally:
            self._done()
        return live.view.message

    async def _reset(self, previous: asyncio.Task[Any] | None) -> int:
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])  # its interrupted turn is saved first
            removed = await asyncio.to_thread(self.session.reset, self.user_id)
        finally:
            self._done()
        self._say(f"대화를 지웠어요: {removed}턴. (Conversation reset: {removed} turns.)")
        return removed

    def _check_question(self, text: str) -> None:
        """Refuse what the session would refuse (the same rule), before the question box
        is cleared; a ValueError with the session's message."""
        limits = self.session.settings
        try:
            validate_question(text, limits.max_question_chars, limits.max_question_bytes)
        except ChatError as err:
            raise ValueError(err.message) from None

    def _done(self) -> None:
        if self._task is asyncio.current_task():
            self._task = self._live = None
            self.busy = False

    @traitlets.observe("busy")
    def _busy_changed(self, change: dict[str, Any]) -> None:
        self.composer.disabled = change["new"]
        self.stop_button.disabled = not change["new"]

    def _on_submit(self, text: str) -> None:
        if self._guarded(lambda: self.send(text)):
            self.composer.accept()

    def _on_regenerate(self, view: MessageView) -> None:
        self._guarded(lambda: self.regenerate(view))

    def _guarded(self, action: Callable[[], Any]) -> bool:
        """Run a button's action; a refusal (busy, empty) becomes a notice, not a traceback."""
        try:
            action()
        except (RuntimeError, ValueError) as exc:
            self._say(str(exc))
            return False
        return True

    def _view(self, view: MessageView) -> MessageView:
        view.on_regenerate(self._on_regenerate)
        return view

    def _views(self) -> Sequence[MessageView]:
        return [v for v in self.transcript.children if isinstance(v, MessageView)]

    def _turn_views(self, turn: Turn) -> list[MessageView]:
        latency, usage = turn.latency_ms or {}, turn.usage or {}
        footer = footer_text(
            turn.status,
            latency.get("first_token"),
            latency.get("total"),
            usage.get("output_tokens"),
            error=turn.error_code or "",
        )
        answer = MessageView.answer(
            turn.question, turn.answer, turn.status, footer, layout=self._message_layout
        )
        return [MessageView.user(turn.question, layout=self._message_layout), self._view(answer)]

    def _show_older(self, cursor: str | None) -> None:
        self._cursor = cursor
        self.older_button.layout.display = None if cursor else "none"

    def _say(self, text: str) -> None:
        self.notice.value = render_plain(text)

    def _indicator_html(self) -> str:
        settings = self.session.settings
        return sanitize(
            f"🤖 <strong>{html.escape(self.session.model_id)}</strong> · "
            f"👤 <strong>{html.escape(self.user_id)}</strong> · {html.escape(settings.mode)}"
        )
