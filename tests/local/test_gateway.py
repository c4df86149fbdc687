"""The local API Gateway over real loopback sockets: ``websockets`` clients, real boto3
``apigatewaymanagementapi`` calls, and small in-test Lambda handlers (no chatkit.aws).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import websockets
from backend_client import chatkit_serve
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus

from benchmarks.concurrency import offline_env
from chatkit.errors import ChatError, ErrorCode
from chatkit.local._invoker import AUTHORIZER
from chatkit.local.gateway import Gateway

ROOT = Path(__file__).parents[2]
CHAT = {"type": "chat", "request_id": "r1", "text": "서울 여행 추천해줘"}
CONNECTION_ID = re.compile(r"[A-Za-z0-9]{15}=")


class Recorder:
    """Lambda handlers that record their events (thread-safe); tests wait on them."""

    def __init__(self) -> None:
        self._events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._changed = threading.Condition()

    def handler(
        self, route: str, respond: Callable[[dict[str, Any]], Any] | None = None
    ) -> Callable[[dict[str, Any], Any], Any]:
        def handle(event: dict[str, Any], context: Any) -> Any:
            assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id
            with self._changed:
                self._events[route].append(event)
                self._changed.notify_all()
            return respond(event) if respond else {"statusCode": 200}

        return handle

    def events(self, route: str) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._events[route])

    def wait(self, route: str, count: int = 1) -> list[dict[str, Any]]:
        """Block until ``count`` events arrived on ``route`` (use via ``to_thread``)."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self._events[route]) >= count, 10)
            return list(self._events[route])


def management(endpoint: str | None = None) -> Any:
    """A real boto3 management API client (own session: handlers run in threads)."""
    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint or os.environ["CHATKIT_CONNECTIONS_ENDPOINT"],
        region_name="ap-northeast-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def post(event: dict[str, Any], data: str) -> None:
    """What a handler does to answer: ``post_to_connection`` to the event's connection."""
    connection_id = event["requestContext"]["connectionId"]
    management().post_to_connection(ConnectionId=connection_id, Data=data.encode())


def connect(url: str, **options: Any) -> Any:
    return websockets.connect(url, proxy=None, open_timeout=5, close_timeout=2, **options)


@pytest.fixture
def start_gateway():
    """Start gateways on free ports (no web root unless given); stopped after the test."""
    started: list[Gateway] = []

    def start(handlers: dict[str, Any], **options: Any) -> Gateway:
        options.setdefault("web_root", None)
        gateway = Gateway(handlers, port=0, **options).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


