"""aws mode honours the standard endpoint settings and profiles: chatkit passes no
endpoint, region or credentials that would override them (real boto3 clients against the
offline stack's endpoints on loopback)."""

from __future__ import annotations

import os
import uuid

import pytest

from chatkit.aws_clients import bedrock_runtime_client, dynamodb_client, management_client
from chatkit.config import Settings


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """A kernel's environment in aws mode with only standard AWS settings (nothing another
    test left behind: no CHATKIT_*_ENDPOINT, no AWS_ENDPOINT_URL_*)."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "CHATKIT_"))]:
        monkeypatch.delenv(name)
    for name, value in {
        "CHATKIT_MODE": "aws",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "standard-key",
        "AWS_SECRET_ACCESS_KEY": "standard-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def fresh() -> Settings:
    """Settings from the environment; a unique model id keeps the client cache out of it."""
    return Settings.from_env().with_(model_id=f"global.anthropic.claude-{uuid.uuid4().hex[:6]}")


def test_service_endpoint_variables_are_honoured(aws_env, stack):
    aws_env.setenv("AWS_REGION", "eu-central-1")
    aws_env.setenv("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamodb_url)
    aws_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stack.bedrock_url)
    settings = fresh()
    assert settings.mode == "aws" and settings.dynamodb_endpoint is None
    ddb = dynamodb_client(settings)
    assert (ddb.meta.endpoint_url, ddb.meta.region_name) == (stack.dynamodb_url, "eu-central-1")
    assert ddb.list_tables()["TableNames"] == []  # a real call: another region of the moto
    assert ddb._request_signer._credentials.access_key == "standard-key"  # not "offline"
    reply = bedrock_runtime_client(settings).converse(
        modelId=settings.model_id, messages=[{"role": "user", "content": [{"text": "안녕"}]}]
    )
    assert "데모 모델" in reply["output"]["message"]["content"][0]["text"]


def test_the_general_endpoint_and_a_profile_are_honoured(aws_env, stack, tmp_path):
    (tmp_path / "config").write_text(
        f"[profile class]\nregion = us-west-2\nendpoint_url = {stack.dynamodb_url}\n"
    )
    aws_env.setenv("AWS_PROFILE", "class")
    settings = fresh()
    assert settings.region == "us-west-2"  # the profile's, not chatkit's default
    ddb = dynamodb_client(settings)
    assert (ddb.meta.endpoint_url, ddb.meta.region_name) == (stack.dynamodb_url, "us-west-2")
    assert isinstance(ddb.list_tables()["TableNames"], list)
    aws_env.delenv("AWS_PROFILE")
    aws_env.setenv("AWS_ENDPOINT_URL", stack.bedrock_url)
    aws_env.setenv("AWS_REGION", "ap-northeast-2")
    assert bedrock_runtime_client(fresh()).meta.endpoint_url == stack.bedrock_url


def test_a_changed_endpoint_variable_gets_a_new_client(aws_env, stack):
    aws_env.setenv("AWS_REGION", "ap-northeast-2")
    settings = fresh()
    aws_env.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")  # nothing listens there
    assert dynamodb_client(settings).meta.endpoint_url == "http://127.0.0.1:9"
    aws_env.setenv("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamodb_url)
    assert dynamodb_client(settings).meta.endpoint_url == stack.dynamodb_url  # same settings
    assert dynamodb_client(settings) is dynamodb_client(settings)  # and still cached


def test_a_changed_profile_gets_a_new_connections_client(aws_env, tmp_path):
    """The ``@connections`` client is cached like the others: by what chooses its
    credentials too (a kernel that switches ``AWS_PROFILE`` must not post as the old one)."""
    (tmp_path / "config").write_text(
        "[profile a]\naws_access_key_id = key-a\naws_secret_access_key = s\n"
        "[profile b]\naws_access_key_id = key-b\naws_secret_access_key = s\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        aws_env.delenv(name)
    endpoint = "https://abc123.execute-api.ap-northeast-2.amazonaws.com/prod"
    keys = []
    for profile in ("a", "b", "a"):
        aws_env.setenv("AWS_PROFILE", profile)
        client = management_client(Settings.from_env(), endpoint)
        keys.append(client._request_signer._credentials.access_key)
    assert keys == ["key-a", "key-b", "key-a"]
    assert management_client(Settings.from_env(), endpoint) is client  # and still cached
