"""The relay over scripted event streams and a recording ``post``."""

from __future__ import annotations

import asyncio
import json
import time

from chatkit.aws.relay import ConnectionGone, relay
from chatkit.events import Delta, End, Latency, Start, Usage


class Source:
    """An event stream: start, ``n`` deltas ``gap`` seconds apart, end; records closing."""

    def __init__(self, n: int, gap: float = 0.0, piece: str = "가") -> None:
        self.n, self.gap, self.piece = n, gap, piece
        self.closed_early = False
        self.sent = 0

    async def __call__(self):
        try:
            yield Start("r1", "demo", "2026-01-01T00:00:00.000Z")
            for _ in range(self.n):
                if self.gap:
                    await asyncio.sleep(self.gap)
                self.sent += 1
                yield Delta("r1", self.piece)
            yield End("r1", "end_turn", Usage(1, self.n), Latency(1, 2))
        except (GeneratorExit, asyncio.CancelledError):
            self.closed_early = True
            raise


class Posts(list):
    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.attempts = 0

    def __call__(self, frame: str) -> None:
        self.attempts += 1
        if self.fail_after is not None and self.attempts > self.fail_after:
            raise ConnectionGone("c1")
        self.append(json.loads(frame))


async def test_sends_only_new_text_coalesced_in_seq_order():
    source, posts = Source(200, gap=0.001), Posts()
    result = await relay(source(), posts, request_id="r1")
    assert result.outcome == "completed"
    deltas = [p for p in posts if p["type"] == "delta"]
    assert "".join(d["text"] for d in deltas) == "가" * 200
    assert deltas[0]["text"] == "가", "the first delta goes out at once"
    assert len(deltas) < 200 / 4, "deltas must be coalesced"
    assert [p["seq"] for p in posts] == list(range(len(posts)))
    assert posts[0]["type"] == "start" and posts[-1]["type"] == "end"


async def test_coalesced_text_is_flushed_even_when_the_model_pauses():
    async def pausing():
        yield Start("r1", "demo", "t")
        yield Delta("r1", "a")
        await asyncio.sleep(0.01)
        yield Delta("r1", "b")  # buffered: arrives right after the first flush
        await asyncio.sleep(0.3)  # the model pauses; "b" must not wait for the next token
        yield Delta("r1", "c")
        yield End("r1", "end_turn", Usage(), Latency())

    posts, stamps = Posts(), []

    def post(frame: str) -> None:
        stamps.append(time.monotonic())
        posts(frame)

    await relay(pausing(), post, request_id="r1")
    texts = [p["text"] for p in posts if p["type"] == "delta"]
    assert texts == ["a", "b", "c"]
    assert stamps[2] - stamps[1] < stamps[3] - stamps[2], "b was flushed before c arrived"


async def test_slow_posts_carry_everything_that_arrived_meanwhile():
    """When posting is slower than the model (a busy gateway), the next frame takes all the
    waiting text: frames must not fall back to one token each and lag ever further behind."""
    source, posts = Source(300, gap=0.001), Posts()

    def slow_post(frame: str) -> None:
        time.sleep(0.05)
        posts(frame)

    await relay(source(), slow_post, request_id="r1")
    deltas = [p for p in posts if p["type"] == "delta"]
    assert "".join(d["text"] for d in deltas) == "가" * 300
    assert len(deltas) < 300 / 10, [len(d["text"]) for d in deltas]


async def test_gone_stops_the_generation_within_one_chunk():
    source, posts = Source(500, gap=0.002), Posts(fail_after=3)
    result = await relay(source(), posts, request_id="r1")
    assert result.outcome == "gone"
    assert source.closed_early
    assert posts.attempts == 4, "no post after the one that failed"
    assert source.sent < 500


async def test_stop_request_ends_with_the_partial_text_and_a_stopped_end():
    source, posts = Source(1000, gap=0.002), Posts()
    checks = []

    def stop_requested() -> bool:
        checks.append(1)
        return len(checks) >= 2

    result = await relay(
        source(), posts, request_id="r1", stop_requested=stop_requested, stop_check_interval=0.05
    )
    assert result.outcome == "stopped" and source.closed_early
    assert posts[-1]["type"] == "end" and posts[-1]["stop_reason"] == "stopped"
    text = "".join(p["text"] for p in posts if p["type"] == "delta")
    assert len(text) == source.sent, "everything generated was delivered before the end"
    assert len(checks) == 2


async def test_a_failing_session_still_answers_with_an_internal_error():
    async def broken():
        yield Start("r1", "demo", "t")
        raise RuntimeError("DynamoDB is down: secret detail")

    posts = Posts()
    result = await relay(broken(), posts, request_id="r1")
    assert result.outcome == "error"
    assert posts[-1]["type"] == "error" and posts[-1]["code"] == "internal"
    assert "secret detail" not in json.dumps(posts, ensure_ascii=False)