async def closed_with(ws: Any) -> tuple[int, str]:
    """Read until the server closes; the close frame's code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return ws.close_code, ws.close_reason


# -- $connect -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_connect_refuses_the_handshake_with_the_status_it_returns(start_gateway, status):
    recorder = Recorder()
    gateway = start_gateway(
        {
            "$connect": recorder.handler("$connect", lambda event: {"statusCode": status}),
            "$disconnect": recorder.handler("$disconnect"),
        }
    )
    with pytest.raises(InvalidStatus) as refused:
        async with connect(gateway.ws_url + "?token=wrong"):
            pass
    assert refused.value.response.status_code == status
    assert len(recorder.events("$connect")) == 1
    assert recorder.events("$disconnect") == []


async def test_connect_event_carries_the_token_in_the_api_gateway_shape(start_gateway):
    recorder = Recorder()
    gateway = start_gateway({"$connect": recorder.handler("$connect")})
    async with connect(gateway.ws_url + "?token=TOKEN&lang=ko", user_agent_header="kit/1"):
        (event,) = recorder.events("$connect")
    assert event["queryStringParameters"] == {"token": "TOKEN", "lang": "ko"}
    assert event["multiValueQueryStringParameters"] == {"token": ["TOKEN"], "lang": ["ko"]}
    assert event["headers"]["Host"] == f"127.0.0.1:{gateway.port}"
    assert event["multiValueHeaders"]["User-Agent"] == ["kit/1"]
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert {k: context[k] for k in ("routeKey", "eventType", "messageDirection", "stage")} == {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "messageDirection": "IN",
        "stage": "local",
    }
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "kit/1"}
    assert context["domainName"] == f"127.0.0.1:{gateway.port}"
    assert CONNECTION_ID.fullmatch(context["connectionId"])
    assert context["requestId"] == context["extendedRequestId"]
    assert context["requestTimeEpoch"] >= context["connectedAt"] > 0
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])


def authorizer(token_to_effect: dict[str, str]) -> Callable[[dict[str, Any]], Any]:
    """A Lambda REQUEST authorizer: ``Unauthorized`` for unknown tokens, else a policy."""

    def respond(event: dict[str, Any]) -> Any:
        effect = token_to_effect.get(event["queryStringParameters"]["token"])
        if effect is None:
            raise PermissionError("Unauthorized")
        statement = {
            "Action": "execute-api:Invoke",
            "Effect": effect,
            "Resource": event["methodArn"],
        }
        return {
            "principalId": "p-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {"user_id": "민수", "expires_at": 2_000_000_000},
        }

    return respond


async def test_cognito_mode_runs_the_connect_authorizer_first(start_gateway):
    """No token: 401 without calling it; it raising Unauthorized: 401; Deny: 403; Allow:
    ``$connect`` runs with the authorizer's context in ``requestContext.authorizer``."""
    recorder = Recorder()
    gateway = start_gateway(
        {
            AUTHORIZER: recorder.handler(AUTHORIZER, authorizer({"ok": "Allow", "no": "Deny"})),
            "$connect": recorder.handler("$connect"),
        },
        cognito=object(),  # only its presence matters to the WebSocket side
    )
    for query, status in (("", 401), ("?token=bad", 401), ("?token=no", 403)):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(gateway.ws_url + query):
                pass
        assert refused.value.response.status_code == status
    assert len(recorder.events(AUTHORIZER)) == 2 and recorder.events("$connect") == []
    async with connect(gateway.ws_url + "?token=ok"):
        (event,) = recorder.events("$connect")
    asked = recorder.events(AUTHORIZER)[-1]
    assert asked["type"] == "REQUEST" and asked["queryStringParameters"] == {"token": "ok"}
    assert asked["methodArn"].endswith("/local/$connect")
    assert event["requestContext"]["authorizer"] == {
        "principalId": "p-1",
        "user_id": "민수",
        "expires_at": 2_000_000_000,
    }


# -- messages -------------------------------------------------------------------------


async def test_default_route_gets_the_exact_body_and_connection_id(start_gateway):
    recorder = Recorder()
    gateway = start_gateway(
        {
            "$connect": recorder.handler("$connect"),
            "$default": recorder.handler(
                "$default", lambda event: post(event, "got " + event["body"])
            ),
        }
    )
    body = json.dumps(CHAT, ensure_ascii=False)
    async with connect(gateway.ws_url + "?token=TOKEN") as ws:
        await ws.send(body)
        assert await asyncio.wait_for(ws.recv(), 10) == "got " + body
    (connected,) = recorder.events("$connect")
    (message,) = recorder.events("$default")
    assert message["body"] == body and message["isBase64Encoded"] is False
    context = message["requestContext"]
    assert context["connectionId"] == connected["requestContext"]["connectionId"]
    assert context["eventType"] == "MESSAGE" and context["routeKey"] == "$default"
    assert context["connectedAt"] == connected["requestContext"]["connectedAt"]
    assert context["messageId"] and context["requestId"] != connected["requestContext"]["requestId"]


async def test_ping_is_answered_by_the_gateway_without_a_function(start_gateway):
    recorder = Recorder()
    gateway = start_gateway({"$default": recorder.handler("$default", lambda e: post(e, "x"))})
    async with connect(gateway.ws_url) as ws:
        await ws.send('{"type": "ping"}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}
        await ws.send('{"type": "pin"}')  # anything else goes to $default
        assert await asyncio.wait_for(ws.recv(), 10) == "x"
    assert [e["body"] for e in recorder.events("$default")] == ['{"type": "pin"}']


async def test_posts_from_a_handler_reach_the_client_in_order(start_gateway):
    def stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
        client = management()
        for seq in range(30):
            frame = {"type": "delta", "request_id": "r1", "seq": seq, "text": f"조각{seq}"}
            client.post_to_connection(
                ConnectionId=event["requestContext"]["connectionId"],
                Data=json.dumps(frame, ensure_ascii=False).encode(),
            )
        return {"statusCode": 200}

    gateway = start_gateway({"$default": stream})
    async with connect(gateway.ws_url) as ws:
        await ws.send(json.dumps(CHAT))
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(30)]
    assert [f["seq"] for f in frames] == list(range(30))
    assert frames[7]["text"] == "조각7"


