"""The stand-in benchmark stays runnable: a few chats against moto as released and against
chatkit's local DynamoDB (the real run is ``python -m benchmarks.stand_in``); and the
load benchmark's ``--history`` gives each simulated user their earlier turns."""

from __future__ import annotations

import os

import pytest

from benchmarks.concurrency import bench_user
from benchmarks.load import seed_history
from benchmarks.stand_in import measure, moto_as_released
from chatkit.history import HistoryStore

pytestmark = pytest.mark.slow


def test_both_servers_answer_every_chat_of_the_benchmark(stack):
    with moto_as_released() as (pid, url):
        released = measure(pid, url, 3, 100)
    ours = measure(os.getpid(), stack.dynamodb_url, 3, 100)  # the local stack runs here
    assert (
        list(ours)
        == list(released)
        == [
            "before the model",
            "context, 50 turns",
            "context, table of 100",
        ]
    )
    assert all(ms >= 0 for ms in [*ours.values(), *released.values()])


def test_history_seeds_each_simulated_user(settings):
    env = {
        "CHATKIT_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
        "CHATKIT_TABLE": settings.table_name,
        "CHATKIT_STATE_TABLE": settings.state_table_name,
    }
    seed_history(env, users=3, turns=4)
    store = HistoryStore.from_settings(settings)
    assert [len(store.recent(bench_user(i))) for i in range(4)] == [4, 4, 4, 0]
