"""DynamoDB calls and round trips between a chat frame and the model request: the code
before issue 15 (git ``BASELINE``, run from ``git archive``) and now, in the same run.

Each version runs in a child process of its own against one ``chatkit emulators`` process
(Bedrock and DynamoDB play AWS there), their chats taking turns: the ``$default`` handler
answers chats on fresh tables, its Lambda init done first (the chat path built). botocore's
event hooks on the real clients count every DynamoDB call from the frame until
``ConverseStream`` starts (:class:`CallLog`) and how many of them ran one after another:

- **cold container**: the first frame on a connection this container never saw (Lambda
  may run any frame anywhere), **warm**: the next frame in the same container;
- **DynamoDB**: ms with a DynamoDB call in flight before the model (parallel ones once);
  **to model**: from the frame to the ``ConverseStream`` request; **to 1st delta**
  against boto3 ``converse_stream`` alone on the same emulator (interleaved): the time
  chatkit **added** and the ratio. All p50 of warm-container chats, each on an emptied
  history (moto's Query of a long one would hide the round trips: it is the same in both).

Run:  .venv/bin/python -m benchmarks.round_trips [--n 40]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import summary, table

ROOT = Path(__file__).resolve().parents[1]
#: ``main`` before the admission transaction: 9 DynamoDB calls before the model.
BASELINE = "99b7f05"
FIXTURES = ROOT / "tests" / "fixtures" / "apigw" / "aws"
QUESTION = "!rate 0 서울 여행 추천해줘"
#: Limits no benchmark run reaches (the count is what is measured, not the refusals).
OPEN_LIMITS = {
    f"rate_{who}_{what}": 100_000
    for who in ("user", "connection")
    for what in ("burst", "per_minute")
}


@dataclass
class Call:
    operation: str
    started: int  # the order of hook events, not a time
    ended: int | None = None
    seconds: tuple[float, float] = (0.0, 0.0)  # perf_counter at before-call, after-call


class CallLog:
    """Every DynamoDB call (``before-call`` … ``after-call`` hooks) from :meth:`reset` until
    ``ConverseStream`` starts, on the clients it :meth:`watch`-es, with its place in the
    order of events.

    ``partner_wait``: how long a call that returned waits for one issued alongside it to
    start, so calls made in parallel always overlap however threads are scheduled (a lone
    call waits in vain); 0 for timing runs::

        log = CallLog().watch(dynamodb_client(settings), bedrock_runtime_client(settings))
        log.reset()
        ...                                     # one chat
        len(log.calls), log.round_trips()       # (2, 1)
    """

    def __init__(self, partner_wait: float = 1.0) -> None:
        self.calls: list[Call] = []
        self.model_asked_at: float | None = 0.0  # nothing counted before reset()
        self.partner_wait = partner_wait
        self._events = 0
        self._changed = threading.Condition()
        self._watched: list[tuple[Any, str, str]] = []

    def watch(self, dynamodb: Any, bedrock: Any) -> CallLog:
        """Hook into these clients (again: no effect)."""
        for client, event, handler in (
            (dynamodb, "before-call.dynamodb", self._before),
            (dynamodb, "after-call.dynamodb", self._after),
            (bedrock, "before-call.bedrock-runtime.ConverseStream", self._model),
        ):
            unique_id = f"{id(self)}-{event}"
            client.meta.events.register(event, handler, unique_id=unique_id)
            self._watched.append((client, event, unique_id))
        return self

    def unwatch(self) -> None:
        """Remove the hooks: clients are shared (cached per endpoint), a hook left behind
        would hold every later DynamoDB call for ``partner_wait``."""
        for client, event, unique_id in self._watched:
            client.meta.events.unregister(event, unique_id=unique_id)
        self._watched.clear()

    @property
    def model_asked(self) -> bool:
        return self.model_asked_at is not None

    def reset(self) -> None:
        with self._changed:
            self.calls, self.model_asked_at = [], None

    def waited_ms(self) -> float:
        """Wall time with at least one DynamoDB call in flight (parallel calls once)."""
        total, reached = 0.0, 0.0
        for start, end in sorted(call.seconds for call in self.calls):
            total += max(0.0, end - max(start, reached))
            reached = max(reached, end)
        return total * 1000

    def round_trips(self) -> int:
        """The longest chain of calls each started after the one before it returned."""
        depth: dict[int, int] = {}
        for call in sorted(self.calls, key=lambda c: c.started):
            before = [depth[id(c)] for c in self.calls if c.ended and c.ended < call.started]
            depth[id(call)] = 1 + max(before, default=0)
        return max(depth.values(), default=0)

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        with self._changed:
            if not self.model_asked:
                context["counted"] = Call(
                    model.name, self._tick(), None, (time.perf_counter(), 0.0)
                )
                self.calls.append(context["counted"])
                self._changed.notify_all()

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        call = context.get("counted")
        if call is None:
            return
        with self._changed:
            returned = time.perf_counter()
            self._changed.wait_for(lambda: self._partnered(call), timeout=self.partner_wait)
            call.ended, call.seconds = self._tick(), (call.seconds[0], returned)
            self._changed.notify_all()

    def _partnered(self, call: Call) -> bool:
        return any(
            other is not call and (other.ended is None or other.ended > call.started)
            for other in self.calls
        )

    def _model(self, **_: Any) -> None:
        with self._changed:
            if not self.model_asked:
                self.model_asked_at = time.perf_counter()

    def _tick(self) -> int:
        self._events += 1
        return self._events


class _Frames:
    """``@connections`` for the benchmark: notes when the first delta was posted."""

    class exceptions:
        class GoneException(Exception):
            pass

    def __init__(self) -> None:
        self.first_delta: float | None = None

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
        if self.first_delta is None and b'"delta"' in Data:
            self.first_delta = time.perf_counter()

    def delete_connection(self, ConnectionId: str) -> None:
        pass


def _event(name: str, connection_id: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    event["requestContext"]["connectionId"] = connection_id
    event.update(changes)
    return event


def serve_measurements() -> None:
    """The child's side: this process's chatkit against the emulators in the environment.
    Prints the counts (cold and warm container) as a JSON line, then one JSON line of
    timings for every line read from stdin (a timed chat in the warm container, then boto3
    alone)."""
    from benchmarks.session_overhead import boto3_first_delta
    from chatkit.aws.apigw import WebSocketEvent
    from chatkit.aws.backend import Backend
    from chatkit.aws_clients import bedrock_runtime_client, dynamodb_client
    from chatkit.config import Settings
    from chatkit.local.dynamodb import create_tables

    suffix = uuid.uuid4().hex[:8]
    settings = Settings.from_env().with_(
        table_name=f"rt-{suffix}", state_table_name=f"rt-state-{suffix}", **OPEN_LIMITS
    )
    create_tables(dynamodb_client(settings), settings)
    frames = _Frames()
    bedrock = bedrock_runtime_client(settings)
    log = CallLog().watch(dynamodb_client(settings), bedrock)

    def container() -> Any:
        built = Backend(settings, management=lambda endpoint: frames)
        built.session.model  # noqa: B018 - the chat function's init builds the chat path
        built.state  # noqa: B018
        return built

    def connect(backend: Any, user: str) -> str:
        connection_id = uuid.uuid4().hex
        token, _ = backend.auth.issue(user)
        event = _event("ws_connect", connection_id, queryStringParameters={"token": token})
        assert backend.connect(WebSocketEvent(event))["statusCode"] == 200
        return connection_id

    def chat(backend: Any, connection_id: str, partner_wait: float) -> list[float]:
        body = json.dumps({"type": "chat", "request_id": uuid.uuid4().hex, "text": QUESTION})
        frames.first_delta, log.partner_wait = None, partner_wait
        log.reset()
        started = time.perf_counter()
        backend.message(WebSocketEvent(_event("ws_default", connection_id, body=body)))
        assert log.model_asked_at and frames.first_delta, "the chat was not answered"
        to_model = (log.model_asked_at - started) * 1000
        return [to_model, log.waited_ms(), (frames.first_delta - started) * 1000]

    def counted(backend: Any, connection_id: str) -> dict[str, Any]:
        chat(backend, connection_id, partner_wait=1.0)
        return {"calls": [c.operation for c in log.calls], "round_trips": log.round_trips()}

    warm = container()
    connection_id = connect(warm, "bench")
    counts = {"cold": counted(container(), connection_id)}
    chat(warm, connection_id, 0.0)  # now this container knows the connection
    counts["warm"] = counted(warm, connection_id)
    print(json.dumps(counts), flush=True)
    for _ in sys.stdin:
        warm.session.reset("bench")  # the context read stays one small Query (not timed)
        timings = chat(warm, connection_id, 0.0)
        timings.append(boto3_first_delta(bedrock, settings.model_id))
        print(json.dumps(timings), flush=True)


class _Child:
    """:func:`serve_measurements` in a child process, ``source``'s chatkit first on its
    path; each :meth:`timed` call is one chat there."""

    def __init__(self, source: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.round_trips", "--serve"],
            cwd=source,  # first on the path: its chatkit
            env={**env, "PYTHONPATH": os.pathsep.join([str(source), str(ROOT)])},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.result: dict[str, Any] = {**self._line(), "timings": []}

    def timed(self, keep: bool = True) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("chat\n")
        self.process.stdin.flush()
        timings = self._line()
        if keep:
            self.result["timings"].append(timings)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)

    def _line(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"measuring failed (exit {self.process.wait()}); see stderr")
        return json.loads(line)


@contextlib.contextmanager
def _baseline_source():
    """``chatkit`` as it was at :data:`BASELINE`, in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", BASELINE, "chatkit"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


