"""The outside probe of ``chatkit serve`` (issue 13 C): each case it found open, through the
real gateway on loopback sockets (or the real handlers on the local tables).

- C.1 DNS rebinding: a foreign ``Host`` gets 421 on every route, a foreign page ``Origin`` 403.
- C.2 ``chatkit serve --host 0.0.0.0`` with the public default secret refuses to start.
- C.3 ``@connections`` is not on the public port; its own loopback port wants a signed call.
- C.4 deep JSON and lone surrogates are ``bad_request``, ``/login`` with deep JSON a 400.
- C.5 every ``$default`` frame (stop, invalid) pays the rate limits.
- C.6 a header-read deadline (slow clients are cut off) and the web client's headers.
- C.8 ``chatkit revoke '#x'`` is a clear refusal with exit status 2.
- A.4 ``sign_out`` makes the token (its whole sign-in) useless for sockets and ``/history``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import select
import socket
from typing import Any

import boto3
import pytest
import websockets
from backend_client import ask, receive, wait_for
from botocore.config import Config
from handler_client import backend_with, connect, message, outcome

from chatkit.cli import main as chatkit_main
from chatkit.local._hosts import REFUSED_TEXT

DEEP = "[" * 3000 + "]" * 3000
CSP = "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'"


def raw(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Any:
    """One request with exactly these headers (``Host`` included): (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in {**({"Content-Length": str(len(body))} if body else {}), **headers}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    data = b"" if response.status == 101 else response.read()  # 101: a socket, not a body
    result = response.status, dict(response.getheaders()), data
    connection.close()
    return result


def management(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="ap-northeast-2",
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
        config=Config(retries={"total_max_attempts": 1}),
    )


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


# -- C.1 DNS rebinding ------------------------------------------------------------------


async def test_a_foreign_host_is_refused_on_every_route(serve, tmp_path):
    (tmp_path / "index.html").write_text("<h1>chatkit</h1>")
    served = await serve(web_root=tmp_path)
    port = served.gateway.port
    token = await served.login("민수")
    login = json.dumps({"user_id": "rebound"}).encode()
    requests = [
        ("POST", "/login", {"Content-Type": "application/json"}, login),
        ("GET", "/history", {"Authorization": f"Bearer {token}"}, b""),
        ("GET", f"/ws?token={token}", UPGRADE, b""),
        ("GET", "/", {}, b""),
        ("GET", "/config.js", {}, b""),
    ]
    for method, path, headers, body in requests:
        for host, expected in (("rebound.example:8765", 421), (f"localhost:{port}", None)):
            status, _, answer = await asyncio.to_thread(
                raw, port, method, path, {"Host": host, **headers}, body
            )
            if expected is None:
                assert status in (101, 200), (path, status)
            else:
                assert (status, answer.decode()) == (421, REFUSED_TEXT), (path, status)


async def test_a_name_in_chatkit_allowed_hosts_is_answered(serve, monkeypatch):
    monkeypatch.setenv("CHATKIT_ALLOWED_HOSTS", "lab.example")
    served = await serve()
    status, _, _ = await asyncio.to_thread(
        raw, served.gateway.port, "GET", "/history", {"Host": "lab.example"}
    )
    assert status == 401  # past the guard: the route itself wants a token


async def test_a_foreign_page_cannot_open_a_socket_or_sign_in(serve):
    served = await serve()
    token = await served.login("민수")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            f"{served.gateway.ws_url}?token={token}",
            origin=websockets.Origin("http://rebound.example"),
            proxy=None,
        ):
            pass
    assert refused.value.response.status_code == 403
    body = json.dumps({"user_id": "x"}).encode()
    status, headers, _ = await asyncio.to_thread(
        raw,
        served.gateway.port,
        "POST",
        "/login",
        {"Host": "127.0.0.1", "Origin": "http://rebound.example"},
        body,
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    async with websockets.connect(
        f"{served.gateway.ws_url}?token={token}",
        origin=websockets.Origin(served.gateway.url),
        proxy=None,
    ) as ws:  # the page the gateway serves itself
        assert (await ask(ws, "o1", "!rate 0 안녕")).last["type"] == "end"


# -- C.2 a public bind needs a secret of one's own ---------------------------------------


def test_serving_beyond_loopback_with_the_default_secret_is_refused(monkeypatch, capsys):
    monkeypatch.delenv("CHATKIT_AUTH_SECRET", raising=False)
    for host in ("0.0.0.0", "::", "192.0.2.10"):
        assert chatkit_main(["serve", "--host", host, "--port", "0"]) == 2
        err = capsys.readouterr().err
        assert "CHATKIT_AUTH_SECRET" in err and "기본 비밀" in err and "default secret" in err


def test_a_secret_of_ones_own_or_loopback_is_allowed(monkeypatch):
    from chatkit.config import Settings
    from chatkit.local.gateway import UnsafeBind, check_bind

    monkeypatch.delenv("CHATKIT_AUTH_SECRET", raising=False)
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, Settings.from_env())
    with pytest.raises(UnsafeBind):
        check_bind("0.0.0.0", Settings.from_env())
    monkeypatch.setenv("CHATKIT_AUTH_SECRET", "a-secret-of-our-own")
    check_bind("0.0.0.0", Settings.from_env())


