"""History at scale: one user with 10,000 turns vs one with 10, same run, same table.

For each user: the DynamoDB calls that loading the model's context makes (counted with a
botocore ``before-call`` hook on the real client), and the latency of the first
``/history`` page (``HistoryStore.page``, what the route runs). Both should be flat:
a ``Query`` with ``Limit`` reads the newest items only, whatever the history's size.

Run:  .venv/bin/python -m benchmarks.history_scale [--turns 10000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks._common import percentile, table
from chatkit.history import HistoryStore, Turn, utc_timestamp
from chatkit.session import CONTEXT_TURNS

_BATCH = 25  # DynamoDB's BatchWriteItem limit


class _BatchingClient:
    """Wraps a dynamodb client so that ``put_item`` calls (as ``HistoryStore.save`` makes
    them, unconditional) are sent 25 at a time; everything else passes through."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._pending: list[dict[str, Any]] = []
        self._table = ""

    def put_item(self, TableName: str, Item: dict[str, Any]) -> None:
        self._table = TableName
        self._pending.append({"PutRequest": {"Item": Item}})
        if len(self._pending) == _BATCH:
            self.flush()

    def flush(self) -> None:
        pending = {self._table: self._pending} if self._pending else {}
        while pending:
            pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
        self._pending = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def fill(store: HistoryStore, user_id: str, turns: int, answer_chars: int = 0) -> None:
    """Store ``turns`` completed turns for ``user_id`` through ``HistoryStore.save``
    (answers padded to about ``answer_chars`` characters)."""
    batching = _BatchingClient(store.client)
    writer = HistoryStore(store.table_name, batching, cursor_secret="fill")
    start = time.time() - turns
    for index in range(turns):
        writer.save(
            Turn(
                user_id,
                f"r{index:06d}",
                f"질문 {index}: 서울 여행 추천해줘",
                f"[데모 모델] 답변 {index}: 경복궁과 북촌 한옥마을을 추천합니다.".ljust(
                    answer_chars, "가"
                ),
                created_at=utc_timestamp(start + index),
            )
        )
    batching.flush()


@contextmanager
def counting_calls(client: Any) -> Iterator[Counter[str]]:
    """Count the API calls ``client`` makes meanwhile (``Query``, ``GetItem``…)."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb.*", count)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", count)


def context_load_calls(store: HistoryStore, user_id: str) -> Counter[str]:
    """The calls of one context load (what ``ChatSession.astream`` reads per turn)."""
    with counting_calls(store.client) as calls:
        store.recent(user_id, CONTEXT_TURNS)
    return calls


def first_page_ms(store: HistoryStore, user_id: str, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        store.page(user_id, limit=20)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    from chatkit.local import offline_stack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with offline_stack(rate=0, set_env=False) as stack:
        store = HistoryStore.from_settings(stack.settings)
        users = {"small": (f"small-{uuid.uuid4().hex[:6]}", 10)}
        users["large"] = (f"large-{uuid.uuid4().hex[:6]}", args.turns)
        started = time.perf_counter()
        for user_id, turns in users.values():
            fill(store, user_id, turns)
        print(f"stored {10 + args.turns:,} turns in {time.perf_counter() - started:.1f} s\n")
        rows, p50 = [], {}
        for name, (user_id, turns) in users.items():
            calls = context_load_calls(store, user_id)
            first_page_ms(store, user_id, 3)  # warm-up
            timings = first_page_ms(store, user_id, args.repeat)
            p50[name] = percentile(timings, 50)
            rows.append(
                [
                    f"{turns:,} turns",
                    sum(calls.values()),
                    percentile(timings, 50),
                    percentile(timings, 90),
                ]
            )
    print(table(["user", "context load calls", "page p50 ms", "page p90 ms"], rows))
    print(f"\nfirst page, large / small (p50): {p50['large'] / p50['small']:.2f}×")


if __name__ == "__main__":
    main()
