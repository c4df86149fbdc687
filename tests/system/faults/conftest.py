"""Fixtures for the fault-injection tests: the real backend on loopback (``serve``) and
fault proxies in front of the local Bedrock emulator and DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fault_proxy import FaultProxy


@dataclass
class Proxies:
    bedrock: FaultProxy
    dynamodb: FaultProxy


@pytest.fixture
def proxies(serve, stack, monkeypatch) -> Iterator[Proxies]:
    """Fault proxies the handlers' boto3 clients talk through (request ``serve`` after this
    fixture has pointed the environment at them)."""
    running = Proxies(FaultProxy(stack.bedrock_url).start(), FaultProxy(stack.dynamodb_url).start())
    monkeypatch.setenv("CHATKIT_BEDROCK_ENDPOINT", running.bedrock.url)
    monkeypatch.setenv("CHATKIT_DYNAMODB_ENDPOINT", running.dynamodb.url)
    yield running
    running.bedrock.stop()
    running.dynamodb.stop()
