"""Ramp concurrent WebSocket users on ``chatkit serve`` until errors or a slow first delta.

The processes of :mod:`benchmarks.concurrency` (``chatkit emulators`` plays AWS with the
demo model at its realistic default of 50 tokens/s; ``chatkit serve`` is the backend). At
each level N users send one ``chat`` at the same moment, and — the baseline, same run — N
threads call the emulator alone with boto3. Both ask with a realistic first-token delay
(``!slow-first 0.7``: a real model's TTFD is 0.6–1 s, so "2× the emulator's" means what it
would on AWS). Per level: errors, p50/p99 time to first delta
(TTFD) through ``chatkit serve`` and from the emulator alone, and the gateway process's
peak memory (RSS) and CPU seconds. The ramp stops at the first level with errors, or when
the time budget is spent (the level running then finishes).

The answer: the highest level with zero errors and p99 TTFD within 2× the emulator's own.

Run:  .venv/bin/python -m benchmarks.load                  # short form: 10 and 50 users
      .venv/bin/python -m benchmarks.load --long           # the ramp 50 → 500
      .venv/bin/python -m benchmarks.load --levels 50,100,200   # or --levels 50 100 200
"""

from __future__ import annotations

import argparse
import asyncio
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
    emulator_alone,
    running_stack,
    through_serve,
)

SHORT_LEVELS = [10, 50]
LONG_LEVELS = [50, 100, 200, 300, 500]
#: Real Claude: first token after ~0.6–1 s, then 50–100 tokens/s (facts.md); the demo model
#: waits that long before its first token, and streams at its default 50 tokens/s.
FIRST_TOKEN_S = 0.7
TEXT = f"!slow-first {FIRST_TOKEN_S} {QUESTION}"
WITHIN = 2.0  # p99 TTFD through the backend may be at most this × the emulator's
BUDGET_S = 15 * 60  # no new level starts after this many seconds


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (psutil if installed, else ``/proc``)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Peak:
    """The highest RSS seen while sampling."""

    mb: float = 0.0


@contextmanager
def peak_rss(pid: int, every: float = 0.2) -> Iterator[Peak]:
    """Sample ``pid``'s RSS every ``every`` s in a thread; ``.mb`` is the peak."""
    peak, done = Peak(rss_mb(pid)), threading.Event()

    def sample() -> None:
        while not done.wait(every):
            peak.mb = max(peak.mb, rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        peak.mb = max(peak.mb, rss_mb(pid))


def _ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000 if values else float("nan")


@dataclass
class Level:
    """One level of the ramp: both paths' timings, the gateway's peak RSS and CPU."""

    users: int
    base: Timings
    ours: Timings
    peak_mb: float
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
            f"{self.peak_mb:.0f}",
            f"{self.cpu.serve:.1f} / {self.cpu.wall:.1f}",
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
        done.append(Level(users, base, ours, peak.mb, cpu))
        if done[-1].errors:
            break
    return done


def highest_passing(levels: list[Level]) -> int:
    """The highest level such that it and every level below it passed (0: none)."""
    best = 0
    for level in levels:
        if not level.passing:
            break
        best = level.users
    return best


def _levels(raw: str) -> list[int]:
    """``"50,100 200"`` → ``[50, 100, 200]``."""
    return [int(part) for part in raw.replace(",", " ").split()]


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
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds (default 900)")
    args = parser.parse_args()
    levels = LONG_LEVELS if args.long else [n for given in args.levels for n in given]
    with running_stack() as (url, env, serve_pid, aws_pid):
        idle_mb = rss_mb(serve_pid)
        started = time.monotonic()
        done = ramp(url, env, serve_pid, aws_pid, levels, budget_s=args.budget)
        elapsed = time.monotonic() - started
    print(f"{TEXT!r}: the demo model at 50 tokens/s, first token after {FIRST_TOKEN_S} s;")
    print("TTFD = ms from send to the first delta;")
    print(f"gateway (chatkit serve) RSS idle {idle_mb:.0f} MB; cpu = its CPU s / wall s\n")
    headers = ["users", "errors", "emulator p50", "emulator p99", "serve p50", "serve p99"]
    print(table([*headers, "p99 ratio", "peak RSS MB", "serve cpu"], [d.row() for d in done]))
    best = highest_passing(done)
    print(
        f"\nhighest level with zero errors and p99 TTFD ≤ {WITHIN:.0f}× the emulator's: "
        f"{best or 'none'}  (ramp took {elapsed:.0f} s)"
    )
    skipped = levels[len(done) :]
    if skipped:
        why = "errors at the last level" if done and done[-1].errors else "time budget spent"
        print(f"not run: {skipped} ({why})")
    for error in sorted({e for d in done for e in d.errors})[:10]:
        print("error:", error)


if __name__ == "__main__":
    main()
