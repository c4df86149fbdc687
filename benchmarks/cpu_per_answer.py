"""chatkit's CPU per answer vs a raw boto3 relay of the same answer, same run (issue 15).

Lambda-shaped: the stand-in AWS runs in other processes — ``chatkit emulators`` (Bedrock
emulator with the demo model, DynamoDB) and a minimal ``@connections`` receiver that takes
every ``post_to_connection`` — so this process's CPU (``time.process_time()``, all its
threads) is only what the function itself spends:

- **raw relay** (the issue's baseline): boto3 ``converse_stream`` of the demo model's
  ``!long 2000`` answer and one ``post_to_connection`` per ``contentBlockDelta`` (then
  one ``end``);
- **raw relay, coalesced** (the stricter baseline): the same loop posting by chatkit's
  rule (the first delta at once, then what gathered after 50 ms or 1 KB, checked as deltas
  arrive), so about as many posts as chatkit makes: what is left is chatkit's own work per
  chunk (langchain's message objects, thread hand-offs, session, relay);
- **chatkit**: the real ``chatkit.aws.handlers.ws_default`` called in-process with an API
  Gateway ``$default`` event (AWS's sample event, tests/fixtures/apigw/aws), after a
  ``$connect`` for a fresh user; the function's init ran first, as on Lambda.

Both answers are checked at the receiver (same text). The chatkit row is split: CPU
inside DynamoDB calls (boto3 client work, measured per call in the calling thread with
botocore's ``provide-client-params``/``after-call`` hooks: identity, rate limits, lease,
claim, context, save…) and the rest (langchain, session, relay, posts). Run:

    .venv/bin/python -m benchmarks.cpu_per_answer [--n 5] [--rates 0 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from benchmarks._common import table

ROOT = Path(__file__).parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "apigw" / "aws"
TARGET_RATIO = 2.0
CHARS = 2000


# -- the @connections receiver (its own process) ------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    """``POST /@connections/{id}`` is kept per id; ``GET /frames/{id}`` hands them over."""

    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway's endpoint
    frames: ClassVar[dict[str, list[str]]] = defaultdict(list)
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.frames[self.path.rsplit("/", 1)[1]].append(body.decode())
        self._answer(b"")

    def do_GET(self) -> None:
        with self.lock:
            frames = self.frames.pop(self.path.rsplit("/", 1)[1], [])
        self._answer(json.dumps(frames, ensure_ascii=False).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve_receiver() -> None:
    """The receiver process: prints its URL, serves until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


@contextmanager
def receiver_process() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.cpu_per_answer", "--receiver"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(20)


def received(url: str, connection_id: str) -> list[dict[str, Any]]:
    """The frames the receiver got for ``connection_id`` (parsed), once."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/frames/{connection_id}", timeout=30) as response:
        return [json.loads(frame) for frame in json.loads(response.read())]


def answer_text(frames: list[dict[str, Any]]) -> str:
    ends = [f for f in frames if f.get("type") == "end"]
    assert len(ends) == 1, f"expected one end frame, got {[f.get('type') for f in frames]}"
    return "".join(f["text"] for f in frames if f.get("type") == "delta")


# -- measuring --------------------------------------------------------------------------


@dataclass
class Sample:
    cpu: float  # process CPU seconds for the whole answer
    dynamodb: float = 0.0  # of which inside DynamoDB client calls
    dynamodb_calls: int = 0
    posts: int = 0


class DynamoDBMeter:
    """Thread CPU spent inside each DynamoDB client call (botocore event hooks)."""

    def __init__(self) -> None:
        self.cpu, self.calls = 0.0, 0
        self._started = threading.local()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self._start)
        client.meta.events.register("after-call.dynamodb", self._stop)
        client.meta.events.register("after-call-error.dynamodb", self._stop)

    def _start(self, **_: Any) -> None:
        self._started.at = time.thread_time()

    def _stop(self, **_: Any) -> None:
        self.cpu += time.thread_time() - self._started.at
        self.calls += 1

    def reset(self) -> None:
        self.cpu, self.calls = 0.0, 0


def question(rate: float) -> str:
    return f"!long {CHARS} !rate {rate:g} 서울 이야기"


def raw_relay(
    env: dict[str, str], receiver: str, *, coalesced: bool
) -> Callable[[float], tuple[Sample, str]]:
    """The baseline: plain boto3 clients in a plain loop; one post per delta, or (the
    ``coalesced`` baseline) as few posts as chatkit makes: the first delta at once, then
    what gathered when 50 ms have passed or 1 KB waits (chatkit's rule)."""
    import boto3
    from botocore.config import Config

    from chatkit.protocol import DeltaCoalescer

    keys = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}
    bedrock = boto3.session.Session().client(
        "bedrock-runtime",
        endpoint_url=env["CHATKIT_BEDROCK_ENDPOINT"],
        region_name=env["CHATKIT_BEDROCK_REGION"],
        config=Config(read_timeout=120),
        **keys,
    )
    api = boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=receiver, region_name=env["AWS_REGION"], **keys
    )

    def run(rate: float) -> tuple[Sample, str]:
        connection_id, seq = uuid.uuid4().hex, 0
        coalescer = DeltaCoalescer(0.05 if coalesced else 0.0, 1024)

        def post(frame: dict[str, Any]) -> None:
            nonlocal seq
            data = json.dumps({**frame, "request_id": "r1", "seq": seq}, ensure_ascii=False)
            api.post_to_connection(ConnectionId=connection_id, Data=data.encode())
            seq += 1

        started = time.process_time()
        response = bedrock.converse_stream(
            modelId=env["CHATKIT_MODEL_ID"],
            messages=[{"role": "user", "content": [{"text": question(rate)}]}],
        )
        for event in response["stream"]:
            if "contentBlockDelta" in event:
                text = event["contentBlockDelta"]["delta"].get("text", "")
                if (ready := coalescer.push(text, time.monotonic())) is not None:
                    post({"type": "delta", "text": ready})
        if (rest := coalescer.flush(time.monotonic())) is not None:
            post({"type": "delta", "text": rest})
        post({"type": "end"})
        sample = Sample(time.process_time() - started, posts=seq)
        return sample, answer_text(received(receiver, connection_id))

    return run


