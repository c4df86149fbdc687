"""A long history costs no more to load than a short one: the context for the model is one
``Query`` (≤ 2 calls) whether the user has 10 turns or thousands. The 10,000-turn figure
and the page latency ratio are in ``python -m benchmarks.history_scale``.
"""

from __future__ import annotations

from benchmarks.history_scale import context_load_calls, counting_calls, fill

LONG = 1_500
ANSWER_CHARS = 1_000  # ~3 KB per turn: the history is ~4.5 MB, more than 4 Query pages


def test_context_load_is_at_most_two_calls_for_a_long_and_a_short_history(history):
    fill(history, "long", LONG, ANSWER_CHARS)
    fill(history, "short", 10)
    long_calls, short_calls = (context_load_calls(history, u) for u in ("long", "short"))
    assert sum(long_calls.values()) <= 2 and long_calls == short_calls
    assert set(long_calls) == {"Query"}
    with counting_calls(history.client) as page_calls:
        page = history.page("long", limit=20)
    assert page_calls == {"Query": 1} and page.cursor is not None
    assert [t.request_id for t in page.items] == [
        f"r{i:06d}" for i in range(LONG - 1, LONG - 21, -1)
    ]
