"""The stand-in DynamoDB's CPU per chat: chatkit's local DynamoDB (moto behind chatkit's
front and patches, as ``chatkit emulators`` runs it) against moto's own server as
released (``moto_server``), same run, same client code.

On AWS, DynamoDB's work costs the class nothing; offline, every request is CPU in one
process, one request at a time, so it bounds how many chats a classroom server starts
per second. Measured as the server process's CPU over ``--n`` repetitions of:

- **before the model**: what a chat's ``$default`` invocation asks before the model, in
  a container that did not run ``$connect``: the binding read, the context read (a new
  user: no turns) and the admission transaction (six items);
- **context, 50 turns**: the context read of a user with 50 earlier turns;
- **context, big table**: a new user's context read while the history table holds
  ``--items`` items of other users (a class some way in).

Run:  .venv/bin/python -m benchmarks.stand_in [--n 200] [--items 4000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

from benchmarks._common import table
from benchmarks.concurrency import cpu_seconds, emulators_process, offline_env
from benchmarks.history_scale import fill


@contextlib.contextmanager
def moto_as_released() -> Iterator[tuple[int, str]]:
    """``moto_server`` on a free loopback port: its pid and URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server did not answer on {url} within 30 s")
        yield proc.pid, url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Chats:
    """chatkit's own stores on one DynamoDB endpoint, fresh tables."""

    def __init__(self, endpoint: str) -> None:
        from chatkit.aws.state import Limits, StateStore
        from chatkit.aws_clients import dynamodb_client
        from chatkit.config import Settings
        from chatkit.history import HistoryStore
        from chatkit.local.dynamodb import create_tables
        from chatkit.ratelimit import Bucket

        suffix = uuid.uuid4().hex[:6]
        env = offline_env({"CHATKIT_DYNAMODB_ENDPOINT": endpoint})
        env.update(CHATKIT_TABLE=f"history-{suffix}", CHATKIT_STATE_TABLE=f"state-{suffix}")
        self.settings = Settings.from_env(env)
        self.client = dynamodb_client(self.settings)
        create_tables(self.client, self.settings)
        self.history = HistoryStore.from_settings(self.settings)
        self.state = lambda: StateStore(self.settings.state_table_name, self.client)
        self.limits = Limits(Bucket.per_minute(10**6, 10**6), Bucket.per_minute(10**6, 10**6))

    def before_the_model(self) -> Callable[[], None]:
        """A new connection's first chat, up to the model request."""
        from chatkit.auth import Identity
        from chatkit.aws.state import Generation
        from chatkit.session import CONTEXT_TURNS

        user, connection, rid = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex, uuid.uuid4().hex
        identity = Identity(user, time.time() + 3600)
        self.state().bind(connection, identity)  # $connect, in another container

        def chat() -> None:
            store = self.state()
            assert store.identity_of(connection) == identity
            self.history.recent(user, CONTEXT_TURNS)
            claim = self.history.claim_put(user, rid)
            ask = Generation(rid, 1, 360, 20_000, 86_400, claim)
            assert store.admit(connection, identity, self.limits, ask).slot == 0

        return chat

    def context_read(self, user: str) -> Callable[[], None]:
        from chatkit.session import CONTEXT_TURNS

        return lambda: self.history.recent(user, CONTEXT_TURNS)


def cpu_ms(pid: int, runs: list[Callable[[], None]]) -> float:
    """The server's CPU per run (ms), each run prepared beforehand."""
    started = cpu_seconds(pid)
    for run in runs:
        run()
    return (cpu_seconds(pid) - started) / len(runs) * 1000


def measure(pid: int, endpoint: str, n: int, items: int) -> dict[str, float]:
    chats = Chats(endpoint)
    long = f"long-{uuid.uuid4().hex[:6]}"
    fill(chats.history, long, 50)
    for run in [chats.before_the_model() for _ in range(10)]:
        run()  # warm-up: imports, connections
    figures = {
        "before the model": cpu_ms(pid, [chats.before_the_model() for _ in range(n)]),
        "context, 50 turns": cpu_ms(pid, [chats.context_read(long)] * n),
    }
    for index in range(items // 50):
        fill(chats.history, f"other-{index}", 25)  # two items a turn
    figures[f"context, table of {items:,}"] = cpu_ms(pid, [chats.context_read("new")] * n)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="repetitions of each figure")
    parser.add_argument("--items", type=int, default=4000, help="history items of others")
    args = parser.parse_args()
    with moto_as_released() as (pid, url):
        released = measure(pid, url, args.n, args.items)
    with emulators_process() as (pid, env):
        ours = measure(pid, env["CHATKIT_DYNAMODB_ENDPOINT"], args.n, args.items)
    rows = [
        [name, f"{released[name]:.1f}", f"{ours[name]:.1f}", f"{released[name] / ours[name]:.1f}×"]
        for name in ours
    ]
    print("stand-in DynamoDB server CPU per request sequence (ms; process CPU, 10 ms ticks)\n")
    print(table(["what", "moto as released", "chatkit's stand-in", "released / ours"], rows))


if __name__ == "__main__":
    main()
