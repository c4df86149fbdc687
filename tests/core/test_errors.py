from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EventStreamError, NoCredentialsError, ReadTimeoutError

from chatkit.errors import ChatError, ErrorCode
from chatkit.llm import classify_error


def _client_error(code: str, message: str = "x") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "ConverseStream")


@pytest.mark.parametrize(
    ("exc", "code", "hint"),
    [
        (_client_error("ThrottlingException"), "throttled", None),
        (_client_error("ServiceUnavailableException"), "throttled", None),
        (
            _client_error("AccessDeniedException", "You don't have access to the model"),
            "model_access",
            "모델 액세스",
        ),
        (
            _client_error(
                "ValidationException",
                "Invocation of model ID anthropic.claude-x with on-demand throughput isn't "
                "supported. Retry your request with the ID or ARN of an inference profile",
            ),
            "model_access",
            "추론 프로파일",
        ),
        (
            _client_error("ValidationException", "The provided model identifier is invalid."),
            "model_access",
            "CHATKIT_MODEL_ID",
        ),
        (_client_error("ValidationException", "Malformed input request"), "bad_request", None),
        (_client_error("ModelTimeoutException"), "timeout", None),
        (
            EventStreamError(
                {"Error": {"Code": "throttlingException", "Message": "m"}}, "ConverseStream"
            ),
            "throttled",
            None,
        ),
        (
            EventStreamError(
                {"Error": {"Code": "modelStreamErrorException", "Message": "m"}}, "ConverseStream"
            ),
            "model_error",
            None,
        ),
        (
            EventStreamError(
                {"Error": {"Code": "internalServerException", "Message": "m"}}, "ConverseStream"
            ),
            "model_error",
            None,
        ),
        (ReadTimeoutError(endpoint_url="http://x"), "timeout", None),
        (NoCredentialsError(), "model_access", "CHATKIT_MODE=offline"),
        (RuntimeError("secret internal detail"), "internal", None),
    ],
)
def test_bedrock_errors_map_to_stable_codes(exc, code, hint):
    error = classify_error(exc)
    assert error.code.value == code
    if hint:
        assert hint in error.message
    assert "secret internal detail" not in error.message
    assert "Exception" not in error.message


def test_every_code_has_korean_and_english():
    for code in ErrorCode:
        message = ChatError(code).message
        assert any("\uac00" <= ch <= "\ud7a3" for ch in message), code
        assert "(" in message and message.isascii() is False
