"""Widget traffic of one streamed answer, on a real kernel's wire: ChatPanel vs a naive
panel, in the same run; then the stop latency through the kernel.

A real ipykernel is started (jupyter_client) and this script plays JupyterLab's part: it
reads every message the kernel publishes on IOPub as raw ZMQ frames (bytes = everything
the kernel sent: header, parent header, metadata, content, signature, buffers) and clicks
buttons by sending comm messages, as the browser does.

- Traffic: in the kernel, ``ChatPanel`` and the naive panel (``NaivePanel``: the whole
  answer set on an ``HTML`` widget for every token, O(n²) bytes) stream the same answer
  (default 2,000 characters at 50 tokens/s) at the same time, for two users, from one
  offline stack. Every comm message of each panel's widgets is counted.
- Stop: while an answer streams, the stop button is clicked over the wire; measured until
  the kernel publishes the answer marked ``interrupted`` (what the page shows) and until
  the panel is idle again (the partial turn saved). Each stored turn is then compared
  with the text the panel shows.

Run:  .venv/bin/python -m benchmarks.widget [--chars 2000] [--rate 50] [--stops 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from chatkit_widgets.render import render_markdown, render_plain

from benchmarks._common import percentile, table
from chatkit.events import Delta
from chatkit.session import ChatSession

ROOT = Path(__file__).parents[1]
TARGET_MESSAGES, TARGET_BYTES, TARGET_STOP_MS = 10, 20, 200
_DELIMITER = b"<IDS|MSG>"


class NaivePanel:
    """The baseline: the whole answer re-sent on every token."""

    def __init__(self, session: ChatSession, user_id: str) -> None:
        self.session, self.user_id = session, user_id
        self.transcript = widgets.VBox()
        self.root = widgets.VBox([self.transcript])

    async def ask(self, text: str) -> str:
        answer = widgets.HTML()
        self.transcript.children = (
            *self.transcript.children,
            widgets.HTML(render_plain(text)),
            answer,
        )
        parts: list[str] = []
        async for event in self.session.astream(self.user_id, text):
            if isinstance(event, Delta):
                parts.append(event.text)
                answer.value = render_plain("".join(parts))
        answer.value = render_markdown("".join(parts))
        return "".join(parts)


@dataclass(frozen=True)
class WireMessage:
    """One IOPub message as received: its type, content, size on the wire, arrival time."""

    msg_type: str
    parent_id: str
    content: dict[str, Any]
    nbytes: int
    received: float

    @property
    def comm_id(self) -> str | None:
        return self.content.get("comm_id")

    def state(self) -> dict[str, Any]:
        """For a widget state update: the changed traits (else empty)."""
        data = self.content.get("data") or {}
        return data.get("state", {}) if data.get("method") == "update" else {}


class FrontEnd:
    """A kernel and the part of JupyterLab this benchmark needs: IOPub reader, clicker."""

    def __enter__(self) -> FrontEnd:
        from jupyter_client.manager import start_new_kernel

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHATKIT_"))}
        env["CHATKIT_MODE"] = "offline"
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=ROOT, env=env)
        self.log: list[WireMessage] = []
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    def execute(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` in the kernel; returns its printed output (raises on an error)."""
        msg_id = self.client.execute(code)
        done = self.wait(
            lambda m: (
                m.parent_id == msg_id
                and m.msg_type == "status"
                and m.content["execution_state"] == "idle"
            ),
            timeout,
        )
        mine = [m for m in self.log[: done + 1] if m.parent_id == msg_id]
        errors = [m.content for m in mine if m.msg_type == "error"]
        if errors:
            raise RuntimeError("\n".join(errors[0]["traceback"]))
        return "".join(m.content["text"] for m in mine if m.msg_type == "stream")

    def click(self, comm_id: str) -> None:
        """What a browser sends when an ipywidgets ``Button`` is clicked."""
        data = {"method": "custom", "content": {"event": "click"}}
        self.client.shell_channel.send(
            self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        )

    def wait(
        self, found: Callable[[WireMessage], bool], timeout: float = 60, since: int = 0
    ) -> int:
        """Read IOPub until a message (from index ``since``) matches; returns its index."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for index in range(checked, len(self.log)):
                if found(self.log[index]):
                    return index
            checked = len(self.log)
            if time.monotonic() > deadline:
                raise TimeoutError("the kernel did not publish the awaited message")
            self._receive(timeout=0.5)

    def drain(self) -> None:
        """Take in everything the kernel has published so far."""
        while self._receive(timeout=0):
            pass

    def _receive(self, timeout: float) -> bool:
        socket = self.client.iopub_channel.socket
        if not socket.poll(int(timeout * 1000)):
            return False
        frames = socket.recv_multipart()
        received = time.perf_counter()
        start = frames.index(_DELIMITER)
        header, parent, _metadata, content = (json.loads(f) for f in frames[start + 2 : start + 6])
        self.log.append(
            WireMessage(
                header["msg_type"],
                parent.get("msg_id", ""),
                content,
                sum(len(frame) for frame in frames),
                received,
            )
        )
        return True


def _setup_code(rate: float) -> str:
    return f"""
import asyncio, json
from chatkit.local import start_offline_stack
from chatkit.session import ChatSession
from chatkit_widgets import ChatPanel
from chatkit_widgets.testing import widget_tree
from benchmarks.widget import NaivePanel

