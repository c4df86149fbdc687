"""``window.CHATKIT_CONFIG`` has one home (chatkit.webconfig.WebConfig), and so do the error
texts the web client shows (chatkit.errors, served in it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chatkit.config import Settings
from chatkit.deploy.stack import web_client_config
from chatkit.errors import ChatError, ErrorCode, error_texts
from chatkit.webconfig import WebConfig

WEB = Path(__file__).resolve().parents[2] / "chatkit" / "web"


def _served(config: WebConfig) -> dict:
    prefix, _, value = config.to_js().partition(" = ")
    assert prefix == "window.CHATKIT_CONFIG" and value.endswith(";\n")
    return json.loads(value.removesuffix(";\n"))


def test_every_error_code_has_its_text_in_the_config():
    served = _served(WebConfig())
    assert served["errors"] == {code.value: ChatError(code).message for code in ErrorCode}
    assert {"history_full", "not_saved"} <= served["errors"].keys()  # chat.js's copy lacked them
    assert "요청이 많아" in WebConfig().to_js()  # Korean as it is, not \\u escapes


def test_the_local_default_is_relative_and_a_config_reads_back():
    assert _served(WebConfig()) | {"errors": None} == {
        "wsUrl": "ws",
        "httpUrl": ".",
        "mode": "offline",
        "auth": "demo",
        "maxQuestionChars": Settings.max_question_chars,
        "errors": None,
    }
    deployed = WebConfig("wss://w.example/prod", "https://h.example", mode="aws", auth="cognito")
    assert WebConfig.from_js(deployed.to_js()) == deployed
    # a config.js names only what it sets; unknown keys and the texts are not read back
    assert WebConfig.from_dict({"auth": "cognito", "errors": {}, "title": "x"}) == WebConfig(
        auth="cognito"
    )


def test_the_gateway_and_the_deploy_describe_a_cognito_pool_alike():
    settings = Settings(
        mode="aws",
        region="eu-west-1",
        auth="cognito",
        cognito_user_pool_id="eu-west-1_Ab",
        cognito_client_id="c1",
    )
    outputs = {
        "WebSocketUrl": "wss://w/prod",
        "HttpApiUrl": "https://h",
        "UserPoolId": "eu-west-1_Ab",
        "UserPoolClientId": "c1",
    }
    deployed = web_client_config(outputs, "cognito", "eu-west-1", log=print)
    assert deployed == WebConfig.for_settings(settings, ws_url="wss://w/prod", http_url="https://h")
    local = WebConfig.for_settings(settings.with_(cognito_endpoint="http://127.0.0.1:5000"))
    assert local.cognito["endpoint"] == "http://127.0.0.1:5000"
    assert WebConfig.for_settings(Settings()).cognito is None


def test_the_question_box_takes_the_backends_limit():
    """The web client sets its question box's maxLength from config.js; index.html keeps
    no number of its own."""
    config = WebConfig.for_settings(Settings(max_question_chars=120))
    assert _served(config)["maxQuestionChars"] == 120
    assert WebConfig.from_js(config.to_js()).max_question_chars == 120
    textarea = re.search(r'<textarea id="input"[^>]*>', (WEB / "index.html").read_text())
    assert textarea and "maxlength" not in textarea.group(0).lower()


def test_missing_stack_outputs_are_said_and_left_to_the_defaults():
    lines: list[str] = []
    config = web_client_config({"HttpApiUrl": "https://h"}, "cognito", "eu-west-1", lines.append)
    assert config == WebConfig(mode="aws", auth="cognito")
    assert len(lines) == 1 and "WebSocketUrl" in lines[0] and "UserPoolId" in lines[0]


def test_the_web_client_keeps_no_copy_of_the_error_texts():
    """It reads them from config.js (``errors``) or an error frame's ``message``."""
    client = {path.name: path.read_text(encoding="utf-8") for path in sorted(WEB.iterdir())}
    for name, text in client.items():
        for code, message in error_texts().items():
            korean = message.split(" (")[0]
            assert korean not in text, f"{name} copies the text of {code}"
            assert not re.search(rf"\b{code}\s*:", text), f"{name} has a table keyed by {code}"
    assert "given.errors" in client["chat.js"]
