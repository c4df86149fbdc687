"""Steady traffic on ``chatkit serve`` for a bounded time: does anything leak?

The processes of :mod:`benchmarks.load`. ``--users`` clients each loop for ``--minutes``:
connect, ask a short question at the demo model's realistic 50 tokens/s, read the answer,
and every few questions close and reconnect (connection churn). Every ``--every`` seconds
the gateway process is sampled: RSS, open TCP connections and threads (its asyncio tasks
are not visible from outside; open connections and threads are where leaked sessions and
handlers would show), and once more a few seconds after the traffic stops. At the end
every answered request must be in ``/history`` exactly once, and the RSS slope over the
second half of the run (after warm-up) is printed.

Run:  .venv/bin/python -m benchmarks.soak [--minutes 10] [--users 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import websockets

from benchmarks._common import table
from benchmarks.concurrency import running_stack
from benchmarks.load import rss_mb

QUESTION = "!long 120 서울 이야기"  # ~2 s at 50 tokens/s
RECONNECT_EVERY = 5
SETTLE = 5.0  # seconds after the traffic before the last sample


@dataclass
class Traffic:
    answered: dict[str, list[str]] = field(default_factory=dict)  # user → request ids
    errors: list[str] = field(default_factory=list)


@dataclass
class Sample:
    at: float
    rss_mb: float
    connections: int
    threads: int


def sample(pid: int, started: float) -> Sample:
    """The gateway process now (psutil when installed; else RSS only)."""
    try:
        import psutil

        process = psutil.Process(pid)
        tcp = [c for c in process.net_connections("tcp") if c.status == "ESTABLISHED"]
        connections, threads = len(tcp), process.num_threads()
    except ImportError:
        connections = threads = -1
    return Sample(time.monotonic() - started, rss_mb(pid), connections, threads)


async def _ask(ws: websockets.ClientConnection, request_id: str) -> str | None:
    """One question; None when it ended with ``end``, else what went wrong."""
    chat = {"type": "chat", "request_id": request_id, "text": QUESTION}
    await ws.send(json.dumps(chat, ensure_ascii=False))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if frame.get("type") == "end":
            return None
        if frame.get("type") not in ("start", "delta"):
            return frame.get("code") or frame.get("message") or str(frame)


async def _client(
    http: aiohttp.ClientSession, url: str, user: str, until: float, traffic: Traffic
) -> str:
    async with http.post(f"{url}/login", json={"user_id": user}) as response:
        token = (await response.json())["token"]
    answered = traffic.answered.setdefault(user, [])
    ws_url = url.replace("http", "ws", 1) + f"/ws?token={token}"
    while time.monotonic() < until:
        try:
            async with websockets.connect(ws_url, proxy=None, open_timeout=30) as ws:
                for _ in range(RECONNECT_EVERY):
                    if time.monotonic() >= until:
                        break
                    request_id = uuid.uuid4().hex
                    error = await _ask(ws, request_id)
                    if error is None:
                        answered.append(request_id)
                    else:
                        traffic.errors.append(error)
        except Exception as exc:  # counted; the soak goes on
            traffic.errors.append(f"{type(exc).__name__}: {exc}")
    return token


async def _stored(http: aiohttp.ClientSession, url: str, token: str) -> Counter[str]:
    """Request ids in the user's ``/history``, with how often each appears."""
    seen: Counter[str] = Counter()
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{url}/history", params=params, headers=headers) as response:
            page = await response.json()
        seen.update(item["request_id"] for item in page["items"])
        if not (cursor := page["cursor"]):
            return seen


async def soak(
    url: str, pid: int, users: int, seconds: float, every: float, settle: float = SETTLE
):
    """Run the traffic and sampling; returns (traffic, samples, stored-once problems)."""
    traffic, samples = Traffic(), []
    started = time.monotonic()
    until = started + seconds
    async with aiohttp.ClientSession() as http:
        names = [f"soak-{i}" for i in range(users)]
        clients = asyncio.gather(*(_client(http, url, name, until, traffic) for name in names))
        while not clients.done():
            samples.append(await asyncio.to_thread(sample, pid, started))
            await asyncio.wait([clients], timeout=every)
        tokens = clients.result()
        await asyncio.sleep(settle)  # closed sockets and idle handler threads go away
        samples.append(await asyncio.to_thread(sample, pid, started))
        problems = []
        # By name: ``traffic.answered`` fills in the order logins finish, not ``names``'.
        for user, token in zip(names, tokens, strict=True):
            answered = traffic.answered.get(user, [])
            stored = await _stored(http, url, token)
            missing = set(answered) - set(stored)
            twice = [rid for rid, count in stored.items() if count > 1]
            if missing or twice:
                problems.append(f"{user}: {len(missing)} missing, {len(twice)} stored twice")
    return traffic, samples, problems


def slope_mb_per_min(samples: list[Sample]) -> float:
    """Least-squares RSS slope over the second half of the run (after warm-up)."""
    tail = samples[len(samples) // 2 :]
    if len(tail) < 2:
        return float("nan")
    fit = statistics.linear_regression([s.at for s in tail], [s.rss_mb for s in tail])
    return fit.slope * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    with running_stack() as (url, _env, serve_pid, _aws_pid):
        traffic, samples, problems = asyncio.run(
            soak(url, serve_pid, args.users, args.minutes * 60, args.every)
        )
    answered = sum(len(ids) for ids in traffic.answered.values())
    rows = [[f"{s.at:.0f}", f"{s.rss_mb:.1f}", s.connections, s.threads] for s in samples]
    print(f"{args.users} users for {args.minutes:g} min, {QUESTION!r} at 50 tokens/s,")
    print(f"reconnecting every {RECONNECT_EVERY} questions\n")
    print(table(["t s", "gateway RSS MB", "open TCP conns", "threads"], rows))
    slope = slope_mb_per_min(samples)
    growth = samples[-1].rss_mb - samples[len(samples) // 2].rss_mb
    print(f"\nanswers {answered}, errors {len(traffic.errors)}")
    print(f"every answer stored exactly once: {'yes' if not problems else 'NO'}")
    print(f"RSS slope over the second half: {slope:+.2f} MB/min ({growth:+.1f} MB)")
    for line in (problems + sorted(set(traffic.errors)))[:10]:
        print("problem:", line)


if __name__ == "__main__":
    main()