async def test_invocations_on_one_connection_run_concurrently(start_gateway):
    fast_posted = threading.Event()

    def default(event: dict[str, Any], context: Any) -> dict[str, Any]:
        text = json.loads(event["body"])["text"]
        if text == "slow":  # would wait its full 5 s if the gateway serialised the calls
            fast_posted.wait(5)
        post(event, text)
        if text == "fast":
            fast_posted.set()
        return {"statusCode": 200}

    gateway = start_gateway({"$default": default})
    async with connect(gateway.ws_url) as ws:
        await ws.send(json.dumps({**CHAT, "text": "slow"}))
        await ws.send(json.dumps({"type": "stop", "request_id": "r1", "text": "fast"}))
        replies = [await asyncio.wait_for(ws.recv(), 10) for _ in range(2)]
    assert replies == ["fast", "slow"]


async def test_integration_timeout_frame_then_the_function_keeps_posting(start_gateway):
    recorder = Recorder()
    released = threading.Event()

    def slow(event: dict[str, Any]) -> dict[str, Any]:
        assert released.wait(10)
        post(event, "late answer")
        return {"statusCode": 200}

    gateway = start_gateway(
        {"$default": recorder.handler("$default", slow)}, integration_timeout=0.5
    )
    async with connect(gateway.ws_url) as ws:
        await ws.send(json.dumps(CHAT))
        timed_out = json.loads(await asyncio.wait_for(ws.recv(), 10))
        released.set()
        assert await asyncio.wait_for(ws.recv(), 10) == "late answer"
    context = recorder.events("$default")[0]["requestContext"]
    assert timed_out == {
        "message": "Endpoint request timed out",
        "connectionId": context["connectionId"],
        "requestId": context["requestId"],
    }


async def test_a_failing_function_gives_the_internal_server_error_frame(start_gateway):
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    gateway = start_gateway({"$default": broken})
    async with connect(gateway.ws_url) as ws:
        await ws.send(json.dumps(CHAT))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert frame["message"] == "Internal server error"
    assert CONNECTION_ID.fullmatch(frame["connectionId"]) and frame["requestId"]


async def test_frames_over_32_kb_close_the_connection_with_1009(start_gateway):
    recorder = Recorder()
    gateway = start_gateway(
        {
            "$default": recorder.handler("$default", lambda e: post(e, str(len(e["body"])))),
            "$disconnect": recorder.handler("$disconnect"),
        }
    )
    async with connect(gateway.ws_url) as ws:
        await ws.send("x" * 32768)  # exactly the limit: accepted
        assert await asyncio.wait_for(ws.recv(), 10) == "32768"
        await ws.send("x" * 32769)
        assert (await closed_with(ws))[0] == 1009
    (event,) = await asyncio.to_thread(recorder.wait, "$disconnect")
    assert event["requestContext"]["disconnectStatusCode"] == 1009
    assert len(recorder.events("$default")) == 1


async def test_binary_frames_close_the_connection_with_1003(start_gateway):
    gateway = start_gateway({})
    async with connect(gateway.ws_url) as ws:
        await ws.send(b"\x00\x01")
        assert (await closed_with(ws))[0] == 1003


async def test_idle_connections_are_closed_and_disconnect_runs(start_gateway):
    recorder = Recorder()
    gateway = start_gateway({"$disconnect": recorder.handler("$disconnect")}, idle_timeout=0.5)
    async with connect(gateway.ws_url) as ws:
        assert await closed_with(ws) == (1001, "Going away")
    (event,) = await asyncio.to_thread(recorder.wait, "$disconnect")
    context = event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")
    assert context["eventType"] == "DISCONNECT" and context["routeKey"] == "$disconnect"


