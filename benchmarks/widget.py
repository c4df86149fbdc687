"""Widget traffic of one streamed answer: ChatPanel vs a naive panel, in the same run.

The naive panel sets the whole answer on an ``HTML`` widget for every token: one comm
message per token, each carrying everything so far (O(n²) bytes). ``ChatPanel`` sends
coalesced deltas (at most one per 0.25 s) and one final state update. Both panels stream
the same answer (default 2,000 characters at 50 tokens/s) at the same time from the same
offline stack, for two users; every comm message their widgets send is counted at the comm
(``chatkit_widgets.testing.CommRecorder``; bytes = JSON content, without the Jupyter
message header every message also carries). Then ``stop()`` is measured while streaming:
from the call to the task being done (the partial answer saved as ``interrupted``).

Run:  .venv/bin/python -m benchmarks.widget [--chars 2000] [--rate 50] [--stops 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import ipywidgets as widgets
from chatkit_widgets import ChatPanel
from chatkit_widgets.render import render_markdown, render_plain
from chatkit_widgets.testing import CommRecorder

from benchmarks._common import percentile, table
from chatkit.events import Delta
from chatkit.local import offline_stack
from chatkit.session import ChatSession

TARGET_MESSAGES, TARGET_BYTES, TARGET_STOP_MS = 10, 20, 200


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


async def traffic(
    session: ChatSession, question: str
) -> tuple[list[list[object]], tuple[str, str]]:
    with CommRecorder() as recorder:
        panel = ChatPanel(session, "bench-panel")
        naive = NaivePanel(session, "bench-naive")
        mark = len(recorder.messages)
        started = time.perf_counter()
        ours, theirs = await asyncio.gather(panel.send(question), naive.ask(question))
        seconds = time.perf_counter() - started
    assert ours["text"] == theirs, "both panels must stream the same answer"
    tokens = session.history.page("bench-panel", limit=1).items[0].usage["output_tokens"]
    rows, totals = [], []
    for name, root in [("naive: whole answer per token", naive.root), ("ChatPanel", panel)]:
        sent = recorder.of(root, since=mark)
        count, size = len(sent), sum(m.nbytes for m in sent)
        totals.append((count, size))
        rows.append([name, count, f"{size:,}", f"{count / seconds:.1f}"])
    (naive_n, naive_b), (ours_n, ours_b) = totals
    rows.append(
        ["ratio naive / ChatPanel", f"{naive_n / ours_n:.1f}x", f"{naive_b / ours_b:.1f}x", ""]
    )
    about = f"{len(theirs):,} characters, {tokens} tokens in {seconds:.1f} s"
    checks = (
        f"messages {naive_n / ours_n:.1f}x fewer (target >= {TARGET_MESSAGES}x): "
        f"{'ok' if naive_n / ours_n >= TARGET_MESSAGES else 'MISSED'}; "
        f"bytes {naive_b / ours_b:.1f}x fewer (target >= {TARGET_BYTES}x): "
        f"{'ok' if naive_b / ours_b >= TARGET_BYTES else 'MISSED'}"
    )
    return rows, (about, checks)


async def stop_latencies(session: ChatSession, rate: float, stops: int) -> list[float]:
    panel = ChatPanel(session, "bench-stop")
    rng = random.Random(7)
    latencies = []
    for n in range(stops):
        task = panel.send(f"!rate {rate:g} !long 2000 이야기 {n}")
        while not panel.messages[-1]["text"]:  # streaming has started
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0.1, 0.6))
        started = time.perf_counter()
        panel.stop()
        assert panel.messages[-1]["status"] == "interrupted"  # the view, at once
        await task
        latencies.append((time.perf_counter() - started) * 1000)
        stored = session.history.page("bench-stop", limit=1).items[0]
        assert stored.status == "interrupted" and stored.answer == panel.messages[-1]["text"]
    return latencies


async def run(session: ChatSession, args: argparse.Namespace) -> None:
    question = f"!rate {args.rate:g} !long {args.chars} 서울 여행 이야기"
    await ChatPanel(session, "bench-warmup").send("!rate 0 안녕")  # imports, connections
    rows, (about, checks) = await traffic(session, question)
    latencies = await stop_latencies(session, args.rate, args.stops)
    print(f"widget traffic of one answer: {about}, both panels at once\n")
    print(table(["panel", "comm messages", "bytes", "messages/s"], rows))
    worst = max(latencies)
    print(f"\n{checks}\n\nstop() while streaming -> task done, {args.stops} stops (ms)\n")
    print(
        table(
            ["p50", "p90", "max", f"all < {TARGET_STOP_MS} ms"],
            [
                [
                    percentile(latencies, 50),
                    percentile(latencies, 90),
                    worst,
                    "ok" if worst < TARGET_STOP_MS else "MISSED",
                ]
            ],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=2000, help="answer length (characters)")
    parser.add_argument("--rate", type=float, default=50, help="model tokens per second")
    parser.add_argument("--stops", type=int, default=10, help="stop() measurements")
    args = parser.parse_args()
    with offline_stack(rate=args.rate) as stack:
        asyncio.run(run(ChatSession(stack.settings), args))


if __name__ == "__main__":
    main()
