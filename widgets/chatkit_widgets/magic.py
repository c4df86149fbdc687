"""IPython magics: ``%%chat`` answers in the cell, ``%chat history|reset|export``.

``%load_ext chatkit_widgets``, then::

    %%chat -u minsu
    서울 여행 추천해줘

    %chat -u minsu history          # the newest turns, oldest first (-n N, default 10)
    %chat -u minsu export chat.md   # the whole conversation as Markdown
    %chat -u minsu reset            # forget it

Options: ``-u USER`` (default ``CHATKIT_USER`` or ``learner``), ``-s NAME`` (a
``ChatSession`` variable of the notebook), ``-m MODEL`` (a model id), ``--no-stream``
(show the answer once, at the end). The answer is a display output with ``text/plain``
and sanitised ``text/html``, updated at most every 0.25 s while it streams (never per
token: the server rate-limits output), so papermill and nbval runs store readable plain
text and need no widget frontend. Interrupting the kernel stops the answer; it is stored
as ``interrupted``.
"""

from __future__ import annotations

import html
from contextlib import closing
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from chatkit.config import Settings
from chatkit.events import Delta, End, Error
from chatkit.history import Turn
from chatkit.session import ChatSession

from .coalesce import Coalescer
from .defaults import default_user_id, shared_session
from .panel import footer_text
from .render import render_markdown, sanitize

__all__ = ["ChatMagics", "all_turns", "format_history", "transcript_markdown"]


def all_turns(session: ChatSession, user_id: str) -> list[Turn]:
    """Every stored turn of ``user_id``, oldest first (pages through the history)."""
    turns: list[Turn] = []
    cursor = None
    while True:
        page = session.history.page(user_id, limit=100, cursor=cursor)
        turns.extend(page.items)
        if not (cursor := page.cursor):
            return turns[::-1]


def format_history(turns: list[Turn]) -> str:
    """Turns as plain text, oldest first.

    >>> print(format_history([Turn("u", "r1", "안녕?", "안녕하세요!", created_at="2026-01-01T00:00:00.000Z")]))
    [2026-01-01 00:00:00] 👤 안녕?
    🤖 안녕하세요!
    """  # noqa: E501
    blocks = []
    for turn in turns:
        when = turn.created_at[:19].replace("T", " ")
        mark = "" if turn.status == "completed" else f" ({turn.status})"
        blocks.append(f"[{when}] 👤 {turn.question}\n🤖 {turn.answer}{mark}")
    return "\n\n".join(blocks) if blocks else "(기록 없음 · no history)"


def transcript_markdown(user_id: str, turns: list[Turn]) -> str:
    """A conversation as a Markdown document (questions as quotes, answers as written)."""
    lines = [f"# chatkit 대화 · conversation of {user_id}", ""]
    for number, turn in enumerate(turns, 1):
        question = "\n".join(f"> {line}" for line in turn.question.splitlines())
        lines += [f"## {number}. {turn.created_at}", "", question, "", turn.answer, ""]
        if turn.status != "completed":
            lines += [f"*({turn.status})*", ""]
    return "\n".join(lines)


def _bundle(text: str, footer: str = "") -> dict[str, str]:
    plain = f"{text}\n\n— {footer}" if footer else text
    note = f"<p><em>{html.escape(footer)}</em></p>" if footer else ""
    return {"text/plain": plain, "text/html": render_markdown(text) + sanitize(note)}


@magics_class
class ChatMagics(Magics):
    """``%%chat`` and ``%chat``; see the module documentation."""

    @magic_arguments()
    @argument("-u", "--user", help="user id (default: CHATKIT_USER or 'learner')")
    @argument("-s", "--session", help="name of a ChatSession variable in the notebook")
    @argument("-m", "--model", help="model id (inference profile id on AWS)")
    @argument("--no-stream", action="store_true", help="show the answer once, at the end")
    @argument("-n", "--limit", type=int, default=10, help="turns shown by 'history'")
    @argument("command", nargs="*", help="history | reset | export PATH.md")
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> None:
        """Ask a question (cell body) or manage the conversation (line)."""
        args = parse_argstring(self.chat, line)
        session = self._session(args.session, args.model)
        user = args.user or default_user_id()
        if cell is not None:
            if args.command:
                raise UsageError("%%chat takes the question in the cell, not on the line")
            self._ask(session, user, cell, stream=not args.no_stream)
            return
        command, *rest = args.command or ["history"]
        if command == "history" and not rest:
            print(format_history(session.history.page(user, limit=args.limit).items[::-1]))
        elif command == "reset" and not rest:
            removed = session.reset(user)
            print(f"{user}: {removed}턴을 지웠어요. (deleted {removed} turns)")
        elif command == "export" and len(rest) == 1:
            turns = all_turns(session, user)
            path = Path(rest[0]).expanduser()
            path.write_text(transcript_markdown(user, turns), encoding="utf-8")
            print(f"{len(turns)}턴을 {path}에 저장했어요. (exported {len(turns)} turns)")
        else:
            raise UsageError("usage: %chat [-u USER] history [-n N] | reset | export PATH.md")

    def _session(self, name: str | None, model: str | None) -> ChatSession:
        if name and model:
            raise UsageError("use either -s SESSION or -m MODEL")
        if name:
            found = self.shell.user_ns.get(name) if self.shell else None
            if not (hasattr(found, "stream") and hasattr(found, "history")):
                raise UsageError(f"{name!r} is not a ChatSession variable of this notebook")
            return found
        settings = Settings.from_env()
        return shared_session(settings.with_(model_id=model) if model else settings)

    def _ask(self, session: ChatSession, user: str, question: str, *, stream: bool) -> None:
        handle = display(_bundle("…"), raw=True, display_id=True) if stream else None
        coalescer = Coalescer()
        answer: list[str] = []
        footer = footer_text("interrupted")
        try:
            with closing(session.stream(user, question)) as events:
                for event in events:
                    if isinstance(event, Delta):
                        answer.append(event.text)
                        if handle is not None and coalescer.push(event.text) is not None:
                            handle.update(_bundle("".join(answer)), raw=True)
                    elif isinstance(event, End):
                        latency, usage = event.latency, event.usage
                        footer = footer_text(
                            "completed", latency.first_token, latency.total, usage.output_tokens
                        )
                    elif isinstance(event, Error):
                        footer = footer_text(event.status, error=event.message)
        except KeyboardInterrupt:  # the kernel's stop button: the turn is stored interrupted
            pass
        final = _bundle("".join(answer), footer)
        if handle is not None:
            handle.update(final, raw=True)
        else:
            display(final, raw=True)
