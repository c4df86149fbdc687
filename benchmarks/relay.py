"""Relay traffic of one streamed answer on a real WebSocket: our relay vs the seed's, same run.

The same Korean answer (the demo model's ``!long 2000`` answer, split into tokens exactly as
the demo model streams them) is paced at 50 and 1,000 tokens/s and relayed by a Lambda
handler running behind the local API Gateway, which posts every frame with real boto3
``post_to_connection`` calls to ``@connections``; a ``websockets`` client counts what
arrives (bytes = UTF-8 payload of every frame).

- **ours**: :func:`chatkit.aws.relay.relay` — deltas carry only new text, the first at
  once, later ones coalesced (50 ms or 1 KB), ``FrameWriter`` frames (``seq``, ≤ 32 KB,
  ``ensure_ascii=False``), then an ``end`` frame.
- **seed**: what the seed post did — after every character, post the whole accumulated
  answer with ``json.dumps`` defaults (``ensure_ascii=True``: 6 bytes per Hangul syllable),
  blocking the stream while it posts.

Time to last byte runs from the client's ``send`` to the frame that completes the answer
text (ours: the last delta; its ``end`` frame, with usage and latency, follows and is shown
too). Frames/s = delta frames per second between the first and the last delta, as they
arrive. The targets are for the 2,000-character answer (the seed's bytes grow with the
square of the length, ours linearly).

Run:  .venv/bin/python -m benchmarks.relay [--chars 2000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from benchmarks._common import table
from chatkit.aws.relay import relay
from chatkit.aws_clients import management_client
from chatkit.config import Settings
from chatkit.events import Delta, End, Event, Latency, Start, Usage
from chatkit.local.demo_model import DemoModel
from chatkit.local.gateway import Gateway

RATES = (50.0, 1000.0)
TARGET_BYTES_RATIO, TARGET_FRAMES_PER_S, TARGET_FRAMES_RATIO_AT_50 = 100, 20, 3
#: "Equal" time to last byte: within one post (at 50 tok/s both relays wait for the model).
SAME_LAST_BYTE_S = 0.010
_SETTINGS = Settings(mode="offline")


def demo_tokens(chars: int) -> list[str]:
    """The demo model's tokens for a ``!long chars`` answer."""
    question = f"!long {chars} 서울 이야기"
    return DemoModel().reply([{"role": "user", "content": [{"text": question}]}]).tokens


async def paced(tokens: list[str], rate: float, request_id: str) -> AsyncIterator[Event]:
    """Session-like events, token ``i`` due at ``i / rate`` s (as the emulator paces)."""
    yield Start(request_id, "demo", "")
    loop = asyncio.get_running_loop()
    first = loop.time()
    for index, token in enumerate(tokens):
        if rate > 0 and index > 0:
            await asyncio.sleep(max(0.0, first + index / rate - loop.time()))
        yield Delta(request_id, token)
    yield End(request_id, "end_turn", Usage(0, len(tokens)), Latency(0, 0))


async def seed_relay(events: AsyncIterator[Event], post: Callable[[str], Any], request_id: str):
    """The baseline: the whole answer so far, after every character, ASCII-escaped."""
    answer = ""
    async for event in events:
        if isinstance(event, Delta):
            for ch in event.text:
                answer += ch
                post(json.dumps({"request_id": request_id, "msg": answer}))


