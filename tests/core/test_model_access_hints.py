"""How model access works now (the console's Model access page is retired): the hints of
``classify_error`` and ``chatkit doctor`` say so, and the doctor says plainly what it
could not check instead of failing (an endpoint without Bedrock's control plane)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from chatkit.config import Settings
from chatkit.doctor import denied_action, format_checks, run_checks
from chatkit.llm import classify_error


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Converse")


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "AccessDeniedException",
            "You don't have access to the model",
            "aws-marketplace:Subscribe",
        ),
        (
            "ResourceNotFoundException",
            "Model use case details have not been submitted for this account.",
            "use case form",
        ),
        ("ResourceNotFoundException", "Model not found", "CHATKIT_MODEL_ID"),
        ("ExpiredTokenException", "The security token included in the request is expired", "만료"),
        ("UnrecognizedClientException", "The security token is invalid", "invalid"),
    ],
)
def test_model_access_errors_say_how_access_works_now(code, message, expected):
    error = classify_error(_error(code, message))
    assert error.code.value == "model_access"
    assert expected in error.message
    assert "Model access page" not in error.message or "retired" in error.message
    assert message not in error.message  # AWS's text stays in the logs


def test_the_denied_action_is_named():
    denied = _error(
        "AccessDeniedException",
        "User: arn:aws:sts::1:assumed-role/R/s is not authorized to perform: "
        "bedrock:InvokeModelWithResponseStream on resource: arn:aws:bedrock:…",
    )
    assert denied_action(denied) == "bedrock:InvokeModelWithResponseStream"
    assert denied_action(_error("ThrottlingException", "slow down")) is None


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def bare_endpoint():
    """An HTTP endpoint on loopback that implements nothing (404 for every path)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_question_the_endpoint_cannot_answer_is_not_checked_not_failed(
    bare_endpoint, stack, monkeypatch
):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_ENDPOINT_URL": stack.dynamodb_url,
        "AWS_ENDPOINT_URL_BEDROCK": bare_endpoint,  # no control plane here
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stack.bedrock_url,
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(mode="aws", region="eu-north-1", model_id="global.anthropic.claude-x-v1:0")
    checks = {check.name: check for check in run_checks(settings)}
    profile = checks["inference profile"]
    assert profile.ok and profile.skipped, profile
    assert "확인하지 못함 (not checked)" in profile.detail
    assert "bedrock:ListInferenceProfiles" in profile.detail
    assert "– inference profile" in format_checks([profile])
    assert checks["model"].ok and checks["credentials"].ok
