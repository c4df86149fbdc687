"""Drive the Lambda handlers in-process over AWS's sample API Gateway events
(tests/fixtures/apigw/aws, sources in its SOURCES.md), adapted only where they must carry
our token, body or connection id: a recording management client stands in for
``@connections``; session, history and state stores are the real ones on the local
endpoints.

Shared by the handler and security tests (fixtures ``api``, ``backend``, which reach
every test folder through ``pytest_plugins`` in tests/conftest.py)::

    backend = Backend(settings, management=lambda endpoint: api)
    connect(backend, "민수")
    message(backend, {"type": "chat", "request_id": "r1", "text": "안녕"})
    api.frames[-1]["type"]   # "end"
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from chatkit.aws.apigw import HttpEvent, WebSocketEvent
from chatkit.aws.backend import Backend
from chatkit.aws.state import StateStore
from chatkit.aws_clients import dynamodb_client

FIXTURES = Path(__file__).parent / "fixtures" / "apigw" / "aws"


def handler_env(settings) -> dict[str, str]:
    """The environment a deployed handler would get, pointing at ``settings``' local
    endpoints and tables (for handlers run in-process or from the zip)."""
    return {
        "CHATKIT_MODE": "offline",
        "CHATKIT_BEDROCK_ENDPOINT": settings.bedrock_endpoint,
        "CHATKIT_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
        "CHATKIT_TABLE": settings.table_name,
        "CHATKIT_STATE_TABLE": settings.state_table_name,
        "CHATKIT_MODEL_ID": settings.model_id,
        "AWS_REGION": settings.region,
    }


def fixture(name: str) -> dict:
    """A fresh copy of AWS's sample event ``name`` (``ws_connect``, ``ws_default``,
    ``ws_disconnect``, ``ws_authorizer``, ``ws_connect_authorizer``, ``http_v2_jwt``)."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class GoneException(Exception):
    pass


class RecordingManagementApi:
    """Stands in for boto3 ``apigatewaymanagementapi``: records frames, can go away."""

    class exceptions:
        GoneException = GoneException

    def __init__(self, gone_after: int | None = None) -> None:
        self.frames: list[dict] = []
        self.closed: list[str] = []  # connection ids the backend closed
        self.gone_after = gone_after
        self.lock = threading.Lock()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
        with self.lock:
            if self.gone_after is not None and len(self.frames) >= self.gone_after:
                raise GoneException(ConnectionId)
            assert len(Data) <= 32 * 1024
            self.frames.append(json.loads(Data.decode()))

    def delete_connection(self, ConnectionId: str) -> None:
        with self.lock:
            self.closed.append(ConnectionId)


@pytest.fixture
def api() -> RecordingManagementApi:
    return RecordingManagementApi()


@pytest.fixture
def backend(settings, api) -> Backend:
    """The backend on fresh tables, posting to ``api``."""
    return Backend(settings, management=lambda endpoint: api)


def outcome(api: RecordingManagementApi, rid: str) -> dict:
    """The last frame of request ``rid``."""
    return [f for f in api.frames if f.get("request_id") == rid][-1]


def backend_with(settings, api, clock=None, **limits) -> Backend:
    """A backend on ``settings`` with ``limits`` changed, its own state store on ``clock``
    (default: the wall clock), answering through ``api``."""
    settings = settings.with_(**limits)
    state = StateStore(
        settings.state_table_name, dynamodb_client(settings), clock=clock or time.time
    )
    return Backend(settings, state=state, management=lambda endpoint: api)


def connect(backend: Backend, user: str, connection_id: str = "conn-1") -> dict:
    event = fixture("ws_connect")
    token, _ = backend.auth.issue(user)
    event["queryStringParameters"] = {"token": token}
    event["multiValueQueryStringParameters"] = {"token": [token]}
    event["requestContext"]["connectionId"] = connection_id
    return backend.connect(WebSocketEvent(event))


def message(backend: Backend, body: object, connection_id: str = "conn-1") -> dict:
    event = fixture("ws_default")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return backend.message(WebSocketEvent(event))


def history_page(backend: Backend, token: str | None, **query: str) -> dict:
    """``GET /history`` through the handler; ``query`` is the query string."""
    return backend.history_page(HttpEvent(http_event(token, query=query)))


def http_event(token: str | None, body: str | None = None, query: dict | None = None) -> dict:
    """AWS's HTTP API 2.0 sample with our ``authorization`` header, query and body."""
    event = fixture("http_v2_jwt")
    event["headers"]["authorization"] = f"Bearer {token}" if token else ""
    event["queryStringParameters"] = query or {}
    if body is not None:
        event["body"] = body
    return event
