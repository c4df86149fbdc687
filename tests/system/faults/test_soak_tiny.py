"""The soak benchmark stays runnable: a tiny run against the in-process gateway (the real
run is ``python -m benchmarks.soak``)."""

from __future__ import annotations

import os

from benchmarks.soak import soak


async def test_soak_tiny_run_stores_every_answer_once(serve):
    served = await serve()
    traffic, samples, problems = await soak(
        served.gateway.url, os.getpid(), users=3, seconds=1.5, every=0.5, settle=0
    )
    assert traffic.errors == [] and problems == []
    assert len(traffic.answered) == 3 and all(traffic.answered.values())
    assert len(samples) >= 3 and all(s.rss_mb > 0 for s in samples)
    assert max(s.connections for s in samples) > 0
