"""Isolation matrix: Alice cannot read, write, stop or delete Bob's turns through any route
(WebSocket chat/stop, ``GET /history``, sign-in, ``ChatSession.reset``, ``%chat``), with
forged ids in bodies, query strings, cursors and tokens.

Each case is one attack by Alice; afterwards Bob's history must be exactly what it was,
and nothing Alice received may contain Bob's words."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from backend_client import ask
from handler_client import RecordingManagementApi, connect, history_page, message
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from chatkit.auth import DemoTokens
from chatkit.aws.apigw import WebSocketEvent
from chatkit.aws.backend import Backend

SECRET = "해운대-BOB-SECRET"  # in every question of Bob's


@dataclass
class World:
    """Bob with three turns, Alice with one, each on their own connection."""

    backend: Backend
    api: RecordingManagementApi
    alice: str  # Alice's token
    bob: str  # Bob's token
    bob_cursor: str  # a cursor issued to Bob
    tmp: Path

    def bob_turns(self) -> list[tuple[str, str, str, str]]:
        items = self.backend.history.page("bob", limit=100).items
        return [(t.request_id, t.question, t.answer, t.status) for t in items]

    def alice_says(self, body: dict[str, Any]) -> list[dict]:
        """Alice's frames for one message on her connection."""
        before = len(self.api.frames)
        message(self.backend, body, connection_id="conn-alice")
        return self.api.frames[before:]


@pytest.fixture
def world(backend, api, tmp_path) -> World:
    connect(backend, "bob", connection_id="conn-bob")
    for index in range(3):
        body = {"type": "chat", "request_id": f"b{index}", "text": f"{SECRET} 질문 {index}"}
        message(backend, body, connection_id="conn-bob")
    connect(backend, "alice", connection_id="conn-alice")
    message(backend, {"type": "chat", "request_id": "a0", "text": "안녕"}, "conn-alice")
    alice, _ = backend.auth.issue("alice")
    bob, _ = backend.auth.issue("bob")
    cursor = json.loads(history_page(backend, bob, limit="1")["body"])["cursor"]
    assert cursor
    return World(backend, api, alice, bob, cursor, tmp_path)


def _swap_payload(token: str, other: str) -> str:
    """Alice's signature on Bob's claims."""
    prefix, _, signature = token.split(".")
    return f"{prefix}.{other.split('.')[1]}.{signature}"


def _tamper(cursor: str) -> str:
    return cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")


def _magic(world: World, line: str) -> str:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "chatkit_widgets")
    shell.user_ns["session"] = world.backend.session
    with capture_output() as captured:
        shell.run_line_magic("chat", f"-s session -u alice {line}")
    return captured.stdout


def _history_body(world: World, token: str | None, **query: str) -> tuple[int, str]:
    response = history_page(world.backend, token, **query)
    return response["statusCode"], response["body"]


# Each attack returns what Alice saw (frames, a status and body, printed output).
ATTACKS: dict[str, Callable[[World], Any]] = {
    "ws chat, user_id=bob in the body": lambda w: w.alice_says(
        {"type": "chat", "request_id": "x1", "text": "안녕", "user_id": "bob"}
    ),
    "ws chat, sub/userId/identity in the body": lambda w: w.alice_says(
        {
            "type": "chat",
            "request_id": "x2",
            "text": "안녕",
            "sub": "bob",
            "userId": "bob",
            "identity": {"user_id": "bob"},
            "connectionId": "conn-bob",
        }
    ),
    "ws chat reusing Bob's request id": lambda w: w.alice_says(
        {"type": "chat", "request_id": "b0", "text": "안녕", "user_id": "bob"}
    ),
    "ws stop of Bob's request id": lambda w: w.alice_says(
        {"type": "stop", "request_id": "b1", "user_id": "bob"}
    ),
    "GET /history?user_id=bob": lambda w: _history_body(w, w.alice, user_id="bob"),
    "GET /history?user=bob&sub=bob&userId=bob": lambda w: _history_body(
        w, w.alice, user="bob", sub="bob", userId="bob"
    ),
    "GET /history with Bob's cursor": lambda w: _history_body(w, w.alice, cursor=w.bob_cursor),
    "GET /history with a tampered cursor": lambda w: _history_body(
        w, w.alice, cursor=_tamper(w.bob_cursor)
    ),
    "GET /history, Bob's claims under Alice's signature": lambda w: _history_body(
        w, _swap_payload(w.alice, w.bob)
    ),
    "GET /history, Bob's token minted with another secret": lambda w: _history_body(
        w, DemoTokens("guessed-secret").issue("bob")[0]
    ),
    "ChatSession.reset(alice)": lambda w: w.backend.session.reset("alice"),
    "%chat -u alice reset": lambda w: _magic(w, "reset"),
    "%chat -u alice history": lambda w: _magic(w, "history -n 100"),
    "%chat -u alice export": lambda w: (
        _magic(w, f"export {w.tmp / 'alice.md'}"),
        (w.tmp / "alice.md").read_text(encoding="utf-8"),
    ),
}

