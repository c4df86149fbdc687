"""AWS's own sample API Gateway events (tests/fixtures/apigw/aws, sources in SOURCES.md)
against chatkit: the typed views read them, the handlers answer them in the documented
shapes, and the local gateway (``chatkit serve``) sends events with the same key paths
and value types wherever chatkit reads one.
"""

from __future__ import annotations

import json
import queue
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from handler_client import connect, fixture, message
from websockets.sync.client import connect as ws_connect

from chatkit.auth import DemoTokens
from chatkit.aws.apigw import HttpEvent, WebSocketEvent
from chatkit.aws.backend import Backend
from chatkit.local.gateway import AUTHORIZER, Gateway

CHAT = {"type": "chat", "request_id": "r1", "text": "서울 여행 추천해줘"}

# -- (a) the typed views read every sample -----------------------------------------------


def test_websocket_samples_parse():
    connect_event = WebSocketEvent(fixture("ws_connect"))
    assert connect_event.connection_id == "BFHPhfCWIAMCKlQ="
    assert connect_event.route_key == "$connect"
    assert connect_event.request_id == "BFHPhFe3IAMF95g="
    assert connect_event.query == {} and connect_event.authorizer == {}
    assert connect_event.headers["host"] == "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"
    assert connect_event.management_endpoint == (
        "https://asasasas.execute-api.us-east-1.amazonaws.com/prod"
    )
    authorized = WebSocketEvent(fixture("ws_connect_authorizer"))
    assert authorized.authorizer == {"principalId": "admin", "clientId": 1, "clientName": "Exata"}
    assert authorized.query == {"name": "me"}
    sent = WebSocketEvent(fixture("ws_default"))
    assert (sent.connection_id, sent.route_key) == ("R1kmxc2VNjMCFIA=", "$default")
    assert sent.body == '{\r\n\t"a": 1\r\n}'
    gone = WebSocketEvent(fixture("ws_disconnect"))
    assert (gone.connection_id, gone.route_key) == ("R1kmxc2VNjMCFIA=", "$disconnect")
    assert gone.body is None


def test_authorizer_sample_parses():
    event = WebSocketEvent(fixture("ws_authorizer"))
    assert event.method_arn == (
        "arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$connect"
    )
    assert event.query == {} and event.connection_id == "FDmBIeapIAMCIQg="
    assert event.headers["authorization"] == "Leo"  # not a Bearer token
    assert event.raw["requestContext"]["identity"]["sourceIp"] == "93.108.161.96"


def test_http_v2_sample_parses():
    event = HttpEvent(fixture("http_v2_jwt"))
    assert (event.method, event.path) == ("POST", "/my/path")
    assert event.query == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event.jwt_claims == {"claim1": "value1", "claim2": "value2"}
    assert json.loads(event.body) == {"message": "hello world", "username": "tom"}
    assert event.headers["header2"] == "value1,value2" and event.bearer_token is None


# -- (b) the handlers on the samples -----------------------------------------------------


def _with_token(name: str, token: str) -> dict[str, Any]:
    """Sample ``name`` with our token as its only query parameter (v1 style: both maps)."""
    event = fixture(name)
    event["queryStringParameters"] = {"token": token}
    event["multiValueQueryStringParameters"] = {"token": [token]}
    return event


def _cognito(settings, api) -> Backend:
    """Cognito mode: identities come from API Gateway's authorizers. Tokens are checked
    by the demo verifier here, since only the event plumbing is under test."""
    return Backend(
        settings.with_(auth="cognito"),
        management=lambda endpoint: api,
        auth=DemoTokens(settings.auth_secret),
    )


def test_authorizer_answers_the_documented_policy(backend):
    token, _ = backend.auth.issue("민수")
    sample = _with_token("ws_authorizer", token)
    result = backend.authorize(WebSocketEvent(sample))
    assert set(result) == {"principalId", "policyDocument", "context"}
    assert result["principalId"] == "민수"
    assert result["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": sample["methodArn"]}
        ],
    }
    # Context values may only be strings, numbers or booleans (no objects, no arrays).
    assert all(type(v) in (str, int, float, bool) for v in result["context"].values())


def test_authorizer_refuses_the_sample_as_sent(backend):
    """AWS's sample carries ``Authorization: Leo`` and no token: Lambda error
    ``Unauthorized``, which API Gateway turns into 401."""
    with pytest.raises(PermissionError, match=r"^Unauthorized$"):
        backend.authorize(WebSocketEvent(fixture("ws_authorizer")))


