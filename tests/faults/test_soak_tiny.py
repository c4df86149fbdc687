"""The soak benchmark stays runnable: a tiny run against the in-process gateway (the real
run is ``python -m benchmarks.soak``)."""

from __future__ import annotations

import os

import pytest

from benchmarks.soak import soak


@pytest.mark.xfail(
    strict=False,
    reason="quarantined 2026-12-06: run after the other tests/faults modules in one process, "
    "about 1 run in 3 a user's only answered turn (its `end` received) is missing from "
    "/history read right after; alone it always passes. Root cause not found yet: an open "
    "defect, see the closing note of that day",
)
async def test_soak_tiny_run_stores_every_answer_once(serve):
    served = await serve()
    traffic, samples, problems = await soak(
        served.gateway.url, os.getpid(), users=3, seconds=1.5, every=0.5, settle=0
    )
    assert traffic.errors == [] and problems == []
    assert len(traffic.answered) == 3 and all(traffic.answered.values())
    assert len(samples) >= 3 and all(s.rss_mb > 0 for s in samples)
    assert max(s.connections for s in samples) > 0
