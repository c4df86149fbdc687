"""What real Bedrock rejects in a ``Converse``/``ConverseStream`` request, in its own words.

Where the wording comes from:

- field constraints (the ``modelId`` pattern and length, the ``inferenceConfig`` ranges)
  are read from botocore's bedrock-runtime service model, the API's published
  definition, and reported in AWS's validation form, e.g. ``1 validation error detected:
  Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must
  have value less than or equal to 1`` (as the live service answers; quoted in public
  reports against Converse);
- the conversation rules use the messages Bedrock returns, quoted verbatim in public bug
  reports against the Converse API (langchain-aws, dify, Roo-Code, bedrock-engineer): "A
  conversation must start with a user message. …", "The content field in the Message
  object at messages.N is empty. …", "The text field in the ContentBlock object at
  messages.N.content.M is blank. …".

>>> check_converse("demo.model", {"messages": [{"role": "user", "content": [{"text": "안녕"}]}]})
([{'role': 'user', 'content': [{'text': '안녕'}]}], None, None)
>>> check_converse("demo.model", {"messages": [{"role": "user", "content": []}]})
Traceback (most recent call last):
...
chatkit.local._bedrock_rules.AwsError: The content field in the Message object at messages.0 is empty. Add a ContentBlock object to the content field and try again.
"""  # noqa: E501

from __future__ import annotations

import re
from functools import cache
from typing import Any

__all__ = ["AwsError", "check_converse"]


class AwsError(Exception):
    """An AWS rest-json error: HTTP status, ``x-amzn-ErrorType`` and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


@cache
def _shapes() -> tuple[re.Pattern[str], int, dict[str, tuple[float | None, float | None]]]:
    """``(modelId pattern, modelId max length, {inferenceConfig member: (min, max)})``."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model("Converse").input_shape
    model_id = shape.members["modelId"].metadata
    config = shape.members["inferenceConfig"].members
    ranges = {
        name: (config[name].metadata.get("min"), config[name].metadata.get("max"))
        for name in ("maxTokens", "temperature", "topP")
    }
    return re.compile(model_id["pattern"]), int(model_id["max"]), ranges


def _model_id_errors(model_id: str) -> list[str]:
    pattern, longest, _ = _shapes()
    where = f"Value '{model_id}' at 'modelId' failed to satisfy constraint: Member must"
    errors = []
    if len(model_id) > longest:
        errors.append(f"{where} have length less than or equal to {longest}")
    if not pattern.fullmatch(model_id):
        errors.append(f"{where} satisfy regular expression pattern: {pattern.pattern}")
    return errors


def _config_errors(config: dict[str, Any]) -> list[str]:
    errors = []
    for name, (low, high) in _shapes()[2].items():
        value = config.get(name)
        if value is None:
            continue
        kinds = int if name == "maxTokens" else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise _invalid(f"inferenceConfig.{name} must be a number.")
        shown = str(value) if name == "maxTokens" else repr(float(value))
        where = f"Value '{shown}' at 'inferenceConfig.{name}' failed to satisfy constraint"
        if low is not None and value < low:
            errors.append(f"{where}: Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            errors.append(f"{where}: Member must have value less than or equal to {high}")
    return errors


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise _invalid("The 'messages' field is required and must be a non-empty list.")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{index}: role must be 'user' or 'assistant'.")
        if not isinstance(message.get("content"), list):
            raise _invalid(f"messages.{index}: content must be a list of blocks.")
    if messages[0]["role"] != "user":
        raise _invalid(
            "A conversation must start with a user message. "
            "Try again with a conversation that starts with a user message."
        )
    for index, message in enumerate(messages):
        if not message["content"]:
            raise _invalid(
                f"The content field in the Message object at messages.{index} is empty. "
                "Add a ContentBlock object to the content field and try again."
            )
        for block_index, block in enumerate(message["content"]):
            text = block.get("text") if isinstance(block, dict) else None
            if isinstance(text, str) and not text.strip():
                raise _invalid(
                    f"The text field in the ContentBlock object at "
                    f"messages.{index}.content.{block_index} is blank. "
                    "Add text to the text field, and try again."
                )


def check_converse(model_id: str, body: Any) -> tuple[list[dict[str, Any]], Any, int | None]:
    """Check one request as Bedrock does; return ``(messages, system, max_tokens)`` or raise
    :class:`AwsError` (HTTP 400 ``ValidationException``). Field constraints come first, all
    reported at once, as AWS does; then the conversation rules."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise _invalid("inferenceConfig must be an object.")
    errors = _model_id_errors(model_id) + _config_errors(config)
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
        raise _invalid(f"{count}: " + "; ".join(errors))
    _check_messages(body.get("messages"))
    return body["messages"], body.get("system"), config.get("maxTokens")
