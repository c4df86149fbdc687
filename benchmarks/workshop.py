"""Class runs: the bounded worker pool vs one attendee after another, in the same run.

For 1 and for 8 attendees, the full notebook set runs offline through
``chatkit.workshop.runner.run_class`` twice: with ``--workers`` worker processes, and with
one (sequential, the baseline). Reports wall time, the speed-up over sequential, and the
peak memory of a worker (the worker process plus the kernels it started, sampled every
0.2 s; psutil if installed, else /proc). Run:

    .venv/bin/python -m benchmarks.workshop [--attendees 1,8] [--workers 2] [--notebooks 00,03]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks._common import table
from chatkit.local import offline_stack
from chatkit.workshop.notebooks import discover_notebooks, select_notebooks
from chatkit.workshop.roster import Attendee
from chatkit.workshop.runner import run_class

MB = 1024 * 1024


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, RSS bytes, command line) for every process on the machine."""
    try:
        import psutil
    except ImportError:
        return _processes_from_proc()
    found = {}
    for proc in psutil.process_iter(["ppid", "memory_info", "cmdline"]):
        info = proc.info
        if info["memory_info"] is not None:
            found[proc.pid] = (
                info["ppid"],
                info["memory_info"].rss,
                " ".join(info["cmdline"] or []),
            )
    return found


def _processes_from_proc() -> dict[int, tuple[int, int, str]]:
    page = os.sysconf("SC_PAGE_SIZE")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            resident = int((entry / "statm").read_text().split()[1]) * page
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found[int(entry.name)] = (ppid, resident, cmdline)
    return found


class PeakMemory:
    """Peak RSS of each worker's process tree (the spawned worker and its kernels) and of
    the largest single kernel, sampled in a background thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.worker_peak = 0
        self.kernel_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            procs = _processes()
            children: dict[int, list[int]] = {}
            for pid, (ppid, _, _) in procs.items():
                children.setdefault(ppid, []).append(pid)
            workers = [pid for pid in children.get(me, []) if "spawn_main" in procs[pid][2]]
            for worker in workers:
                tree = list(_descendants(worker, children))
                self.worker_peak = max(self.worker_peak, sum(procs[p][1] for p in tree))
                kernels = [procs[p][1] for p in tree if "ipykernel" in procs[p][2]]
                self.kernel_peak = max([self.kernel_peak, *kernels])


def _descendants(pid: int, children: dict[int, list[int]]) -> Iterator[int]:
    yield pid
    for child in children.get(pid, []):
        yield from _descendants(child, children)


def measure(attendees: int, workers: int, notebooks: list, demo_rate: float | None) -> dict:
    roster = [Attendee(f"bench-{attendees}-{workers}-{i:02d}") for i in range(attendees)]
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-") as out, PeakMemory() as memory:
        started = time.perf_counter()
        results = run_class(
            roster, notebooks, Path(out), workers=workers, demo_rate=demo_rate, progress=False
        )
        wall = time.perf_counter() - started
    failed = sum(not nb.ok for r in results for nb in r.notebooks)
    return {
        "wall": wall,
        "failed": failed,
        "worker_mb": memory.worker_peak / MB,
        "kernel_mb": memory.kernel_peak / MB,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attendees", default="1,8", help="class sizes (default 1,8)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--notebooks", help="numbers (default: all)")
    parser.add_argument(
        "--demo-rate", type=float, help="offline demo tokens/s (default: each notebook's own)"
    )
    args = parser.parse_args(argv)
    notebooks = select_notebooks(discover_notebooks(), args.notebooks)
    os.environ["CHATKIT_MODE"] = "offline"
    rows = []
    with offline_stack():  # the class database every run shares (as `workshop run` would)
        for size in (int(n) for n in args.attendees.split(",")):
            sequential = measure(size, 1, notebooks, args.demo_rate)
            pooled = measure(size, args.workers, notebooks, args.demo_rate)
            for label, workers, m in (
                ("sequential", 1, sequential),
                ("pool", args.workers, pooled),
            ):
                rows.append(
                    [
                        size,
                        label,
                        workers,
                        m["wall"],
                        m["wall"] / size,
                        sequential["wall"] / m["wall"],
                        m["worker_mb"],
                        m["kernel_mb"],
                        m["failed"],
                    ]
                )
    rate = "notebook defaults" if args.demo_rate is None else args.demo_rate
    print(
        f"{len(notebooks)} notebooks ({', '.join(nb.number for nb in notebooks)}), offline, "
        f"{os.cpu_count()} CPUs, demo rate: {rate}"
    )
    print(
        table(
            [
                "attendees",
                "run",
                "workers",
                "wall s",
                "s/attendee",
                "speed-up",
                "peak MB/worker",
                "peak MB/kernel",
                "failed nb",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
