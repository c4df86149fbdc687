"""Fixtures for the chatkit.local tests: a running local Bedrock emulator and a boto3 client."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from chatkit.local.bedrock_emulator import BedrockEmulator


@pytest.fixture(scope="session")
def bedrock_emulator():
    """A Bedrock emulator on loopback streaming without delay (``!rate`` still applies)."""
    with BedrockEmulator(default_rate=0) as emulator:
        yield emulator


@pytest.fixture
def bedrock_client(bedrock_emulator):
    """A plain boto3 bedrock-runtime client pointed at the emulator, without retries."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=bedrock_emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # botocore's ``max_attempts`` counts *retries* (1 would mean two calls);
        # ``total_max_attempts`` counts calls, so 1 = no retry.
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
