"""Count what widgets send to the front end: comm messages and their bytes.

Used by the tests, ``benchmarks/widget.py`` and notebook 06. While a ``CommRecorder`` is
active, every comm that ipywidgets opens is recorded: without a kernel (ipywidgets' dummy
comm) and inside one (the kernel's comm is wrapped, messages still reach the browser).
Sizes are the JSON of each message's content as the kernel encodes it (UTF-8), without
the Jupyter message header that every message also carries.

Example::

    with CommRecorder() as recorder:
        label = widgets.HTML("a")
        label.value = "b"
    [m.msg_type for m in recorder.of(label)]     # ['comm_open', 'comm_msg']
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import TracebackType
from typing import Any

import comm
from ipywidgets import Widget

__all__ = ["CommMessage", "CommRecorder", "ParsedHTML", "parse_html", "until", "widget_tree"]


@dataclass(frozen=True)
class CommMessage:
    comm_id: str
    msg_type: str
    """``comm_open``, ``comm_msg`` or ``comm_close``."""
    method: str | None
    """For ``comm_msg``: ``update`` (state) or ``custom`` (e.g. a streamed delta)."""
    nbytes: int
    data: Any = None
    """The message's ``data`` (state, or custom content)."""


def widget_tree(*roots: Widget) -> Iterator[Widget]:
    """The widgets and every widget they hold (children, layout, style), each once."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        yield widget
        for name in widget.keys:
            value = getattr(widget, name, None)
            items = value if isinstance(value, (list, tuple)) else [value]
            stack.extend(item for item in items if isinstance(item, Widget))


def _size(comm_id: str, data: Any, buffers: Iterable[Any] | None) -> int:
    content = json.dumps({"comm_id": comm_id, "data": data}, ensure_ascii=False, default=str)
    return len(content.encode("utf-8")) + sum(memoryview(b).nbytes for b in buffers or ())


class CommRecorder:
    """Records the comm messages of widgets created while it is active."""

    def __init__(self) -> None:
        self.messages: list[CommMessage] = []
        self._original: Any = None

    def __enter__(self) -> CommRecorder:
        self._original = comm.create_comm
        comm.create_comm = self._create
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        comm.create_comm = self._original

    def of(self, *roots: Widget, since: int = 0, deep: bool = True) -> list[CommMessage]:
        """Messages (from index ``since`` on) of ``roots`` and, if ``deep``, what they hold."""
        widgets = widget_tree(*roots) if deep else roots
        ids = {w.comm.comm_id for w in widgets if w.comm is not None}
        return [m for m in self.messages[since:] if m.comm_id in ids]

    def _record(self, comm_id: str, msg_type: str, data: Any, buffers: Any) -> None:
        method = data.get("method") if isinstance(data, dict) else None
        size = _size(comm_id, data, buffers)
        self.messages.append(CommMessage(comm_id, msg_type, method, size, data))

    def _create(self, *args: Any, **kwargs: Any) -> Any:
        instance = self._original(*args, **kwargs)
        self._record(instance.comm_id, "comm_open", kwargs.get("data"), kwargs.get("buffers"))
        publish = instance.publish_msg

        def recording_publish(
            msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
        ) -> Any:
            self._record(instance.comm_id, msg_type, data, buffers)
            return publish(msg_type, data=data, metadata=metadata, buffers=buffers, **keys)

        instance.publish_msg = recording_publish
        return instance


@dataclass
class ParsedHTML:
    """What a browser would build from an HTML fragment: elements and visible text."""

    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: str = ""


def parse_html(fragment: str) -> ParsedHTML:
    """Parse ``fragment`` like a browser would (entities decoded in the text).

    >>> parse_html("<p>&lt;img src=x&gt;</p>")
    ParsedHTML(elements=[('p', {})], text='<img src=x>')
    """
    parsed = ParsedHTML()
    texts: list[str] = []

    class _Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            parsed.elements.append((tag, dict(attrs)))

        def handle_data(self, data: str) -> None:
            texts.append(data)

    parser = _Parser(convert_charrefs=True)
    parser.feed(fragment)
    parser.close()
    parsed.text = "".join(texts)
    return parsed


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait (on the running loop) until ``condition()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
