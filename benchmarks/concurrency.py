"""N users at once through ``chatkit serve`` vs the emulator alone, same run.

Three processes, as deployed: ``chatkit emulators`` (the Bedrock emulator with the demo
model at its default 50 tokens/s, and DynamoDB) plays AWS; ``chatkit serve`` pointed at it
is the backend (local API Gateway + the real Lambda handlers); this script is the users.

- **chatkit serve**: N users log in (``POST /login``), open a WebSocket each, then all send
  one ``chat`` at the same moment; time from each ``send`` to its first and last delta.
- **emulator alone** (baseline): N threads call boto3 ``converse_stream`` on the emulator
  at the same moment; time to the first and last ``contentBlockDelta``.

The difference is what the backend adds (auth, history claim and context read, langchain,
the relay, ``@connections`` posts, saving the turn). Errors must be 0. The CPU columns show
where the time goes: every handler runs in the one ``chatkit serve`` process (on AWS each
invocation has its own Lambda), so when its CPU seconds approach the wall time, that
process is the bottleneck.

Run:  .venv/bin/python -m benchmarks.concurrency [--users 50 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import boto3
import websockets
from botocore.config import Config

from benchmarks._common import percentile, table

ROOT = Path(__file__).parents[1]
QUESTION = "서울 여행 추천해줘"
TIMED_OUT = "Endpoint request timed out"
_EXPORT = re.compile(r"export (\w+)=(.*)")
_STACK_READY = re.compile("offline stack running")
_SERVING = re.compile(r"chatkit serving on (http://\S+?)/?$")


@dataclass
class Timings:
    """Seconds from the request to the first and the last delta, per user; errors."""

    first: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Users who got API Gateway's 29 s integration-timeout frame (the answer goes on).
    timed_out: int = 0

    def add(self, first: float | None, last: float | None, error: str | None) -> None:
        if error is not None or first is None or last is None:
            self.errors.append(error or "no delta")
        else:
            self.first.append(first)
            self.last.append(last)


# -- the processes ---------------------------------------------------------------------


def offline_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without AWS/chatkit settings, offline, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHATKIT_"))}
    env.update(
        CHATKIT_MODE="offline",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    return {**env, **(extra or {})}


@contextmanager
def chatkit_process(
    args: list[str], env: dict[str, str], ready: re.Pattern[str]
) -> Iterator[tuple[int, list[str]]]:
    """Run ``python -m chatkit ARGS``; yields its pid and its stdout lines up to the
    ``ready`` line. Its log (stderr) goes to a temporary file, shown if it fails to start."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chatkit", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        lines: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.strip())
                if ready.search(line.strip()):
                    break
            else:
                log.seek(0)
                raise RuntimeError(f"chatkit {args[0]} exited: {lines}\n{log.read()[-3000:]}")
            # Keep reading so that the pipe never fills.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            yield proc.pid, lines
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def emulators_process(*args: str) -> Iterator[tuple[int, dict[str, str]]]:
    """``chatkit emulators ARGS``: yields its pid and the environment its export lines give."""
    with chatkit_process(["emulators", *args], offline_env(), _STACK_READY) as (pid, lines):
        yield pid, dict(m.groups() for line in lines if (m := _EXPORT.fullmatch(line)))