async def test_client_close_and_server_shutdown_run_disconnect(start_gateway):
    recorder = Recorder()
    handlers = {"$disconnect": recorder.handler("$disconnect")}
    gateway = start_gateway(handlers)
    async with connect(gateway.ws_url) as ws:
        await ws.close(code=4001, reason="bye")
    (event,) = await asyncio.to_thread(recorder.wait, "$disconnect")
    assert event["requestContext"]["disconnectStatusCode"] == 4001
    assert event["requestContext"]["disconnectReason"] == "bye"

    async with connect(gateway.ws_url) as ws:
        await asyncio.to_thread(gateway.stop)  # returns after $disconnect has run
        assert (await closed_with(ws))[0] == 1001
    assert recorder.events("$disconnect")[1]["requestContext"]["disconnectStatusCode"] == 1001


# -- management API -------------------------------------------------------------------


async def test_get_connection_reports_identity_and_activity(start_gateway):
    recorder = Recorder()
    gateway = start_gateway({"$connect": recorder.handler("$connect")})
    async with connect(gateway.ws_url, user_agent_header="kit/2") as ws:
        connection_id = recorder.events("$connect")[0]["requestContext"]["connectionId"]
        await ws.send('{"type":"ping"}')
        await asyncio.wait_for(ws.recv(), 10)
        info = await asyncio.to_thread(
            management(gateway.management_url).get_connection, ConnectionId=connection_id
        )
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "kit/2"}
    assert info["LastActiveAt"] >= info["ConnectedAt"]


async def test_delete_connection_closes_the_socket_and_runs_disconnect(start_gateway):
    recorder = Recorder()
    gateway = start_gateway(
        {"$connect": recorder.handler("$connect"), "$disconnect": recorder.handler("$disconnect")}
    )
    # the real URL shape: /{stage}/@connections
    client = management(gateway.management_url + "/local")
    async with connect(gateway.ws_url) as ws:
        connection_id = recorder.events("$connect")[0]["requestContext"]["connectionId"]
        await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
        assert (await closed_with(ws))[0] == 1000
    (event,) = await asyncio.to_thread(recorder.wait, "$disconnect")
    assert event["requestContext"]["connectionId"] == connection_id
    assert event["requestContext"]["disconnectStatusCode"] == 1000
    for call in (client.get_connection, client.delete_connection):
        with pytest.raises(client.exceptions.GoneException):
            await asyncio.to_thread(call, ConnectionId=connection_id)


@pytest.mark.parametrize("suffix", ["", "/local"])
def test_posting_to_an_unknown_connection_raises_gone(start_gateway, suffix):
    gateway = start_gateway({})
    client = management(gateway.management_url + suffix)
    with pytest.raises(client.exceptions.GoneException) as gone:
        client.post_to_connection(ConnectionId="Lp3sWdZ9oE0CF7g=", Data=b"{}")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


async def test_posts_over_128_kb_are_refused(start_gateway):
    recorder = Recorder()
    gateway = start_gateway({"$connect": recorder.handler("$connect")})
    client = management(gateway.management_url)
    async with connect(gateway.ws_url):
        connection_id = recorder.events("$connect")[0]["requestContext"]["connectionId"]
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            await asyncio.to_thread(
                client.post_to_connection, ConnectionId=connection_id, Data=b"x" * 131073
            )


# -- HTTP API -------------------------------------------------------------------------


