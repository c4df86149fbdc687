"""Lambda handlers over AWS's sample API Gateway events (tests/fixtures/apigw/aws), with
the real session, history and state stores on the local endpoints. Posts go to a recording
management client; the real @connections path is covered by the gateway tests."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from handler_client import RecordingManagementApi, connect, fixture, http_event, message
from handler_client import history_page as _history

from chatkit.auth import DemoTokens
from chatkit.aws.apigw import HttpEvent, WebSocketEvent
from chatkit.aws.backend import Backend


def test_connect_binds_the_user_from_the_token(backend):
    assert connect(backend, "민수")["statusCode"] == 200
    assert backend.state.identity_of("conn-1").user_id == "민수"


@pytest.mark.parametrize("token", [None, "", "garbage", "demo1.e30.bad"])
def test_connect_without_a_valid_token_is_refused(backend, token):
    event = fixture("ws_connect")
    event["queryStringParameters"] = {"token": token} if token is not None else {}
    assert backend.connect(WebSocketEvent(event))["statusCode"] == 401
    assert backend.state.identity_of(event["requestContext"]["connectionId"]) is None


def test_expired_token_is_refused(settings, api):
    backend = Backend(
        settings, management=lambda e: api, auth=DemoTokens(settings.auth_secret, ttl=-1)
    )
    assert connect(backend, "민수")["statusCode"] == 401


@pytest.mark.parametrize(
    "body", [{"type": "ping"}, {"type": "chat", "request_id": "x1", "text": "안녕"}]
)
def test_an_open_connection_whose_token_expired_is_told_and_closed(settings, api, body):
    """API Gateway never re-checks an open connection: the backend does, at each message.
    The question is neither answered nor stored (the client keeps it)."""
    now = [1_000_000.0]
    tokens = DemoTokens(settings.auth_secret, ttl=60, clock=lambda: now[0])
    backend = Backend(settings, management=lambda e: api, auth=tokens, clock=lambda: now[0])
    connect(backend, "민수")
    message(backend, {"type": "ping"})
    assert api.frames == [{"type": "pong"}] and api.closed == []
    now[0] += 61
    message(backend, body)
    (frame,) = api.frames[1:]
    assert (frame["type"], frame["code"]) == ("error", "unauthorized")
    assert frame["request_id"] == body.get("request_id") and "expired" in frame["message"]
    assert api.closed == ["conn-1"]
    assert backend.history.get("민수", "x1") is None


def test_chat_streams_start_deltas_end_and_stores_the_turn(backend, api):
    connect(backend, "minsu")
    chat = {"type": "chat", "request_id": "r1", "text": "서울 여행 추천해줘"}
    assert message(backend, chat)["statusCode"] == 200
    types = [f["type"] for f in api.frames]
    assert types[0] == "start" and types[-1] == "end" and "delta" in types
    assert [f["seq"] for f in api.frames] == list(range(len(api.frames)))
    answer = "".join(f["text"] for f in api.frames if f["type"] == "delta")
    stored = backend.history.get("minsu", "r1")
    assert stored.answer == answer and stored.status == "completed"
    assert "서울" in answer


def test_identity_in_the_body_is_ignored(backend, api):
    connect(backend, "alice")
    message(backend, {"type": "chat", "request_id": "f1", "text": "안녕", "user_id": "bob"})
    assert backend.history.get("alice", "f1") is not None
    assert backend.history.get("bob", "f1") is None


@pytest.mark.parametrize(
    ("body", "code", "request_id"),
    [
        ("{not json", "bad_request", None),
        ({"type": "dance", "request_id": "x1"}, "bad_request", "x1"),
        ({"type": "chat", "request_id": "x2"}, "bad_request", "x2"),
        ({"type": "chat", "request_id": "x3", "text": "가" * 8001}, "too_long", "x3"),
    ],
)
def test_bad_messages_get_an_error_frame_and_nothing_is_stored(
    backend, api, body, code, request_id
):
    connect(backend, "u")
    assert message(backend, body)["statusCode"] == 200
    assert len(api.frames) == 1
    frame = api.frames[0]
    assert (frame["type"], frame["code"], frame["request_id"]) == ("error", code, request_id)
    assert "Traceback" not in frame["message"] and "(" in frame["message"]
    assert backend.history.page("u").items == []


def test_messages_on_an_unbound_connection_are_unauthorized(backend, api):
    message(backend, {"type": "chat", "request_id": "x", "text": "hi"}, connection_id="nope")
    assert api.frames[0]["code"] == "unauthorized"


def test_ping_answers_pong_without_the_model(backend, api, stack):
    connect(backend, "u")
    calls = len(stack.emulator.requests)
    message(backend, {"type": "ping"})
    assert api.frames == [{"type": "pong"}]
    assert len(stack.emulator.requests) == calls


def test_stop_from_another_invocation_ends_the_generation(backend, api):
    connect(backend, "u")
    chat = threading.Thread(
        target=message,
        args=(
            backend,
            {"type": "chat", "request_id": "long", "text": "!rate 50 !long 3000 이야기"},
        ),
    )
    chat.start()
    while not any(f["type"] == "delta" for f in api.frames):
        time.sleep(0.02)
    message(backend, {"type": "stop", "request_id": "long"})  # a separate invocation
    chat.join(timeout=10)
    assert not chat.is_alive()
    assert api.frames[-1]["type"] == "end" and api.frames[-1]["stop_reason"] == "stopped"
    stored = backend.history.get("u", "long")
    assert stored.status == "interrupted"
    assert stored.answer == "".join(f["text"] for f in api.frames if f["type"] == "delta")
    assert len(stored.answer) < 3000


def test_gone_client_stops_generation_and_saves_interrupted(settings):
    api = RecordingManagementApi(gone_after=3)
    backend = Backend(settings, management=lambda e: api)
    connect(backend, "u")
    message(backend, {"type": "chat", "request_id": "g1", "text": "!rate 100 !long 2000 이야기"})
    assert len(api.frames) == 3
    stored = backend.history.get("u", "g1")
    assert stored.status == "interrupted" and len(stored.answer) < 2000


def test_disconnect_removes_the_binding(backend):
    connect(backend, "u")
    event = fixture("ws_disconnect")
    event["requestContext"]["connectionId"] = "conn-1"
    assert backend.disconnect(WebSocketEvent(event))["statusCode"] == 200
    backend.state._bound.clear()  # a cold container must not find it either
    assert backend.state.identity_of("conn-1") is None


def test_history_returns_only_the_callers_turns_newest_first(backend, api):
    for user in ("alice", "bob"):
        connect(backend, user, connection_id=f"c-{user}")
        for i in range(3):
            message(
                backend,
                {"type": "chat", "request_id": f"{user}{i}", "text": f"질문 {i}"},
                connection_id=f"c-{user}",
            )
    token, _ = backend.auth.issue("alice")
    response = _history(backend, token, limit="2")
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert [i["request_id"] for i in body["items"]] == ["alice2", "alice1"]
    assert "user_id" not in body["items"][0]
    more = json.loads(_history(backend, token, limit="2", cursor=body["cursor"])["body"])
    assert [i["request_id"] for i in more["items"]] == ["alice0"] and more["cursor"] is None
    bob, _ = backend.auth.issue("bob")
    assert _history(backend, bob, cursor=body["cursor"])["statusCode"] == 400


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [
        (None, {}, 401),
        ("forged", {}, 401),
        ("ok", {"limit": "0"}, 400),
        ("ok", {"limit": "101"}, 400),
        ("ok", {"limit": "ten"}, 400),
        ("ok", {"cursor": "junk"}, 400),
    ],
)
def test_history_rejects_bad_requests(backend, token, query, status):
    real, _ = backend.auth.issue("alice")
    response = _history(backend, real if token == "ok" else token, **query)
    assert response["statusCode"] == status
    assert json.loads(response["body"])["code"] in {"unauthorized", "bad_request"}


def test_login_issues_a_token_that_connects(backend):
    response = backend.login(HttpEvent(http_event(None, body='{"user_id":"minsu"}')))
    body = json.loads(response["body"])
    assert response["statusCode"] == 200 and body["user_id"] == "minsu"
    assert body["auth"] == "demo"
    assert backend.auth.verify(body["token"]).user_id == "minsu"


@pytest.mark.parametrize("body", ["not json", '{"user_id": ""}', '{"user_id": "#root"}', "[]"])
def test_login_rejects_bad_user_ids(backend, body):
    response = backend.login(HttpEvent(http_event(None, body=body)))
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["code"] == "bad_request"


def test_unreachable_connections_endpoint_counts_as_gone(settings, caplog):
    """The real boto3 management client, pointed at a closed loopback port: no traceback,
    no second failing post, the partial answer kept as interrupted."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    backend = Backend(settings.with_(connections_endpoint=closed, max_attempts=1))
    connect(backend, "u")
    with caplog.at_level(logging.WARNING):
        message(backend, {"type": "chat", "request_id": "e1", "text": "!rate 20 안녕"})
    assert backend.history.get("u", "e1").status == "interrupted"
    assert not [r for r in caplog.records if r.exc_info], caplog.text