# -- C.3 @connections --------------------------------------------------------------------


async def test_connections_api_is_not_on_the_public_port(serve):
    served = await serve()
    token = await served.login("민수")
    async with served.connect(token) as ws:

        async def opened() -> list[str]:  # the client may see 101 before the gateway files it
            return list(served.gateway._connections)

        (connection_id,) = await wait_for(opened)
        for prefix in ("", "/local"):
            path = f"{prefix}/@connections/{connection_id}"
            for method in ("POST", "GET", "DELETE"):
                status, _, body = await asyncio.to_thread(
                    raw, served.gateway.port, method, path, {"Host": "127.0.0.1"}, b"{}"
                )
                assert status == 404 and connection_id not in body.decode(), (method, path)
        # the management port itself: unsigned, or from a browser page, is refused
        mport = int(served.gateway.management_url.rsplit(":", 1)[1])
        signed = {"Host": "127.0.0.1", "Authorization": "AWS4-HMAC-SHA256 Credential=x/y"}
        path = f"/@connections/{connection_id}"
        for headers in ({"Host": "127.0.0.1"}, {**signed, "Origin": "http://127.0.0.1:8765"}):
            for method in ("POST", "GET", "DELETE"):
                status, answer, _ = await asyncio.to_thread(raw, mport, method, path, headers)
                assert status == 403, (method, headers)
                assert answer["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        status, _, _ = await asyncio.to_thread(
            raw, mport, "GET", path, {**signed, "Host": "rebound.example"}
        )
        assert status == 421
        assert not served.gateway.management_url.startswith(served.gateway.url)
        # boto3 (as the handlers call it) still works
        client = management(served.gateway.management_url)
        await asyncio.to_thread(
            client.post_to_connection, ConnectionId=connection_id, Data='{"x":"안녕"}'.encode()
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"x": "안녕"}
        info = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"


# -- C.4 input the parser cannot take ----------------------------------------------------


async def test_deep_json_and_lone_surrogates_are_bad_requests(serve):
    served = await serve()
    token = await served.login("민수")
    async with served.connect(token) as ws:
        await ws.send(DEEP)
        reply = await receive(ws, _Frames(), lambda r: bool(r.raw))
        assert json.loads(reply.raw[0])["code"] == "bad_request"
        lone = '{"type": "chat", "request_id": "s1", "text": "안녕 \\ud800"}'
        await ws.send(lone)
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (frame["code"], frame["request_id"]) == ("bad_request", "s1")
        assert "서로게이트" in frame["message"] and "surrogate" in frame["message"]
        assert (await ask(ws, "s2", "!rate 0 안녕")).last["type"] == "end"  # still serving
    async with served.http.post(served.gateway.url + "/login", data=DEEP) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "bad_request"


class _Frames:
    request_id = None

    def __init__(self) -> None:
        self.raw: list[str] = []


# -- C.5 every $default frame is charged -------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "stop", "request_id": "x1"},
        {"type": "nonsense"},
        "not json",
    ],
    ids=["stop", "unknown type", "not JSON"],
)
def test_frames_other_than_chats_pay_the_rate_limit(settings, api, frame):
    backend = backend_with(settings, api, rate_connection_burst=2, rate_connection_per_minute=1)
    connect(backend, "민수")
    for _ in range(2):
        message(backend, frame)
    message(backend, {"type": "chat", "request_id": "c1", "text": "안녕"})
    refused = outcome(api, "c1")
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert backend.history.get("민수", "c1") is None


# -- C.6 slow clients and the web client's headers ---------------------------------------


async def test_a_client_sending_headers_byte_by_byte_is_cut_off(serve):
    served = await serve(header_timeout=0.5)
    budget = 400  # bytes at one per 50 ms: 20 s, forty times the deadline
    sent = await asyncio.to_thread(_slow_headers, served.gateway.port, budget)
    assert sent < budget, "the server kept a slow client's socket open"
    status, _, _ = await asyncio.to_thread(
        raw, served.gateway.port, "GET", "/history", {"Host": "127.0.0.1"}
    )
    assert status == 401  # complete requests are served as before