#: The HTTP status a route must answer (the other attacks: just nothing of Bob's).
EXPECTED_STATUS = {
    "GET /history?user_id=bob": 200,
    "GET /history?user=bob&sub=bob&userId=bob": 200,
    "GET /history with Bob's cursor": 400,
    "GET /history with a tampered cursor": 400,
    "GET /history, Bob's claims under Alice's signature": 401,
    "GET /history, Bob's token minted with another secret": 401,
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_alice_cannot_touch_bobs_turns(world, attack):
    before = world.bob_turns()
    assert len(before) == 3 and all(SECRET in q for _, q, _, _ in before)
    seen = ATTACKS[attack](world)
    assert world.bob_turns() == before  # nothing written, stopped or deleted
    shown = json.dumps(seen, ensure_ascii=False, default=str)
    assert SECRET not in shown
    assert not any(answer in shown for _, _, answer, _ in before)
    if attack in EXPECTED_STATUS:
        assert seen[0] == EXPECTED_STATUS[attack]
    assert not world.backend.state.stop_requested("bob", "b1")


def test_what_alice_wrote_with_forged_ids_is_stored_as_hers(world):
    for attack in ("ws chat, user_id=bob in the body", "ws chat reusing Bob's request id"):
        ATTACKS[attack](world)
    mine = {t.request_id: t for t in world.backend.history.page("alice").items}
    assert set(mine) == {"a0", "x1", "b0"} and SECRET not in mine["b0"].answer


@pytest.mark.parametrize("how", ["ChatSession.reset(alice)", "%chat -u alice reset"])
def test_alice_resetting_removes_only_her_own_turns(world, how):
    before = world.bob_turns()
    ATTACKS[how](world)
    assert world.backend.history.page("alice").items == []
    assert world.bob_turns() == before


def test_alice_cannot_stop_bobs_answer_while_it_streams(world):
    bob_frames = RecordingManagementApi()
    bob_backend = Backend(world.backend.settings, management=lambda endpoint: bob_frames)
    live = {"type": "chat", "request_id": "live", "text": "!rate 100 !long 800 이야기"}
    stream = threading.Thread(target=message, args=(bob_backend, live, "conn-bob"))
    stream.start()
    while not any(f["type"] == "delta" for f in bob_frames.frames):
        time.sleep(0.02)
    world.alice_says({"type": "stop", "request_id": "live", "user_id": "bob"})
    stream.join(timeout=30)
    assert bob_frames.frames[-1]["type"] == "end"
    assert bob_frames.frames[-1]["stop_reason"] == "end_turn"
    assert world.backend.history.get("bob", "live").status == "completed"


def test_a_connection_is_bound_to_the_token_not_to_query_parameters(world):
    event = WebSocketEvent(
        {
            "requestContext": {"connectionId": "conn-mallory", "eventType": "CONNECT"},
            "queryStringParameters": {"token": world.alice, "user_id": "bob", "sub": "bob"},
            "headers": {"x-user-id": "bob"},
        }
    )
    assert world.backend.connect(event)["statusCode"] == 200
    assert world.backend.state.identity_of("conn-mallory").user_id == "alice"


# -- the same through the real local API Gateway (loopback sockets) ----------------------


async def _forged_query_connect(served, alice: str) -> Any:
    async with served.connect(f"{alice}&user_id=bob&sub=bob") as ws:
        return (await ask(ws, "q1", "안녕", user_id="bob")).frames


async def _delete_history(served, alice: str) -> Any:
    url = served.gateway.url + "/history?user_id=bob"
    async with served.http.delete(url, headers={"Authorization": f"Bearer {alice}"}) as r:
        assert r.status >= 400
        return await r.text()


async def _history_forged_query(served, alice: str) -> Any:
    status, body = await served.history(alice, user_id="bob", limit=100)
    assert status == 200
    return body


@pytest.mark.parametrize(
    "attack",
    [_forged_query_connect, _delete_history, _history_forged_query],
    ids=["wss connect ?user_id=bob", "DELETE /history", "GET /history?user_id=bob"],
)
async def test_through_the_gateway(serve, attack):
    served = await serve()
    bob, alice = await served.login("bob"), await served.login("alice")
    async with served.connect(bob) as ws:
        reply = await ask(ws, "b0", f"{SECRET} 질문")
    assert reply.last["type"] == "end"
    before = await served.items(bob)
    seen = json.dumps(await attack(served, alice), ensure_ascii=False)
    assert SECRET not in seen and reply.text not in seen
    assert await served.items(bob) == before
