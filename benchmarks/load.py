"""Ramp concurrent WebSocket users on ``chatkit serve`` until errors or a slow first delta.

The processes of :mod:`benchmarks.concurrency` (``chatkit emulators`` plays AWS with the
demo model at its realistic default of 50 tokens/s; ``chatkit serve --workers W`` is the
backend: the gateway and, for W ≥ 2, W handler processes). At
each level N users send one ``chat`` at the same moment, and — the baseline, same run — N
threads call the emulator alone with boto3. Both ask with a realistic first-token delay
(``!slow-first 0.7``: a real model's TTFD is 0.6–1 s, so "2× the emulator's" means what it
would on AWS). Per level: errors, p50/p99 time to first delta
(TTFD) through ``chatkit serve`` and from the emulator alone, their ratio, the CPU the
gateway, its workers and the stand-in AWS (``chatkit emulators``: the Bedrock emulator and
moto's DynamoDB) used (% of one core over the level's wall time), and the backend's peak
memory (RSS: the gateway alone, and the gateway + workers). The ramp stops at the first
level with errors, or when the time budget is spent (the level running then finishes).

The answers: the highest level with zero errors and p99 TTFD within 2× the emulator's
own, the highest with zero errors, and whether 50 users stay within 1.5×.

``--history T`` plays a class in progress: before the ramp, each simulated user gets T
earlier turns, so each chat's context read returns turns and the history table holds
every user's (by default the users start with none, as at a class's first question).

Run:  .venv/bin/python -m benchmarks.load                  # short form: 10 and 50 users
      .venv/bin/python -m benchmarks.load --long           # the ramp 50 → 500
      .venv/bin/python -m benchmarks.load --levels 50,100,200   # or --levels 50 100 200
      .venv/bin/python -m benchmarks.load --levels 50 --workers 1 2   # 1 vs 2 processes
      .venv/bin/python -m benchmarks.load --levels 50 --history 20    # mid-class
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks._common import percentile, table
from benchmarks.concurrency import (
    QUESTION,
    CpuMeter,
    Timings,
    bench_user,
    child_pids,
    emulator_alone,
    offline_env,
    running_stack,
    through_serve,
)
from benchmarks.history_scale import fill

SHORT_LEVELS = [10, 50]
LONG_LEVELS = [50, 100, 200, 300, 500]
#: Real Claude: first token after ~0.6–1 s, then 50–100 tokens/s (facts.md); the demo model
#: waits that long before its first token, and streams at its default 50 tokens/s.
FIRST_TOKEN_S = 0.7
TEXT = f"!slow-first {FIRST_TOKEN_S} {QUESTION}"
WITHIN = 2.0  # p99 TTFD through the backend may be at most this × the emulator's
TARGET = (50, 1.5)  # issue 15: 50 users within 1.5× the emulator's p99 TTFD, 0 errors
BUDGET_S = 15 * 60  # no new level starts after this many seconds


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (psutil if installed, else ``/proc``; 0 if gone)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return 0.0
    except psutil.NoSuchProcess:
        return 0.0
    return float("nan")


@dataclass
class Peak:
    """The highest RSS seen while sampling: the gateway alone, and with its workers."""

    mb: float = 0.0
    total_mb: float = 0.0

    def sample(self, pid: int) -> None:
        gateway = rss_mb(pid)
        self.mb = max(self.mb, gateway)
        self.total_mb = max(self.total_mb, gateway + sum(map(rss_mb, child_pids(pid))))


@contextmanager
def peak_rss(pid: int, every: float = 0.2) -> Iterator[Peak]:
    """Sample the RSS of ``pid`` and its children every ``every`` s in a thread."""
    peak, done = Peak(), threading.Event()
    peak.sample(pid)

    def sample() -> None:
        while not done.wait(every):
            peak.sample(pid)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        peak.sample(pid)


def _ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000 if values else float("nan")


@dataclass
class Level:
    """One level of the ramp: both paths' timings, the gateway's peak RSS and CPU."""

    users: int
    base: Timings
    ours: Timings
    peak: Peak
    cpu: CpuMeter

    @property
    def errors(self) -> list[str]:
        return self.ours.errors + self.base.errors

    @property
    def ratio(self) -> float:
        """p99 TTFD through ``chatkit serve`` over the emulator's own."""
        return _ms(self.ours.first, 99) / _ms(self.base.first, 99)

    @property
    def passing(self) -> bool:
        return not self.errors and self.ratio <= WITHIN

    def row(self) -> list[object]:
        return [
            self.users,
            len(self.errors),
            f"{_ms(self.base.first, 50):.0f}",
            f"{_ms(self.base.first, 99):.0f}",
            f"{_ms(self.ours.first, 50):.0f}",
            f"{_ms(self.ours.first, 99):.0f}",
            f"{self.ratio:.2f}",
            f"{100 * self.cpu.serve / self.cpu.wall:.0f}",
            f"{100 * self.cpu.workers / self.cpu.wall:.0f}",
            f"{100 * self.cpu.aws / self.cpu.wall:.0f}",
            f"{self.peak.mb:.0f}",
            f"{self.peak.total_mb:.0f}",
        ]


