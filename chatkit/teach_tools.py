"""Small helpers the notebooks call in one line, so the learner reads the idea, not the plumbing.

    >>> from chatkit import Turn
    >>> show_messages(turn_messages(Turn("u", "t1", "안녕?", "안녕하세요!")))
       human: 안녕?
          ai: 안녕하세요!
      → 2 messages, 17 tokens

    >>> from chatkit.events import Delta, End, Latency, Start, Usage
    >>> events = [Start("r1", "demo", "t"), Delta("r1", "[데모 모델] 안녕"), Delta("r1", "하세요"),
    ...           End("r1", "end_turn", Usage(3, 2), Latency(120, 300))]
    >>> text_of(events)
    '[데모 모델] 안녕하세요'
    >>> print(footer(events[-1]))
    ⏱ 첫 토큰 (first token) 120 ms · 전체 (total) 300 ms · 토큰 (tokens) in 3 / out 2
    >>> events_summary(events)
    "start delta×2 end · '안녕하세요'"

The DynamoDB ones take a real store or client (03 runs them on the local table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from chatkit.history import Turn
from chatkit.memory import count_message_tokens
from chatkit.schema import HISTORY_TABLE

__all__ = [
    "add_turns",
    "all_pages",
    "events_summary",
    "footer",
    "print_stream",
    "show_messages",
    "sort_keys",
    "text_of",
    "turn_messages",
]


def turn_messages(turn: Any) -> list[BaseMessage]:
    """One stored turn as the two messages a model sees: the question, then the answer."""
    return [HumanMessage(turn.question), AIMessage(turn.answer)]


def show_messages(messages: Sequence[BaseMessage], width: int = 70) -> None:
    """Print a context one message a line (type, text cut at ``width``) and its token count."""
    for message in messages:
        print(f"  {message.type:>6}: {message.text[:width]}")
    print(f"  → {len(messages)} messages, {count_message_tokens(messages)} tokens")


def sort_keys(client: Any, table: str, user: str) -> list[str]:
    """Every sort key of one user in ``table``, expired items too (a plain paginated Query)."""
    pk, sk = HISTORY_TABLE.partition_key, HISTORY_TABLE.sort_key
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#pk = :user",
        ProjectionExpression="#sk",
        ExpressionAttributeNames={"#pk": pk, "#sk": sk},
        ExpressionAttributeValues={":user": {"S": user}},
    )
    return [item[sk]["S"] for page in pages for item in page["Items"]]


def add_turns(store: Any, user: str, count: int) -> None:
    """Store ``count`` small turns ``turn-000``… for ``user``, each claimed then saved."""
    for i in range(count):
        request_id = f"turn-{i:03d}"
        claim = store.claim(user, request_id)
        store.save(Turn(user, request_id, f"질문 {i}", f"답변 {i}", created_at=claim.created_at))


def all_pages(store: Any, user: str, limit: int) -> list[list[str]]:
    """The sort keys of every :meth:`HistoryStore.page`, following the cursor to the end."""
    pages, cursor = [], None
    while True:
        page = store.page(user, limit=limit, cursor=cursor)
        pages.append([turn.sort_key for turn in page.items])
        if (cursor := page.cursor) is None:
            return pages


def text_of(events: Sequence[Any]) -> str:
    """The answer the ``Delta`` events of one turn spell."""
    return "".join(event.text for event in events if event.type == "delta")


def footer(end: Any) -> str:
    """One line from an ``End``: time to first token, total time, tokens in and out."""
    latency, usage = end.latency, end.usage
    return (
        f"⏱ 첫 토큰 (first token) {latency.first_token} ms · 전체 (total) {latency.total} ms"
        f" · 토큰 (tokens) in {usage.input_tokens} / out {usage.output_tokens}"
    )


async def print_stream(stream: Any) -> list[Any]:
    """Print a turn's deltas as they come, then the footer (or the error); return the events."""
    events = []
    async for event in stream:
        events.append(event)
        if event.type == "delta":
            print(event.text, end="", flush=True)
    last = events[-1]
    print("\n" + (footer(last) if last.type == "end" else f"⚠ {last.code}: {last.message}"))
    return events


def events_summary(events: Sequence[Any], history: Any = None, user: str = "") -> str:
    """``start delta×N end`` and the answer without the demo label; with ``history`` (a
    ``HistoryStore``) and ``user``, also the status the turn was stored with."""
    kinds = [event.type for event in events]
    stored = ""
    if history is not None:
        turn = history.get(user, events[0].request_id)
        stored = f" · 저장 (stored): {turn.status if turn else '없음 (none)'}"
    body = text_of(events).split("] ", 1)[-1]
    return f"start delta×{kinds.count('delta')} {kinds[-1]}{stored} · {body[:30]!r}"