def _rows(name: str, result: dict[str, Any]) -> list[list[object]]:
    columns = list(zip(*result["timings"], strict=True))
    m, w, d, r = (summary(column) for column in columns)
    return [
        [
            f"{name}, {where} container",
            len(result[where]["calls"]),
            result[where]["round_trips"],
            w["p50"] if where == "warm" else "",
            m["p50"] if where == "warm" else "",
            d["p50"] if where == "warm" else "",
            d["p50"] - r["p50"] if where == "warm" else "",
            f"{d['p50'] / r['p50']:.2f}x" if where == "warm" else "",
        ]
        for where in ("cold", "warm")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40, help="timed chats per version")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_measurements()
        return
    from benchmarks.concurrency import emulators_process, offline_env

    with emulators_process("--rate", "0") as (_, stack_env), _baseline_source() as old:
        env = offline_env(stack_env)
        children = {f"before ({BASELINE})": _Child(old, env), "now": _Child(ROOT, env)}
        for round_ in range(5 + args.n):  # in turns, so machine noise hits both alike
            for child in children.values():
                child.timed(keep=round_ >= 5)  # the first five warm up
        for child in children.values():
            child.close()
        results = {name: child.result for name, child in children.items()}
    print(f"DynamoDB before the model request; {args.n} timed chats per version (ms, p50)\n")
    rows = [row for name, result in results.items() for row in _rows(name, result)]
    headers = [
        "path",
        "calls",
        "in a row",
        "DynamoDB",
        "to model",
        "to 1st delta",
        "added",
        "vs boto3",
    ]
    print(table(headers, rows))
    for name, result in results.items():
        print(f"\n{name}: cold {result['cold']['calls']}, warm {result['warm']['calls']}")
    raw = summary([t[3] for result in results.values() for t in result["timings"]])
    print(f"\nboto3 converse_stream alone: first delta p50 {raw['p50']:.2f} ms")


if __name__ == "__main__":
    main()
