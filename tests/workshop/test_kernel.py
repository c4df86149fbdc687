"""The cell an offline class run inserts: a private emulator, the shared DynamoDB."""

from __future__ import annotations

import os

import pytest

from chatkit.aws_clients import dynamodb_client
from chatkit.workshop.kernel import attach_cell_source, attach_offline_stack


def test_attach_needs_the_shared_database(monkeypatch):
    monkeypatch.delenv("CHATKIT_DYNAMODB_ENDPOINT", raising=False)
    with pytest.raises(RuntimeError, match=r"공유 DynamoDB가 없습니다.*no shared DynamoDB"):
        attach_offline_stack(rate=0)


def test_attach_starts_a_private_emulator_and_shares_the_database(monkeypatch, stack, settings):
    monkeypatch.setenv("CHATKIT_DYNAMODB_ENDPOINT", stack.dynamodb_url)
    monkeypatch.setenv("CHATKIT_TABLE", settings.table_name)
    monkeypatch.delenv("CHATKIT_BEDROCK_ENDPOINT", raising=False)
    attached = attach_offline_stack(rate=7.0)
    try:
        assert attached.bedrock_url not in (stack.bedrock_url, None)
        assert os.environ["CHATKIT_BEDROCK_ENDPOINT"] == attached.bedrock_url
        assert attached.emulator.default_rate == 7.0
        assert attached.dynamodb_url == stack.dynamodb_url
        assert attached.settings.table_name == settings.table_name
    finally:
        attached.stop()
    # stopping the attendee's stack left the shared database running
    assert dynamodb_client(settings).describe_table(TableName=settings.table_name)


def test_the_inserted_cell_is_code_that_says_what_it_does():
    source = attach_cell_source("demo_rate")
    compile(source, "<attach>", "exec")
    assert "stack = attach_offline_stack(rate=demo_rate)" in source
    assert ("shared DynamoDB" in source and "공유" not in source) or "함께" in source
