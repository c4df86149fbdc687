"""Output safety: when something breaks, the client gets the generic bilingual
``internal`` error (no traceback, no AWS error text, no internal id but its own request
id), and the logs carry request ids but never the question or the answer at INFO."""

from __future__ import annotations

import json
import logging
import socket
import time

import boto3
import pytest
from backend_client import ask
from botocore.config import Config
from handler_client import RecordingManagementApi, connect, history_page, message

from chatkit.auth import Identity
from chatkit.aws.backend import Backend
from chatkit.aws.state import StateStore
from chatkit.errors import ChatError, ErrorCode
from chatkit.history import HistoryStore
from chatkit.session import ChatSession

GENERIC = ChatError(ErrorCode.INTERNAL).message
#: What a leak would look like: exception text, AWS wording, internal names and ids.
LEAKS = (
    "Traceback",
    "RuntimeError",
    "boom",
    "arn:aws",
    "botocore",
    "Could not connect",
    "127.0.0.1",
    "conn-1",
    "state-",
    "test-",
    "Exception",
    "dynamodb",
)


def unreachable_dynamodb(settings) -> object:
    """A real boto3 DynamoDB client aimed at a closed loopback port (no retries)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=settings.region,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )


async def _boom(*args, **kwargs):
    """An answer stream that fails at once, with AWS-looking detail in the exception."""
    raise RuntimeError("boom: arn:aws:dynamodb:ap-northeast-2:123456789012:table/secret")
    yield  # pragma: no cover


def session_raises(settings, api):
    session = ChatSession(settings)
    session.astream = _boom
    return Backend(settings, session=session, management=lambda e: api), "r1"


def history_unreachable(settings, api):
    store = HistoryStore(
        settings.table_name, unreachable_dynamodb(settings), cursor_secret=settings.auth_secret
    )
    session = ChatSession(settings, history=store)
    return Backend(settings, session=session, management=lambda e: api), "r1"


def state_unreachable(settings, api):
    state = StateStore(settings.state_table_name, unreachable_dynamodb(settings))
    backend = Backend(settings, state=state, management=lambda e: api)
    state._bound["conn-1"] = Identity("민수", time.time() + 3600)  # bound while it was there
    return backend, "r1"


@pytest.mark.parametrize(
    "broken", [session_raises, history_unreachable, state_unreachable], ids=lambda f: f.__name__
)
def test_a_failure_reaches_the_client_as_the_generic_internal_error(settings, broken):
    api = RecordingManagementApi()
    backend, rid = broken(settings, api)
    if broken is not state_unreachable:
        connect(backend, "민수")
    message(backend, {"type": "chat", "request_id": rid, "text": "서울 여행 추천해줘"})
    error = api.frames[-1]
    assert set(error) == {"type", "request_id", "seq", "code", "message"}
    assert (error["type"], error["code"], error["message"]) == ("error", "internal", GENERIC)
    assert error["request_id"] == rid
    assert "일시적인" in GENERIC and "internal error" in GENERIC  # Korean with English
    sent = json.dumps(api.frames, ensure_ascii=False)
    assert not [leak for leak in LEAKS if leak in sent]


def test_history_with_storage_down_is_a_generic_500(settings):
    session = ChatSession(
        settings,
        history=HistoryStore(
            settings.table_name, unreachable_dynamodb(settings), cursor_secret=settings.auth_secret
        ),
    )
    backend = Backend(settings, session=session)
    token, _ = backend.auth.issue("민수")
    response = history_page(backend, token)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"code": "internal", "message": GENERIC}


QUESTION = "제주도 비밀 여행 계획 알려줘"


async def test_logs_carry_request_ids_but_no_question_or_answer_text(serve, caplog):
    caplog.set_level(logging.DEBUG)
    served = await serve()
    token = await served.login("민수")
    async with served.connect(token) as ws:
        reply = await ask(ws, "log-r1", f"!rate 0 {QUESTION}")
        broken = await ask(ws, "log-r2", f"!fail-after 2 {QUESTION}")
    assert reply.last["type"] == "end" and broken.last["type"] == "error"
    answer_words = [w for w in reply.text.split() if len(w) >= 4][:20]
    assert answer_words  # there is something to look for
    visible = [r for r in caplog.records if r.levelno >= logging.INFO]
    rendered = [  # the message, the traceback and every structured field
        " ".join(
            (r.getMessage(), r.exc_text or "", json.dumps(vars(r), ensure_ascii=False, default=str))
        )
        for r in visible
    ]
    assert any("log-r1" in line for line in rendered)  # the request id is logged
    for line in rendered:
        assert QUESTION not in line and "제주도" not in line
        assert not [w for w in answer_words if w in line], line
