"""Fixtures for the infrastructure tests: the Lambda zip (built once per session in
build/lambda/, shared with notebook 07), Python 3.12, and a moto stand-in AWS account."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from chatkit.deploy.package import Bundle, build_bundle
from chatkit.deploy.runtime import RuntimeNotFound, find_python312


@pytest.fixture(scope="session")
def lambda_bundle() -> Bundle:
    """The real Lambda zip (the first build of a machine pip-installs for ~30 s)."""
    return build_bundle()


@pytest.fixture(scope="session")
def python312() -> str:
    try:
        return find_python312()
    except RuntimeNotFound as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def moto_aws():
    """A stand-in AWS account (moto server on loopback) for the whole session; tests use
    their own stack names."""
    from chatkit.deploy.moto_aws import MotoAws

    with MotoAws() as fake:
        yield fake


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Bundle:
    """A one-file zip: moto stores Lambda code but never runs it, so the deploy tests do not
    need the real (lean, about 39 MB) bundle (the CLI test and notebook 07 deploy that one)."""
    path = Path(tmp_path_factory.mktemp("tiny")) / "tiny.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return Bundle.from_zip(path)


@pytest.fixture
def stored_secret(stack, settings):
    """A demo-token key stored in the offline stack's moto Secrets Manager, as the deployed
    stack's ``AuthSecret``: ``(value, env)`` where ``env`` is what a function gets to read
    it (the ARN, and the standard endpoint variable pointing at moto)."""
    import uuid

    import boto3

    value = uuid.uuid4().hex + uuid.uuid4().hex
    arn = boto3.client(
        "secretsmanager",
        endpoint_url=stack.dynamodb_url,
        region_name=settings.region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    ).create_secret(Name=f"chatkit-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]
    env = {
        "CHATKIT_AUTH_SECRET_ARN": arn,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": stack.dynamodb_url,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    return value, env
