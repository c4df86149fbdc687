"""The load benchmark stays runnable: a tiny ramp against the in-process gateway (the real
ramp is ``python -m benchmarks.load --long``); its verdict on made-up levels."""

from __future__ import annotations

import asyncio
import os

from benchmarks.concurrency import CpuMeter, Timings
from benchmarks.load import Level, Peak, highest_passing, highest_without_errors, ramp


async def test_load_tiny_ramp_has_no_errors_and_measures_the_gateway(serve, stack):
    served = await serve()
    pid = os.getpid()  # gateway and emulators run in this process here
    levels = await asyncio.to_thread(
        ramp, served.gateway.url, stack.env, pid, pid, [2, 4], text="!rate 0 서울 여행 추천해줘"
    )
    assert [level.users for level in levels] == [2, 4]
    for level in levels:
        assert level.errors == [] and len(level.ours.first) == len(level.base.first) == level.users
        assert level.peak.mb > 0 and level.peak.total_mb >= level.peak.mb
        assert level.cpu.wall > 0 and level.ratio > 0


def _level(users: int, emulator_s: float, serve_s: float, errors: int = 0) -> Level:
    ours = Timings(first=[serve_s], errors=["busy"] * errors)
    return Level(users, Timings(first=[emulator_s]), ours, Peak(100.0, 100.0), CpuMeter(1, 2))


def test_the_verdict_is_the_last_level_of_the_unbroken_passing_run():
    assert highest_passing([_level(50, 1.0, 1.9), _level(100, 1.0, 2.0)]) == 100
    assert highest_passing([_level(50, 1.0, 1.5), _level(100, 1.0, 2.1), _level(200, 1, 1)]) == 50
    assert highest_passing([_level(50, 1.0, 1.0), _level(100, 1.0, 1.0, errors=1)]) == 50
    assert highest_passing([_level(50, 1.0, 3.0)]) == 0


def test_the_error_free_verdict_ignores_slow_levels_but_not_errors():
    slow, broken = _level(100, 1.0, 9.0), _level(200, 1.0, 1.0, errors=1)
    assert highest_without_errors([_level(50, 1.0, 1.0), slow, broken]) == 100
    assert highest_without_errors([broken]) == 0