def ramp(
    url: str,
    env: Mapping[str, str],
    serve_pid: int,
    aws_pid: int,
    levels: list[int],
    *,
    text: str = TEXT,
    budget_s: float = BUDGET_S,
) -> list[Level]:
    """Run ``levels`` in order (stopping after the first with errors, or once ``budget_s``
    seconds have passed); ``serve_pid`` is the gateway whose RSS and CPU are measured."""
    done: list[Level] = []
    started = time.monotonic()
    for users in levels:
        if time.monotonic() - started > budget_s:
            break
        base = emulator_alone(env, users, text)
        with CpuMeter(serve_pid, aws_pid).run() as cpu, peak_rss(serve_pid) as peak:
            ours = asyncio.run(through_serve(url, users, text))
        done.append(Level(users, base, ours, peak, cpu))
        if done[-1].errors:
            break
    return done


def seed_history(env: Mapping[str, str], users: int, turns: int) -> None:
    """Store ``turns`` earlier turns for each of the first ``users`` simulated users, in
    the history table of the stand-in AWS whose environment is ``env``."""
    from chatkit.config import Settings
    from chatkit.history import HistoryStore

    store = HistoryStore.from_settings(Settings.from_env(offline_env(env)))
    for index in range(users):
        fill(store, bench_user(index), turns)


def highest_passing(levels: list[Level]) -> int:
    """The highest level such that it and every level below it passed (0: none)."""
    best = 0
    for level in levels:
        if not level.passing:
            break
        best = level.users
    return best


def highest_without_errors(levels: list[Level]) -> int:
    """The highest level such that it and every level below it had no errors (0: none)."""
    best = 0
    for level in levels:
        if level.errors:
            break
        best = level.users
    return best


def _levels(raw: str) -> list[int]:
    """``"50,100 200"`` → ``[50, 100, 200]``."""
    return [int(part) for part in raw.replace(",", " ").split()]


HEADERS = ["users", "errors", "emulator p50", "emulator p99", "serve p50", "serve p99"]
HEADERS += ["p99 ratio", "gateway cpu %", "workers cpu %", "emulators cpu %"]
HEADERS += ["gateway RSS MB", "+ workers RSS MB"]


def report(workers: int, idle_mb: float, done: list[Level], levels: list[int]) -> None:
    """One table and its verdicts for one ``--workers`` setting."""
    where = f"{workers} worker processes" if workers > 1 else "handlers in the gateway process"
    print(f"\n## chatkit serve --workers {workers}: {where}; gateway RSS idle {idle_mb:.0f} MB\n")
    print(table(HEADERS, [d.row() for d in done]))
    users, within = TARGET
    at = [d for d in done if d.users == users]
    if at:
        ok = not at[0].errors and at[0].ratio <= within
        verdict = "met" if ok else "not met"
        print(f"target {users} users, p99 ≤ {within}× and 0 errors: {verdict} ({at[0].ratio:.2f}×)")
    print(f"highest level with p99 TTFD ≤ {WITHIN:.0f}× and 0 errors: {highest_passing(done)}")
    print(f"highest level with 0 errors: {highest_without_errors(done)}")
    skipped = levels[len(done) :]
    if skipped:
        why = "errors at the last level" if done and done[-1].errors else "time budget spent"
        print(f"not run: {skipped} ({why})")
    for error in sorted({e for d in done for e in d.errors})[:10]:
        print("error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels",
        type=_levels,
        nargs="+",
        default=[SHORT_LEVELS],
        help="users per level: 50,100,200 or 50 100 200",
    )
    parser.add_argument(
        "--long", action="store_true", help=f"the full ramp {LONG_LEVELS} (CPU heavy)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[os.cpu_count() or 1],
        help="chatkit serve --workers, one run each (default: the cores; 0/1 = in-process)",
    )
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds (default 900)")
    parser.add_argument(
        "--history", type=int, default=0, help="earlier turns per user (a class in progress)"
    )
    args = parser.parse_args()
    levels = LONG_LEVELS if args.long else [n for given in args.levels for n in given]
    print(f"{TEXT!r}: the demo model at 50 tokens/s, first token after {FIRST_TOKEN_S} s;")
    print("TTFD = ms from send to the first delta; cpu % = of one core over the level's wall")
    if args.history:
        print(f"each user starts with {args.history} earlier turns (--history)")
    for workers in args.workers:
        with running_stack(workers) as (url, env, serve_pid, aws_pid):
            seed_history(env, max(levels), args.history)
            idle_mb = rss_mb(serve_pid)
            done = ramp(url, env, serve_pid, aws_pid, levels, budget_s=args.budget)
        report(workers, idle_mb, done, levels)


if __name__ == "__main__":
    main()