def _event(name: str, connection_id: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    event["requestContext"]["connectionId"] = connection_id
    event.update(changes)
    return event


def chatkit_handler(receiver: str) -> Callable[[float], tuple[Sample, str]]:
    """The real ``$default`` handler in this process (environment already set)."""
    from chatkit.aws import handlers

    handlers.cold_start()
    backend = handlers.init(f"{handlers.__name__}.{handlers.CHAT_HANDLER}")  # Lambda's init
    meter = DynamoDBMeter()
    clients = (backend.state.client, backend.session.history.client)
    for client in {id(c): c for c in clients}.values():  # often one client
        meter.attach(client)

    def run(rate: float) -> tuple[Sample, str]:
        user, connection_id = f"cpu-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
        token, _ = backend.auth.issue(user)
        query = {"token": token}
        connect = _event("ws_connect", connection_id, queryStringParameters=query)
        connect["multiValueQueryStringParameters"] = {"token": [token]}
        assert handlers.ws_connect(connect)["statusCode"] == 200
        chat = {"type": "chat", "request_id": uuid.uuid4().hex, "text": question(rate)}
        event = _event("ws_default", connection_id, body=json.dumps(chat, ensure_ascii=False))
        meter.reset()
        started = time.process_time()
        assert handlers.ws_default(event)["statusCode"] == 200
        cpu = time.process_time() - started
        frames = received(receiver, connection_id)
        sample = Sample(cpu, meter.cpu, meter.calls, posts=len(frames))
        return sample, answer_text(frames)

    return run


def handler_env(emulators: dict[str, str], receiver: str) -> dict[str, str]:
    return {
        **emulators,
        "CHATKIT_MODE": "offline",
        "CHATKIT_CONNECTIONS_ENDPOINT": receiver,
        "CHATKIT_AUTH_SECRET": uuid.uuid4().hex,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def median(samples: list[Sample], attr: str) -> float:
    return statistics.median(getattr(s, attr) for s in samples)


PATHS = {
    "raw": "raw boto3 relay, a post per delta (baseline)",
    "raw coalesced": "raw boto3 relay, coalesced like chatkit",
    "chatkit": "chatkit ws_default handler",
}


def report(results: dict[float, dict[str, list[Sample]]], n: int) -> None:
    print(f"one {CHARS:,}-character answer (demo model, 944 tokens); median of {n} runs;")
    print("CPU = this process (the function), emulators and receiver in their own processes\n")
    rows = []
    for rate, paths in results.items():
        label = f"{rate:g}" if rate else "0 (burst)"
        cpu = {name: median(samples, "cpu") * 1000 for name, samples in paths.items()}
        ours = paths["chatkit"]
        for name, samples in paths.items():
            calls = samples[0].dynamodb_calls or "-"
            dynamo = median(samples, "dynamodb") * 1000 if samples[0].dynamodb_calls else "-"
            rows.append([label, PATHS[name], cpu[name], dynamo, calls, median(samples, "posts")])
        rest = statistics.median((s.cpu - s.dynamodb) * 1000 for s in ours)
        rows.append([label, "  chatkit without its DynamoDB calls", rest, "-", "-", "-"])
        for base in ("raw", "raw coalesced"):
            ratio, without = cpu["chatkit"] / cpu[base], rest / cpu[base]
            met = "met" if without <= TARGET_RATIO else "NOT met"
            text = f"{ratio:.2f}x; {without:.2f}x without DynamoDB ({met})"
            rows.append([label, f"  chatkit / {base}", text, "-", "-", "-"])
    headers = ["tok/s", "path", "cpu ms", "in DynamoDB ms", "DynamoDB calls", "posts"]
    print(table(headers, rows))
    print(f"\ntarget: chatkit's CPU without its DynamoDB calls ≤ {TARGET_RATIO:g}x the raw relay's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5, help="measured answers per path and rate")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 50.0])
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        return serve_receiver()
    from benchmarks.concurrency import emulators_process

    with emulators_process() as (_, emulators), receiver_process() as receiver:
        os.environ.update(handler_env(emulators, receiver))
        paths = {
            "raw": raw_relay(emulators, receiver, coalesced=False),
            "raw coalesced": raw_relay(emulators, receiver, coalesced=True),
            "chatkit": chatkit_handler(receiver),
        }
        for run in paths.values():  # warm-up: imports, connections, first-call caches
            for _ in range(2):
                run(0)
        results: dict[float, dict[str, list[Sample]]] = {}
        for rate in args.rates:
            results[rate] = {name: [] for name in paths}
            for _ in range(args.n):  # interleaved so machine noise hits both alike
                texts = set()
                for name, run in paths.items():
                    sample, text = run(rate)
                    results[rate][name].append(sample)
                    texts.add(text)
                assert len(texts) == 1 and len(texts.pop()) >= CHARS, "answers differ"
    report(results, args.n)


if __name__ == "__main__":
    main()
