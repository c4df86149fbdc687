"""Opt-in, against a real AWS account (costs a few cents; CloudFront makes it take
~10–20 minutes): deploy a fresh stack, run the smoke test through it, destroy it.

    pytest -m aws --run-aws tests/deploy/test_aws.py

Uses the credentials and region of the environment (``AWS_REGION``), the model of
``CHATKIT_MODEL_ID`` (default: the global Claude Haiku profile) and ``CHATKIT_BEDROCK_REGION``.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from chatkit.config import DEFAULT_MODEL_ID
from chatkit.deploy.aws import Aws, resolve_region
from chatkit.deploy.progress import describe_stack
from chatkit.deploy.smoke import Endpoints, run_smoke
from chatkit.deploy.stack import StackConfig, deploy, destroy

pytestmark = [pytest.mark.aws, pytest.mark.slow]


def test_deploy_smoke_and_destroy_a_real_stack(lambda_bundle):
    aws = Aws(resolve_region())
    config = StackConfig(
        f"chatkit-test-{uuid.uuid4().hex[:8]}",
        model_id=os.environ.get("CHATKIT_MODEL_ID") or DEFAULT_MODEL_ID,
        bedrock_region=os.environ.get("CHATKIT_BEDROCK_REGION"),
    )
    try:
        result = deploy(aws, config, lambda_bundle)
        assert result.status == "created"
        assert deploy(aws, config, lambda_bundle).status == "unchanged"
        smoke = asyncio.run(run_smoke(Endpoints.from_outputs(result.outputs)))
        print(smoke.summary())
        assert smoke.ok and smoke.pong  # pong comes from the MOCK route, not a function
    finally:
        assert destroy(aws, config.name) is True
    assert describe_stack(aws.client("cloudformation"), config.name) is None