stack = start_offline_stack(rate={rate!r})
session = ChatSession(stack.settings)
await ChatPanel(session, "bench-warmup").send("!rate 0 안녕")  # imports, connections
panel, naive = ChatPanel(session, "bench-panel"), NaivePanel(session, "bench-naive")
stopper = ChatPanel(session, "bench-stop")
ids = lambda root: sorted(w.model_id for w in widget_tree(root))
"""


def traffic(front: FrontEnd, question: str) -> tuple[list[list[object]], str, tuple[float, float]]:
    mark = len(front.log)
    started = time.perf_counter()
    front.execute(
        f"ours, theirs = await asyncio.gather(panel.send({question!r}), naive.ask({question!r}))"
    )
    seconds = time.perf_counter() - started
    facts = json.loads(
        front.execute(
            "turn = session.history.page('bench-panel', limit=1).items[0]\n"
            "print(json.dumps({'same': ours['text'] == theirs, 'chars': len(theirs),"
            " 'tokens': turn.usage['output_tokens'],"
            " 'panel': ids(panel), 'naive': ids(naive.root)}))"
        )
    )
    assert facts["same"], "both panels must stream the same answer"
    rows, totals = [], []
    for name, key in [("naive: whole answer per token", "naive"), ("ChatPanel", "panel")]:
        comms = set(facts[key])
        sent = [m for m in front.log[mark:] if m.comm_id in comms]
        count, size = len(sent), sum(m.nbytes for m in sent)
        totals.append((count, size))
        rows.append([name, count, f"{size:,}", f"{count / seconds:.1f}"])
    (naive_n, naive_b), (ours_n, ours_b) = totals
    ratios = (naive_n / ours_n, naive_b / ours_b)
    rows.append(["ratio naive / ChatPanel", f"{ratios[0]:.1f}x", f"{ratios[1]:.1f}x", ""])
    about = f"{facts['chars']:,} characters, {facts['tokens']} tokens in {seconds:.1f} s"
    return rows, about, ratios


def stop_latencies(front: FrontEnd, rate: float, stops: int) -> tuple[list[float], list[float]]:
    """Click stop mid-answer ``stops`` times: ms to the answer marked interrupted, ms to idle."""
    rng = random.Random(7)
    marked, idle = [], []
    for n in range(stops):
        ids = json.loads(
            front.execute(
                f"task = stopper.send('!rate {rate:g} !long 2000 이야기 {n}')\n"
                "print(json.dumps([stopper.transcript.children[-1].model_id,"
                " stopper.stop_button.model_id]))"
            )
        )
        answer, stop = ids
        front.wait(lambda m, a=answer: m.comm_id == a and m.msg_type == "comm_msg")  # a delta
        time.sleep(rng.uniform(0.1, 0.6))  # streaming for a while
        front.drain()
        since = len(front.log)
        clicked = time.perf_counter()
        front.click(stop)
        at = front.wait(
            lambda m, a=answer: m.comm_id == a and m.state().get("status") == "interrupted",
            since=since,
        )
        marked.append((front.log[at].received - clicked) * 1000)
        at = front.wait(
            lambda m, s=stop: m.comm_id == s and m.state().get("disabled") is True, since=since
        )
        idle.append((front.log[at].received - clicked) * 1000)
        check = json.loads(
            front.execute(
                "await task\n"
                "turn = session.history.page('bench-stop', limit=1).items[0]\n"
                "print(json.dumps([turn.status, turn.answer, stopper.messages[-1]]))"
            )
        )
        status, stored, shown = check
        assert status == "interrupted" == shown["status"], check
        assert stored == shown["text"], f"stored {stored[-30:]!r} != shown {shown['text'][-30:]!r}"
    return marked, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=2000, help="answer length (characters)")
    parser.add_argument("--rate", type=float, default=50, help="model tokens per second")
    parser.add_argument("--stops", type=int, default=10, help="stop clicks measured")
    args = parser.parse_args()
    question = f"!rate {args.rate:g} !long {args.chars} 서울 여행 이야기"
    with FrontEnd() as front:
        front.execute(_setup_code(args.rate))
        rows, about, (fewer_messages, fewer_bytes) = traffic(front, question)
        marked, idle = stop_latencies(front, args.rate, args.stops)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"widget traffic of one answer, on the kernel's IOPub wire: {about}, both at once\n")
    print(table(["panel", "comm messages", "bytes", "messages/s"], rows))
    print(
        f"\nmessages {fewer_messages:.1f}x fewer (target >= {TARGET_MESSAGES}x): "
        f"{verdict(fewer_messages >= TARGET_MESSAGES)}; bytes {fewer_bytes:.1f}x fewer "
        f"(target >= {TARGET_BYTES}x): {verdict(fewer_bytes >= TARGET_BYTES)}"
    )
    print(f"\nstop clicked while streaming, {args.stops} times (ms, through the kernel)\n")
    print(
        table(
            ["stop click ->", "p50", "p90", "max", f"max < {TARGET_STOP_MS} ms"],
            [
                [name, percentile(v, 50), percentile(v, 90), max(v), verdict(max(v) < limit)]
                for name, v, limit in [
                    ("answer marked interrupted", marked, TARGET_STOP_MS),
                    ("turn saved, panel idle", idle, TARGET_STOP_MS),
                ]
            ],
        )
    )
    print("\nevery stored interrupted turn equals the text the panel shows: ok")


if __name__ == "__main__":
    main()
