"""Ramp concurrent WebSocket users on ``chatkit serve`` until errors or a slow first delta.

The processes of :mod:`benchmarks.concurrency` (``chatkit emulators`` plays AWS with the
demo model at its realistic default of 50 tokens/s; ``chatkit serve`` is the backend). At
each level N users send one ``chat`` at the same moment, and — the baseline, same run — N
threads call the emulator alone with boto3. Both ask with a realistic first-token delay
(``!slow-first 0.7``: a real model's TTFD is 0.6–1 s, so "2× the emulator's" means what it
would on AWS). Per level: errors, p50/p99 time to first delta
(TTFD) through ``chatkit serve`` and from the emulator alone, and the gateway process's
peak memory (RSS) and CPU seconds. The ramp stops at the first level with errors.

The answer: the highest level with zero errors and p99 TTFD within 2× the emulator's own.

Run:  .venv/bin/python -m benchmarks.load [--levels 50 100 200 300 400 500]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Iterator
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

LEVELS = [50, 100, 200, 300, 400, 500]
#: Real Claude: first token after ~0.6–1 s, then 50–100 tokens/s (facts.md); the demo model
#: waits that long before its first token, and streams at its default 50 tokens/s.
FIRST_TOKEN_S = 0.7
TEXT = f"!slow-first {FIRST_TOKEN_S} {QUESTION}"
WITHIN = 2.0  # p99 TTFD through the backend may be at most this × the emulator's


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=int, nargs="+", default=LEVELS)
    args = parser.parse_args()
    rows, best, passing, errors = [], 0, True, []
    with running_stack() as (url, env, serve_pid, aws_pid):
        idle_mb = rss_mb(serve_pid)
        for users in args.levels:
            base: Timings = emulator_alone(env, users, TEXT)
            with CpuMeter(serve_pid, aws_pid).run() as cpu, peak_rss(serve_pid) as peak:
                ours = asyncio.run(through_serve(url, users, TEXT))
            ratio = _ms(ours.first, 99) / _ms(base.first, 99)
            passing = passing and not ours.errors and not base.errors and ratio <= WITHIN
            best = users if passing else best
            rows.append(
                [
                    users,
                    len(ours.errors) + len(base.errors),
                    f"{_ms(base.first, 50):.0f}",
                    f"{_ms(base.first, 99):.0f}",
                    f"{_ms(ours.first, 50):.0f}",
                    f"{_ms(ours.first, 99):.0f}",
                    f"{ratio:.2f}",
                    f"{peak.mb:.0f}",
                    f"{cpu.serve:.1f} / {cpu.wall:.1f}",
                ]
            )
            errors += ours.errors + base.errors
            if ours.errors or base.errors:
                break
    print(f"{TEXT!r}: the demo model at 50 tokens/s, first token after {FIRST_TOKEN_S} s;")
    print("TTFD = ms from send to the first delta;")
    print(f"gateway (chatkit serve) RSS idle {idle_mb:.0f} MB; cpu = its CPU s / wall s\n")
    headers = ["users", "errors", "emulator p50", "emulator p99", "serve p50", "serve p99"]
    print(table([*headers, "p99 ratio", "peak RSS MB", "serve cpu"], rows))
    print(
        f"\nhighest level with zero errors and p99 TTFD ≤ {WITHIN:.0f}× the emulator's: "
        f"{best or 'none'}"
    )
    for error in sorted(set(errors))[:10]:
        print("error:", error)


if __name__ == "__main__":
    main()
