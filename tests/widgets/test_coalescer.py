"""coalesce.py: at most one release per interval, first piece at once (fake clock)."""

from __future__ import annotations

import pytest
from chatkit_widgets.coalesce import Coalescer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_piece_is_released_at_once_then_at_most_once_per_interval():
    clock = Clock()
    c = Coalescer(interval=0.25, clock=clock)
    released = []
    for _ in range(200):  # 200 tokens at 50 tokens/s = 4 s
        if (out := c.push("가")) is not None:
            released.append(out)
        clock.now += 0.02
    released.append(c.drain())
    assert released[0] == "가"
    assert "".join(released) == "가" * 200
    assert len(released) <= 4 / 0.25 + 2


def test_due_in_tells_when_to_flush_pending_text():
    clock = Clock()
    c = Coalescer(interval=0.25, clock=clock)
    assert c.due_in() is None
    c.push("a")
    assert c.push("b") is None and c.pending == "b"
    clock.now += 0.1
    assert c.due_in() == pytest.approx(0.15)
    clock.now += 0.2
    assert c.due_in() == 0
    assert c.drain() == "b" and c.pending == "" and c.due_in() is None


def test_empty_pieces_release_nothing():
    c = Coalescer(interval=0.25, clock=Clock())
    assert c.push("") is None and c.drain() == ""


def test_zero_interval_releases_every_piece():
    c = Coalescer(interval=0, clock=Clock())
    assert [c.push(x) for x in "abc"] == ["a", "b", "c"]


def test_negative_interval_is_refused():
    with pytest.raises(ValueError):
        Coalescer(interval=-1)
