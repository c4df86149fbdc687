"""Time to first delta: chatkit's ChatSession vs straight boto3, same emulator, same run.

ChatSession does more than boto3 alone — it claims the request id (conditional put),
loads the user's context (one Query) and goes through langchain-aws — so this measures
what that costs. The offline stack runs in its own process (``chatkit emulators``), as
Bedrock and DynamoDB are remote services in AWS: their server work must not compete with the
client for this process's GIL. Run:  .venv/bin/python -m benchmarks.session_overhead [--n 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from benchmarks._common import summary, table
from benchmarks.concurrency import emulators_process
from chatkit.aws_clients import bedrock_runtime_client
from chatkit.config import Settings
from chatkit.session import ChatSession

QUESTION = "!rate 0 서울 여행 추천해줘"


def boto3_first_delta(client, model_id: str) -> float:
    started = time.perf_counter()
    response = client.converse_stream(
        modelId=model_id, messages=[{"role": "user", "content": [{"text": QUESTION}]}]
    )
    first = None
    for event in response["stream"]:
        if first is None and "contentBlockDelta" in event:
            first = time.perf_counter() - started
    return first * 1000


async def storage_round_trip(session: ChatSession) -> float:
    """The two DynamoDB requests a turn waits for (claim ∥ context), timed alone: the
    local DynamoDB's share of the added time (moto's one process answers them in turn)."""
    user, started = f"bench-{uuid.uuid4().hex[:8]}", time.perf_counter()
    await asyncio.gather(
        asyncio.to_thread(session.history.claim, user, uuid.uuid4().hex),
        asyncio.to_thread(session.history.recent, user, 10),
    )
    return (time.perf_counter() - started) * 1000


async def chatkit_first_delta(session: ChatSession) -> float:
    started = time.perf_counter()
    first = None
    async for event in session.astream(f"bench-{uuid.uuid4().hex[:8]}", QUESTION):
        if first is None and event.type == "delta":
            first = time.perf_counter() - started
    return first * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60, help="measured turns per path")
    args = parser.parse_args()
    with emulators_process("--rate", "0") as (_, env):
        settings = Settings.from_env(env)
        session = ChatSession(settings)
        client = bedrock_runtime_client(settings)
        model_id = settings.model_id
        loop = asyncio.new_event_loop()
        for _ in range(5):  # warm-up: imports, connections
            boto3_first_delta(client, model_id)
            loop.run_until_complete(chatkit_first_delta(session))
        base, ours, storage = [], [], []
        for _ in range(args.n):  # interleaved so machine noise hits all alike
            base.append(boto3_first_delta(client, model_id))
            ours.append(loop.run_until_complete(chatkit_first_delta(session)))
            storage.append(loop.run_until_complete(storage_round_trip(session)))
        loop.close()
    b, o, d = summary(base), summary(ours), summary(storage)
    print(f"time to first delta, {args.n} turns each (ms), demo model at !rate 0\n")
    print(
        table(
            ["path", "p50", "p90", "mean"],
            [
                ["boto3 converse_stream (baseline)", b["p50"], b["p90"], b["mean"]],
                ["chatkit ChatSession.astream", o["p50"], o["p90"], o["mean"]],
                [
                    "added by chatkit",
                    o["p50"] - b["p50"],
                    o["p90"] - b["p90"],
                    o["mean"] - b["mean"],
                ],
                ["  of which DynamoDB claim ∥ context", d["p50"], d["p90"], d["mean"]],
                [
                    "  chatkit's own code",
                    o["p50"] - b["p50"] - d["p50"],
                    o["p90"] - b["p90"] - d["p90"],
                    o["mean"] - b["mean"] - d["mean"],
                ],
            ],
        )
    )
    print(f"\nratio p50 chatkit/boto3: {o['p50'] / b['p50']:.2f}x")


if __name__ == "__main__":
    main()
