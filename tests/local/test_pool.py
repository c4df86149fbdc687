"""The local API Gateway with the real handlers in a pool of worker processes
(``chatkit serve --workers N``): real loopback sockets, the offline stack's DynamoDB and
Bedrock emulator, the workers' state shared only through the state table."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from backend_client import Reply, Served, ask, chatkit_serve, finished, receive, wait_for

from benchmarks.concurrency import child_pids, offline_env
from chatkit.local._pool import ProcessPoolInvoker
from chatkit.local.gateway import Gateway

SLOW = "!rate 20 !long 2000 제주 이야기"  # ~100 s if nobody stops it


@pytest.fixture(scope="module")
def pool(module_settings) -> Iterator[tuple[Gateway, ProcessPoolInvoker]]:
    """The gateway with two handler workers, started once for this module's tests (each
    start imports the chat path twice over); the tests use their own users."""
    invoker = ProcessPoolInvoker(module_settings.with_(auth_secret="pool-secret"), workers=2)
    gateway = Gateway(invoker=invoker, port=0, web_root=None)
    gateway.start()
    yield gateway, invoker
    gateway.stop()


@pytest.fixture
async def pooled(pool) -> AsyncIterator[tuple[Served, ProcessPoolInvoker]]:
    gateway, invoker = pool
    async with aiohttp.ClientSession() as http:
        yield Served(gateway, http), invoker


@contextlib.asynccontextmanager
async def streaming(served: Served, user: str, request_id: str, count: int = 1):
    """``user`` connected and asking a slow question: yields the token, the socket and
    the reply once ``count`` deltas arrived."""
    token = await served.login(user)
    async with served.connect(token) as ws:
        await ws.send(chat(request_id, SLOW))
        yield token, ws, await receive(ws, Reply(request_id), deltas(count))


def deltas(count: int):
    return lambda reply: sum(f["type"] == "delta" for f in reply.own) >= count


def chat(request_id: str, text: str) -> str:
    return json.dumps({"type": "chat", "request_id": request_id, "text": text}, ensure_ascii=False)


async def test_a_chat_through_the_pool_is_streamed_and_stored(pooled):
    served, invoker = pooled
    token = await served.login("minsu")
    async with served.connect(token) as ws:
        reply = await ask(ws, "p1", "!long 300 서울 여행 추천해줘")
    reply.assert_well_formed()
    assert reply.last["type"] == "end" and len(reply.text) >= 250
    (turn,) = await served.items(token)
    assert (turn["request_id"], turn["status"], turn["answer"]) == ("p1", "completed", reply.text)
    assert len(set(invoker.pids)) == 2 and os.getpid() not in invoker.pids
    assert sum(invoker.invocations) >= 4  # /login, $connect, $default, /history


async def test_stop_stops_a_chat_streaming_in_another_worker(pooled):
    served, invoker = pooled
    async with streaming(served, "stopper", "s1", 2) as (token, ws, reply):
        assert invoker.running == [1, 0]  # the chat holds the first worker …
        await ws.send(json.dumps({"type": "stop", "request_id": "s1"}))  # … the stop the other
        await receive(ws, reply, finished)
    assert (reply.last["type"], reply.last["stop_reason"]) == ("end", "stopped")
    turn = await served.turn(token, "s1", "interrupted")
    assert turn["answer"] == reply.text and len(reply.text) < 1000
    assert invoker.invocations[1] >= 1


async def test_a_client_gone_mid_answer_stops_its_worker_and_saves_the_partial(pooled):
    served, _ = pooled
    async with streaming(served, "gone", "g1", 3) as (token, _, reply):
        pass
    # The socket is closed: the worker's next post answers 410 Gone and its handler stops.
    turn = await served.turn(token, "g1", "interrupted")
    assert turn["answer"].startswith(reply.text) and len(turn["answer"]) < 1000


async def test_two_users_stream_at_once_on_different_workers(pooled):
    served, invoker = pooled
    tokens = [await served.login(user) for user in ("alice", "bob")]
    async with served.connect(tokens[0]) as alice, served.connect(tokens[1]) as bob:
        await alice.send(chat("a1", "!rate 50 !long 400 부산 이야기"))
        alice_reply = await receive(alice, Reply("a1"), deltas(1))
        await bob.send(chat("b1", "!rate 50 !long 400 대구 이야기"))
        bob_reply = await receive(bob, Reply("b1"), deltas(1))
        assert invoker.running == [1, 1]
        await receive(alice, alice_reply, finished)
        await receive(bob, bob_reply, finished)
    for reply, token in zip((alice_reply, bob_reply), tokens, strict=True):
        reply.assert_well_formed()
        assert reply.last["type"] == "end"
        (turn,) = await served.items(token)
        assert turn["answer"] == reply.text


async def test_a_worker_that_dies_mid_answer_gives_an_error_frame_and_is_replaced(pooled):
    served, invoker = pooled
    async with streaming(served, "crash", "c1") as (_, ws, reply):
        (busy,) = [pid for pid, n in zip(invoker.pids, invoker.running, strict=True) if n]
        os.kill(busy, signal.SIGKILL)
        failed = await receive(ws, reply, lambda r: any("message" in f for f in r.frames))
    (frame,) = [f for f in failed.frames if "message" in f]
    assert frame["message"] == "Internal server error"

    async def replaced() -> bool:
        return busy not in invoker.pids and len(invoker.pids) == 2

    await wait_for(replaced)
    token = await served.login("after-crash")
    async with served.connect(token) as ws:
        again = await ask(ws, "c2", "!long 100 안녕")
    assert again.last["type"] == "end"


@pytest.mark.slow  # starts a `chatkit serve` process: not in test-fast
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_chatkit_serve_with_workers_ends_them_on_a_signal(stack, sent):
    with chatkit_serve(offline_env(stack.env), "--workers", "2") as serve:
        found = serve.wait_for_line(r"worker processes: ([\d ]+)\)")
        workers = [int(pid) for pid in found[1].split()]
        assert len(workers) == 2 and all(Path(f"/proc/{pid}").exists() for pid in workers)
        serve.process.send_signal(sent)
        assert serve.process.wait(timeout=30) == 0, serve.stderr()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_that_cannot_start_fail_the_start_and_leave_no_process(settings):
    before = set(child_pids(os.getpid()))
    invoker = ProcessPoolInvoker(settings.with_(auth="cognito"), workers=2)  # no pool ids
    with pytest.raises(RuntimeError, match="did not start"):
        invoker.start({})
    assert invoker.pids == [] and set(child_pids(os.getpid())) == before