async def test_http_routes_get_v2_events_and_their_responses_are_mapped(start_gateway):
    recorder = Recorder()
    login = {
        "statusCode": 201,
        "headers": {"x-demo": "yes"},
        "body": json.dumps({"token": "TOKEN", "user_id": "minsu"}),
        "cookies": ["session=1; HttpOnly"],
    }
    gateway = start_gateway(
        {
            "POST /login": recorder.handler("POST /login", lambda event: login),
            "GET /history": recorder.handler("GET /history", lambda e: {"items": [], "n": 1}),
        }
    )
    async with aiohttp.ClientSession() as http:
        async with http.post(gateway.url + "/login", json={"user_id": "minsu"}) as response:
            assert response.status == 201
            assert response.headers["x-demo"] == "yes"
            assert response.headers["Content-Type"] == "application/json"
            assert response.headers["Set-Cookie"] == "session=1; HttpOnly"
            assert await response.json() == {"token": "TOKEN", "user_id": "minsu"}
        async with http.get(
            gateway.url + "/history?limit=20&cursor=abc",
            headers={"Authorization": "Bearer TOKEN", "Cookie": "a=1; b=2"},
        ) as response:  # a result without statusCode: 200, JSON
            assert (response.status, await response.json()) == (200, {"items": [], "n": 1})
        async with http.post(
            gateway.url + "/login",
            data=b"user_id=minsu",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as response:
            assert response.status == 201

    logged_in, form = recorder.events("POST /login")
    assert logged_in["version"] == "2.0" and logged_in["routeKey"] == "POST /login"
    assert logged_in["body"] == '{"user_id": "minsu"}' and logged_in["isBase64Encoded"] is False
    assert logged_in["headers"]["content-type"] == "application/json"
    assert "queryStringParameters" not in logged_in and logged_in["rawQueryString"] == ""
    assert form["isBase64Encoded"] is True
    assert base64.b64decode(form["body"]) == b"user_id=minsu"

    (history,) = recorder.events("GET /history")
    assert history["rawPath"] == "/history"
    assert history["rawQueryString"] == "limit=20&cursor=abc"
    assert history["queryStringParameters"] == {"limit": "20", "cursor": "abc"}
    assert history["headers"]["authorization"] == "Bearer TOKEN"
    assert history["cookies"] == ["a=1", "b=2"] and "body" not in history
    context = history["requestContext"]
    assert context["http"]["method"] == "GET" and context["http"]["path"] == "/history"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["routeKey"] == "GET /history" and context["stage"] == "$default"
    assert context["requestId"] and context["timeEpoch"] > 0


@pytest.mark.parametrize(
    ("outcome", "status", "message"),
    [
        ("raise", 500, "Internal Server Error"),
        ("malformed", 500, "Internal Server Error"),
        ("slow", 503, "Service Unavailable"),
    ],
)
async def test_http_function_failures(start_gateway, outcome, status, message):
    released = threading.Event()

    def history(event: dict[str, Any], context: Any) -> Any:
        if outcome == "raise":
            raise RuntimeError("boom")
        if outcome == "slow":
            released.wait(10)
        return {"statusCode": "not a number"}

    gateway = start_gateway({"GET /history": history}, integration_timeout=0.3)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(gateway.url + "/history") as response,
        ):
            assert (response.status, await response.json()) == (status, {"message": message})
    finally:
        released.set()


class RecordingInvoker:
    """An :class:`~chatkit.local.gateway.Invoker` that answers without any function."""

    route_keys = ("GET /history",)

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start(self, env: Any) -> None:
        self.env = dict(env)

    async def invoke(self, route_key: str, event: dict[str, Any]) -> Any:
        self.calls.append((route_key, event))
        return {"statusCode": 200, "body": "[]"}

    def close(self) -> None:
        self.env = {}


async def test_functions_can_run_behind_another_invoker():
    invoker = RecordingInvoker()
    with Gateway(invoker=invoker, port=0, web_root=None) as gateway:
        assert invoker.env == {"CHATKIT_CONNECTIONS_ENDPOINT": gateway.management_url}
        async with aiohttp.ClientSession() as http, http.get(gateway.url + "/history") as response:
            assert (response.status, await response.json()) == (200, [])
        client = management(invoker.env["CHATKIT_CONNECTIONS_ENDPOINT"])
        with pytest.raises(client.exceptions.GoneException):
            await asyncio.to_thread(client.get_connection, ConnectionId="x")
    assert invoker.env == {} and [key for key, _ in invoker.calls] == ["GET /history"]
    with pytest.raises(ValueError, match="not both"):
        Gateway({}, invoker=invoker)