@pytest.mark.parametrize("stringified", [False, True])
def test_connect_takes_the_identity_the_authorizer_passed_on(settings, api, stringified):
    """``$connect`` with our authorizer's output as API Gateway adds it to
    ``requestContext.authorizer`` (``principalId`` plus the context, as given or
    stringified as ``$context.authorizer.*`` documents); no token in the event."""
    backend = _cognito(settings, api)
    token, _ = backend.auth.issue("민수")
    policy = backend.authorize(WebSocketEvent(_with_token("ws_authorizer", token)))
    context = {k: str(v) if stringified else v for k, v in policy["context"].items()}
    event = fixture("ws_connect_authorizer")
    event["requestContext"]["authorizer"] = {"principalId": policy["principalId"], **context}
    assert backend.connect(WebSocketEvent(event)) == {"statusCode": 200}
    assert backend.state.identity_of(event["requestContext"]["connectionId"]).user_id == "민수"


def test_an_authorizer_context_without_our_keys_signs_no_one_in(settings, api):
    event = fixture("ws_connect_authorizer")  # principalId "admin", clientId, clientName
    assert _cognito(settings, api).connect(WebSocketEvent(event)) == {"statusCode": 401}


def test_message_and_disconnect_samples(backend, api):
    """The two aws-lambda-go samples share a connection id: connect it, chat on the
    ``$default`` sample (its own body is not our protocol), then close it."""
    sample = fixture("ws_default")
    connection_id = sample["requestContext"]["connectionId"]
    assert connect(backend, "민수", connection_id) == {"statusCode": 200}
    assert backend.message(WebSocketEvent(sample)) == {"statusCode": 200}
    assert [(f["type"], f["code"]) for f in api.frames] == [("error", "bad_request")]
    assert message(backend, CHAT, connection_id) == {"statusCode": 200}
    types = [f["type"] for f in api.frames[1:]]
    assert types[0] == "start" and "delta" in types and types[-1] == "end"
    assert backend.disconnect(WebSocketEvent(fixture("ws_disconnect"))) == {"statusCode": 200}
    assert backend.state.identity_of(connection_id) is None


def _claims(user: str) -> dict[str, str]:
    """JWT claims as the HTTP API's JWT authorizer passes them: strings."""
    now = int(time.time())
    return {"sub": user, "exp": str(now + 300), "iat": str(now)}


def test_history_reads_the_jwt_authorizers_claims(settings, backend, api):
    """The stored turn is written through the demo path; the cognito-mode handler then
    finds its user only in ``requestContext.authorizer.jwt.claims``."""
    connect(backend, "민수")
    message(backend, CHAT)
    event = fixture("http_v2_jwt")
    event["requestContext"]["authorizer"]["jwt"]["claims"] = _claims("민수")
    response = _cognito(settings, api).history_page(HttpEvent(event))
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert (response["statusCode"], response["isBase64Encoded"]) == (200, False)
    assert response["headers"]["content-type"].startswith("application/json")
    body = json.loads(response["body"])
    assert [item["request_id"] for item in body["items"]] == ["r1"] and body["cursor"] is None


def test_history_refuses_the_sample_claims(settings, api):
    """AWS's sample claims (``claim1``, ``claim2``) name no user and it has no token."""
    response = _cognito(settings, api).history_page(HttpEvent(fixture("http_v2_jwt")))
    assert response["statusCode"] == 401 and json.loads(response["body"])["code"]


# -- (c) the local gateway's events have AWS's shape where chatkit reads them ------------