def _slow_headers(port: int, budget: int) -> int:
    """Send a request's headers one byte at a time; the bytes sent before the server closed
    the socket (``budget`` if it never did)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        for sent in range(budget):
            readable, _, _ = select.select([sock], [], [], 0.05)
            try:
                if readable and not sock.recv(1024):
                    return sent
                sock.sendall(b"a")
            except OSError:  # closed with a reset (bytes were still in flight): cut off too
                return sent
    return budget


async def test_the_web_client_is_served_with_security_headers(serve):
    served = await serve(web_root=None)
    from chatkit.local.gateway import DEFAULT_WEB_ROOT

    served = await serve(web_root=DEFAULT_WEB_ROOT)
    for path in ("/", "/chat.js", "/config.js"):
        _, headers, _ = await asyncio.to_thread(
            raw, served.gateway.port, "GET", path, {"Host": "127.0.0.1"}
        )
        assert headers["Content-Security-Policy"] == CSP, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
    html = (DEFAULT_WEB_ROOT / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert " on" not in html.replace(" only", "")  # no inline event handlers


async def test_cognito_mode_lets_the_page_reach_the_user_pool(serve):
    config = {"cognito": {"region": "ap-northeast-2", "endpoint": "http://127.0.0.1:5999/"}}
    served = await serve(static_config=config)
    _, headers, _ = await asyncio.to_thread(
        raw, served.gateway.port, "GET", "/config.js", {"Host": "127.0.0.1"}
    )
    assert (
        "connect-src 'self' ws: wss: http://127.0.0.1:5999;" in headers["Content-Security-Policy"]
    )


# -- C.8 chatkit revoke with a reserved id -----------------------------------------------


def test_revoking_a_reserved_id_is_a_clear_refusal(capsys):
    assert chatkit_main(["revoke", "#x"]) == 2
    err = capsys.readouterr().err
    assert "#" in err and "Traceback" not in err


# -- A.4 sign-out ------------------------------------------------------------------------


async def test_after_sign_out_the_old_token_opens_nothing(serve):
    served = await serve()
    token = await served.login("민수")
    other = await served.login("민수")  # the same user signed in elsewhere
    async with served.connect(token) as ws:
        await ask(ws, "a1", "!rate 0 안녕")
        await ws.send(json.dumps({"type": "sign_out"}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with served.connect(token):
            pass
    assert refused.value.response.status_code == 401
    assert (await served.history(token))[0] == 401
    status, body = await served.history(other)  # only that sign-in ended
    assert status == 200 and [i["request_id"] for i in body["items"]] == ["a1"]


def test_a_sign_out_and_a_revocation_keep_each_other(settings):
    import time

    from chatkit.auth import Identity
    from chatkit.aws.state import StateStore
    from chatkit.aws_clients import dynamodb_client

    state = StateStore(settings.state_table_name, dynamodb_client(settings))
    now = time.time()
    first, second = (Identity("민수", now + 600, now + 5, sign_in) for sign_in in ("s1", "s2"))
    state.sign_out(first)
    assert state.revoked(first) and not state.revoked(second)
    state.revoke("민수")  # issued before now: none of these (iat in 5 s) …
    state.sign_out(second)
    assert state.revoked(first) and state.revoked(second)  # … but both sign-ins stay out
    assert state.revoked(Identity("민수", now + 600, now - 5, "s3"))  # the revocation holds
    assert not state.revoked(Identity("민수", now + 600, now + 5, "s3"))


def test_access_tokens_are_short_lived_in_the_template_and_the_local_pool():
    from chatkit.deploy.template import load_template
    from chatkit.local.cognito import ACCESS_TOKEN_MINUTES

    client = load_template()["Resources"]["UserPoolClient"]["Properties"]
    assert client["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert client["AccessTokenValidity"] == ACCESS_TOKEN_MINUTES <= 15


def test_a_user_holds_at_most_the_cap_of_open_connections(settings, api):
    from handler_client import fixture

    from chatkit.aws.apigw import WebSocketEvent

    backend = backend_with(settings, api)
    backend.max_connections_per_user = 2
    assert connect(backend, "민수", "c1")["statusCode"] == 200
    assert connect(backend, "민수", "c2")["statusCode"] == 200
    assert connect(backend, "민수", "c3")["statusCode"] == 429
    assert backend.state.identity_of("c3") is None
    assert connect(backend, "지영", "c4")["statusCode"] == 200  # other users are not counted
    event = fixture("ws_disconnect")
    event["requestContext"]["connectionId"] = "c1"
    backend.disconnect(WebSocketEvent(event))
    assert connect(backend, "민수", "c3")["statusCode"] == 200  # a closed one frees its place