def relay_handler(tokens: list[str]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The ``$default`` Lambda: ``{"relay": "ours"|"seed", "rate": R}`` streams the answer."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = json.loads(event["body"])
        client = management_client(_SETTINGS, os.environ["CHATKIT_CONNECTIONS_ENDPOINT"])
        connection_id = event["requestContext"]["connectionId"]

        def post(frame: str) -> None:
            client.post_to_connection(ConnectionId=connection_id, Data=frame.encode())

        events = paced(tokens, body["rate"], "r1")
        if body["relay"] == "ours":
            asyncio.run(relay(events, post, request_id="r1"))
        else:
            asyncio.run(seed_relay(events, post, "r1"))
        return {"statusCode": 200}

    return handler


@dataclass
class Run:
    relay: str
    rate: float
    bytes: int = 0
    frames: int = 0
    delta_times: list[float] = field(default_factory=list)
    end: float = 0.0

    @property
    def last_byte(self) -> float:
        return self.delta_times[-1]

    @property
    def frames_per_second(self) -> float:
        span = self.delta_times[-1] - self.delta_times[0]
        return (len(self.delta_times) - 1) / span if span > 0 else float("nan")


async def measure(ws_url: str, name: str, rate: float, answer: str) -> Run:
    """One answer through one relay, counted at the client."""
    run, text = Run(name, rate), ""
    async with websockets.connect(ws_url, proxy=None, max_size=None) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"relay": name, "rate": rate}))
        while True:
            raw = await asyncio.wait_for(ws.recv(), 120)
            now = time.perf_counter() - started
            run.bytes += len(raw.encode())
            run.frames += 1
            frame = json.loads(raw)
            if name == "seed":
                run.delta_times.append(now)
                text = frame["msg"]
                done = text == answer
            else:
                if frame["type"] == "delta":
                    run.delta_times.append(now)
                    text += frame["text"]
                done = frame["type"] == "end"
            if done:
                run.end = now
                break
    assert text == answer, f"{name}: the answer did not reassemble"
    return run


def report(runs: list[Run], chars: int, tokens: int) -> None:
    print(f"one {chars:,}-character Korean answer ({tokens} demo-model tokens) per run\n")
    rows = [
        [
            f"{r.rate:g}",
            r.relay,
            f"{r.bytes:,}",
            r.frames,
            r.frames_per_second,
            f"{r.last_byte * 1000:,.0f}",
            f"{r.end * 1000:,.0f}",
        ]
        for r in runs
    ]
    headers = ["tok/s", "relay", "wire bytes", "frames", "frames/s", "last byte ms", "end ms"]
    print(table(headers, rows))
    print()
    ratio_rows = []
    for rate in RATES:
        ours, seed = (
            next(r for r in runs if (r.relay, r.rate) == (n, rate)) for n in ("ours", "seed")
        )
        checks = {
            "bytes": seed.bytes / ours.bytes >= TARGET_BYTES_RATIO,
            "frames/s": ours.frames_per_second <= TARGET_FRAMES_PER_S,
            "frames": rate != 50 or seed.frames / ours.frames >= TARGET_FRAMES_RATIO_AT_50,
            "last byte": ours.last_byte <= seed.last_byte + SAME_LAST_BYTE_S,
        }
        ratio_rows.append(
            [
                f"{rate:g}",
                f"{seed.bytes / ours.bytes:,.0f}x",
                f"{seed.frames / ours.frames:.1f}x",
                f"{ours.last_byte / seed.last_byte:.2f}",
                ", ".join(name for name, passed in checks.items() if not passed) or "all met",
            ]
        )
    print(
        table(
            ["tok/s", "bytes seed/ours", "frames seed/ours", "last byte ours/seed", "targets"],
            ratio_rows,
        )
    )
    print(
        f"\ntargets: ≥ {TARGET_BYTES_RATIO}x fewer bytes, ≤ {TARGET_FRAMES_PER_S} frames/s, "
        f"≥ {TARGET_FRAMES_RATIO_AT_50}x fewer frames at 50 tok/s, last byte no later "
        f"(± {SAME_LAST_BYTE_S * 1000:.0f} ms)"
        + ("" if chars >= 2000 else " (set for a 2,000-character answer)")
    )


async def run_all(ws_url: str, answer: str) -> list[Run]:
    for name in ("ours", "seed"):  # warm-up: clients, connections, imports
        await measure(ws_url, name, 0.0, answer)
    return [
        await measure(ws_url, name, rate, answer) for rate in RATES for name in ("ours", "seed")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=2000, help="answer length (characters)")
    parser.add_argument("--quick", action="store_true", help="a 400-character answer")
    args = parser.parse_args()
    tokens = demo_tokens(400 if args.quick else args.chars)
    answer = "".join(tokens)
    # The runs are longer than API Gateway's 29 s integration timeout at 50 tok/s; the
    # timeout frame is not what is measured here.
    with Gateway(
        {"$default": relay_handler(tokens)}, port=0, web_root=None, integration_timeout=600
    ) as gateway:
        runs = asyncio.run(run_all(gateway.ws_url, answer))
    report(runs, len(answer), len(tokens))


if __name__ == "__main__":
    main()