OPAQUE = {"headers", "multiValueHeaders", "multiValueQueryStringParameters", "stageVariables"}
WS_READ = [
    "requestContext.connectionId",
    "requestContext.routeKey",
    "requestContext.eventType",
    "requestContext.requestId",
    "requestContext.domainName",
    "requestContext.stage",
    "requestContext.apiId",
    "requestContext.connectedAt",
    "requestContext.identity.sourceIp",
]
HTTP_READ = [
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "headers",
    "isBase64Encoded",
    "requestContext.http.method",
    "requestContext.http.path",
    "requestContext.http.sourceIp",
    "requestContext.requestId",
    "requestContext.routeKey",
    "requestContext.stage",
    "requestContext.timeEpoch",
]
#: (captured route, AWS sample, key paths chatkit reads or relies on)
READ = [
    ("$connect", "ws_connect", [*WS_READ, "headers", "isBase64Encoded"]),
    (
        "$connect",
        "ws_connect_authorizer",
        [*WS_READ, "headers", "queryStringParameters", "requestContext.authorizer.principalId"],
    ),
    ("$default", "ws_default", [*WS_READ, "body", "isBase64Encoded", "requestContext.messageId"]),
    (
        "$disconnect",
        "ws_disconnect",
        [*WS_READ, "requestContext.disconnectStatusCode", "requestContext.disconnectReason"],
    ),
    (
        AUTHORIZER,
        "ws_authorizer",
        ["type", "methodArn", "headers", "queryStringParameters", *WS_READ],
    ),
    (
        "GET /history",
        "http_v2_jwt",
        [*HTTP_READ, "queryStringParameters", "requestContext.authorizer.jwt.claims"],
    ),
    ("POST /login", "http_v2_jwt", [*HTTP_READ, "body"]),  # no query string: no query keys
]


def shape(value: Any, prefix: str = "") -> dict[str, str]:
    """Every key path of an event with its value's type; header maps count as one value.

    >>> shape({"a": {"b": 1}, "headers": {"X": "y"}})
    {'a': 'dict', 'a.b': 'int', 'headers': 'dict'}
    """
    out: dict[str, str] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        out[path] = type(item).__name__
        if isinstance(item, dict) and key not in OPAQUE:
            out.update(shape(item, path + "."))
    return out


@contextmanager
def recording_gateway(
    handlers: dict[str, Callable[[dict[str, Any]], Any]], **options: Any
) -> Iterator[tuple[Gateway, dict[str, queue.Queue]]]:
    """A local gateway whose functions record the event they get, then answer."""
    events: dict[str, queue.Queue] = defaultdict(queue.Queue)

    def recorded(route: str, answer: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
        def handle(event: dict[str, Any], context: Any) -> Any:
            events[route].put(event)
            return answer(event)

        return handle

    routes = {route: recorded(route, answer) for route, answer in handlers.items()}
    with Gateway(routes, port=0, web_root=None, **options) as gateway:
        yield gateway, events


def _get(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with opener.open(request, timeout=10) as response:
        return response.status


def _captured(settings) -> dict[str, dict[str, Any]]:
    """One event per route from real traffic: a Cognito-mode gateway running our
    authorizer, a WebSocket chat and ``GET /history``; a demo-mode one for ``POST /login``."""
    verifier = DemoTokens(settings.auth_secret)
    backend = Backend(settings, auth=verifier)
    token, _ = verifier.issue("민수")
    ok = {"statusCode": 200}
    cognito = {
        AUTHORIZER: lambda event: backend.authorize(WebSocketEvent(event)),
        "$connect": lambda event: ok,
        "$default": lambda event: ok,
        "$disconnect": lambda event: ok,
        "GET /history": lambda event: ok,
    }
    with recording_gateway(cognito, cognito=verifier) as (gateway, events):
        with ws_connect(f"{gateway.ws_url}?token={token}", proxy=None, open_timeout=10) as ws:
            ws.send(json.dumps(CHAT, ensure_ascii=False))
            captured = {"$default": events["$default"].get(timeout=10)}
        auth = {"Authorization": f"Bearer {token}"}
        assert _get(gateway.url + "/history?limit=20", headers=auth) == 200
        captured.update(
            {route: events[route].get(timeout=10) for route in cognito if route not in captured}
        )
    with recording_gateway({"POST /login": lambda event: ok}) as (gateway, events):
        body = json.dumps({"user_id": "minsu"}).encode()
        json_type = {"Content-Type": "application/json"}
        assert _get(gateway.url + "/login", data=body, headers=json_type) == 200
        captured["POST /login"] = events["POST /login"].get(timeout=10)
    return captured


def test_gateway_events_have_aws_key_paths_and_types_where_chatkit_reads(settings):
    events = _captured(settings)
    for route, sample, paths in READ:
        ours, theirs = shape(events[route]), shape(fixture(sample))
        for path in paths:
            assert path in theirs, (sample, path)  # the list names real AWS fields
            assert ours.get(path) == theirs[path], (route, path, ours.get(path), theirs[path])
    for event in (events["GET /history"], fixture("http_v2_jwt")):  # claims are strings
        claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
        assert claims and all(isinstance(v, str) for v in claims.values())
