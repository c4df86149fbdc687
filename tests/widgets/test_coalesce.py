"""coalesce.py: the panel's defaults on chatkit's one coalescer — at most one release per
interval, the first piece at once, no size rule (fake clock)."""

from __future__ import annotations

import pytest
from chatkit_widgets.coalesce import DEFAULT_INTERVAL, Coalescer

from chatkit.protocol import DeltaCoalescer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_panels_coalescer_is_the_protocols_with_display_defaults():
    c = Coalescer()
    assert isinstance(c, DeltaCoalescer)
    assert (c.interval, c.max_bytes) == (DEFAULT_INTERVAL, None)


def test_first_piece_is_released_at_once_then_at_most_once_per_interval():
    clock = Clock()
    c = Coalescer(interval=0.25, clock=clock)
    released = []
    for _ in range(200):  # 200 tokens at 50 tokens/s = 4 s
        if (out := c.push("가")) is not None:
            released.append(out)
        clock.now += 0.02
    released.append(c.flush())
    assert released[0] == "가"
    assert "".join(released) == "가" * 200
    assert len(released) <= 4 / 0.25 + 2


def test_due_tells_when_to_flush_pending_text():
    clock = Clock()
    c = Coalescer(interval=0.25, clock=clock)
    assert c.due() is None
    c.push("a")
    assert c.push("b") is None and c.pending == "b"
    clock.now += 0.1
    assert c.due() == pytest.approx(0.15)
    clock.now += 0.2
    assert c.due() == 0
    assert c.flush() == "b" and c.pending == "" and c.due() is None


def test_no_size_rule_for_the_display():
    clock = Clock()
    c = Coalescer(interval=0.25, clock=clock)
    c.push("first")
    assert c.push("가" * 10_000) is None, "a big piece still waits for the interval"


def test_empty_pieces_release_nothing():
    c = Coalescer(interval=0.25, clock=Clock())
    assert c.push("") is None and c.flush() is None


def test_zero_interval_releases_every_piece():
    c = Coalescer(interval=0, clock=Clock())
    assert [c.push(x) for x in "abc"] == ["a", "b", "c"]


def test_negative_interval_is_refused():
    with pytest.raises(ValueError):
        Coalescer(interval=-1)