# -- web client -----------------------------------------------------------------------


async def raw_get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    """GET ``path`` byte for byte (HTTP clients would normalise ``..``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    host = host or f"127.0.0.1:{port}"
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    writer.write(request.encode())
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_static_files_come_only_from_the_web_root(start_gateway, tmp_path):
    web_root = tmp_path / "web"
    (web_root / "sub").mkdir(parents=True)
    (web_root / "index.html").write_text("<h1>chatkit</h1>")
    (web_root / "sub" / "chat.js").write_text("// js")
    (web_root / ".env").write_text("SECRET")
    (tmp_path / "secret.txt").write_text("SECRET")
    gateway = start_gateway({}, web_root=web_root)
    assert await raw_get(gateway.port, "/") == (200, b"<h1>chatkit</h1>")
    assert await raw_get(gateway.port, "/sub/chat.js") == (200, b"// js")
    for path in (
        "/missing.js",
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/sub/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/..%5csecret.txt",
        "/.env",
        f"/{tmp_path}/secret.txt",
    ):
        status, body = await raw_get(gateway.port, path)
        assert status == 404 and b"SECRET" not in body, path


@pytest.mark.parametrize("web_root", [None, Path("/nonexistent/chatkit-web")])
async def test_without_a_web_root_the_index_is_404(start_gateway, web_root):
    gateway = start_gateway({}, web_root=web_root)
    assert (await raw_get(gateway.port, "/"))[0] == 404


async def test_config_js_points_the_web_client_at_this_gateway(start_gateway):
    cognito = {"region": "eu-west-1", "userPoolId": "eu-west-1_Ab", "clientId": "c1"}
    gateway = start_gateway({}, static_config={"auth": "cognito", "cognito": cognito})
    status, body = await raw_get(gateway.port, "/config.js")
    assert status == 200
    # Relative to the page, so the client also works under a proxy's path prefix; the
    # texts of every error code are the server's (the web client keeps no copy).
    prefix, _, value = body.decode().partition(" = ")
    assert prefix == "window.CHATKIT_CONFIG" and value.endswith("};\n")
    assert json.loads(value.removesuffix(";\n")) == {
        "wsUrl": "ws",
        "httpUrl": ".",
        "mode": "offline",
        "auth": "cognito",
        "cognito": cognito,
        "maxQuestionChars": 8000,
        "errors": {code.value: ChatError(code).message for code in ErrorCode},
    }
    assert "오류" in value  # Korean as it is, not \\u escapes


# -- chatkit serve ----------------------------------------------------------------------


@pytest.mark.slow  # starts a `chatkit serve` process: not in test-fast
def test_chatkit_serve_prints_its_url_and_stops_cleanly_on_sigterm():
    with chatkit_serve(offline_env(), "--workers", "1") as serve:
        started = serve.wait_for_line(r"^chatkit serving on (http://127\.0\.0\.1:(\d+))/\n")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(started[1] + "/config.js", timeout=10) as response:
            config = response.read().decode()
        assert '"wsUrl": "ws"' in config
        assert '"mode": "offline"' in config
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(timeout=20) == 0, serve.stderr()


_SIGNAL_FROM_ANOTHER_THREAD = """
import signal, threading, time
from chatkit.local.gateway import serve

def deliver():
    while signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # serve's handler not yet in
        time.sleep(0.05)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # handled on this thread

threading.Thread(target=deliver, daemon=True).start()
serve(port=0)
"""


@pytest.mark.slow  # starts a `chatkit serve` process: not in test-fast
def test_chatkit_serve_stops_when_the_signal_lands_on_another_thread():
    """The kernel may deliver SIGTERM to any thread; the main thread must still notice."""
    endpoints = {  # configured endpoints: no offline stack is started
        "CHATKIT_BEDROCK_ENDPOINT": "http://127.0.0.1:9",
        "CHATKIT_DYNAMODB_ENDPOINT": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_FROM_ANOTHER_THREAD],
        capture_output=True,
        text=True,
        env=offline_env(endpoints),
        cwd=ROOT,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("chatkit serving on http://127.0.0.1:")