@contextmanager
def running_stack(workers: int = 0) -> Iterator[tuple[str, dict[str, str], int, int]]:
    """``chatkit emulators`` + ``chatkit serve --workers WORKERS``, warmed up: yields the
    serve URL, the emulators' environment, and the serve and emulators pids."""
    with emulators_process() as (aws_pid, env):
        serve = ["serve", "--port", "0", "--workers", str(workers)]
        with chatkit_process(serve, offline_env(env), _SERVING) as (serve_pid, served):
            url = _SERVING.search(served[-1])[1]
            asyncio.run(through_serve(url, 2 * max(workers, 1)))  # warm-up: each worker
            emulator_alone(env, 1)
            yield url, env, serve_pid, aws_pid


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (``chatkit serve``'s workers; Linux ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux ``/proc``; else NaN)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """CPU seconds used during one run by the backend (the gateway, and its worker
    processes if any) and by the stand-in AWS, and wall time."""

    serve_pid: int
    aws_pid: int
    serve: float = 0.0
    workers: float = 0.0
    aws: float = 0.0
    wall: float = 0.0

    @contextmanager
    def run(self) -> Iterator[CpuMeter]:
        workers = child_pids(self.serve_pid)
        before = [cpu_seconds(p) for p in (self.serve_pid, self.aws_pid, *workers)]
        started = time.perf_counter()
        yield self
        after = [cpu_seconds(p) for p in (self.serve_pid, self.aws_pid, *workers)]
        used = [a - b for a, b in zip(after, before, strict=True)]
        self.serve, self.aws, self.workers = used[0], used[1], sum(used[2:])
        self.wall = time.perf_counter() - started


# -- through chatkit serve ---------------------------------------------------------------


class StartLine:
    """Every user arrives (logged in, connected, or failed trying); then all go at once."""

    def __init__(self, users: int) -> None:
        self.waiting = users
        self.go = asyncio.Event()

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.go.set()


def bench_user(index: int) -> str:
    """The user id of the ``index``-th simulated user (the same at every level)."""
    return f"bench-{index}"


async def _user(
    http: aiohttp.ClientSession,
    url: str,
    index: int,
    line: StartLine,
    timings: Timings,
    text: str = QUESTION,
) -> None:
    first = last = error = None
    arrived = False
    try:
        async with http.post(f"{url}/login", json={"user_id": bench_user(index)}) as response:
            token = (await response.json())["token"]
        ws_url = url.replace("http", "ws", 1) + f"/ws?token={token}"
        async with websockets.connect(ws_url, proxy=None, open_timeout=60) as ws:
            chat = {"type": "chat", "request_id": uuid.uuid4().hex, "text": text}
            arrived = True
            line.arrive()
            await line.go.wait()
            started = time.perf_counter()
            await ws.send(json.dumps(chat, ensure_ascii=False))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if frame.get("type") == "delta":
                    last = time.perf_counter() - started
                    first = first if first is not None else last
                elif frame.get("type") == "end":
                    break
                elif frame.get("message") == TIMED_OUT:  # the answer still comes
                    timings.timed_out += 1
                elif frame.get("type") != "start":  # an error frame or another gateway frame
                    error = frame.get("code") or frame.get("message") or str(frame)
                    break
    except Exception as exc:  # counted, and the run goes on
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if not arrived:
            line.arrive()
    timings.add(first, last, error)


async def through_serve(url: str, users: int, text: str = QUESTION) -> Timings:
    timings, line = Timings(), StartLine(users)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=users)) as http:
        await asyncio.gather(*(_user(http, url, i, line, timings, text) for i in range(users)))
    return timings


# -- the emulator alone ------------------------------------------------------------------


def emulator_alone(env: Mapping[str, str], users: int, text: str = QUESTION) -> Timings:
    client = boto3.session.Session().client(
        "bedrock-runtime",
        endpoint_url=env["CHATKIT_BEDROCK_ENDPOINT"],
        region_name=env["CHATKIT_BEDROCK_REGION"],
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
        config=Config(
            max_pool_connections=users, retries={"total_max_attempts": 1}, read_timeout=120
        ),
    )
    barrier, timings, lock = threading.Barrier(users), Timings(), threading.Lock()

    def one(_: int) -> None:
        first = last = error = None
        barrier.wait()
        started = time.perf_counter()
        try:
            response = client.converse_stream(
                modelId=env["CHATKIT_MODEL_ID"],
                messages=[{"role": "user", "content": [{"text": text}]}],
            )
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    last = time.perf_counter() - started
                    first = first if first is not None else last
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        with lock:
            timings.add(first, last, error)

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(one, range(users)))
    return timings


# -- report ------------------------------------------------------------------------------


def _row(users: int, path: str, t: Timings, cpu: CpuMeter) -> list[object]:
    def ms(values: list[float], pct: float) -> str:
        return f"{percentile(values, pct) * 1000:.0f}" if values else "-"

    return [
        users,
        path,
        ms(t.first, 50),
        ms(t.first, 99),
        ms(t.last, 50),
        ms(t.last, 99),
        len(t.errors),
        t.timed_out,
        f"{cpu.wall:.1f}",
        f"{cpu.serve:.1f}",
        f"{cpu.aws:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200])
    args = parser.parse_args()
    with running_stack() as (url, env, serve_pid, aws_pid):
        rows, errors = [], []
        for users in args.users:
            with CpuMeter(serve_pid, aws_pid).run() as base_cpu:
                base = emulator_alone(env, users)
            with CpuMeter(serve_pid, aws_pid).run() as ours_cpu:
                ours = asyncio.run(through_serve(url, users))
            rows += [
                _row(users, "emulator alone (boto3)", base, base_cpu),
                _row(users, "chatkit serve (WebSocket)", ours, ours_cpu),
            ]
            errors += base.errors + ours.errors
    print(f"{QUESTION!r} at the demo model's 50 tokens/s; ms from the request;")
    print("29 s frames = users who got API Gateway's integration-timeout frame (then the answer);")
    print("cpu s = CPU seconds used in the run by `chatkit serve` and by `chatkit emulators`\n")
    headers = ["users", "path", "first p50", "first p99", "last p50", "last p99", "errors"]
    print(table([*headers, "29 s frames", "wall s", "serve cpu s", "emulators cpu s"], rows))
    for error in sorted(set(errors))[:10]:
        print("error:", error)


if __name__ == "__main__":
    main()
