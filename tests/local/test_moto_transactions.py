"""The local DynamoDB's transactions back up the items they touch, not whole tables
(chatkit.local._moto_transactions), and still behave as DynamoDB's: all or nothing."""

from __future__ import annotations

import copy

import pytest
from moto.dynamodb.models.table import Table

from chatkit.aws_clients import dynamodb_client


def _s(value: str) -> dict[str, str]:
    return {"S": value}


@pytest.fixture
def db(settings):
    client = dynamodb_client(settings)
    history, state = settings.table_name, settings.state_table_name
    for i in range(50):  # bystanders a whole-table backup would copy
        client.put_item(TableName=history, Item={"user_id": _s("other"), "sk": _s(f"T#{i}")})
    client.put_item(TableName=history, Item={"user_id": _s("u"), "sk": _s("T#1"), "n": _s("a")})
    client.put_item(TableName=state, Item={"pk": _s("lease#u"), "n": _s("0")})
    client.put_item(TableName=state, Item={"pk": _s("gone#u"), "n": _s("x")})
    return client, history, state


def _ops(history: str, state: str, *, fail: bool) -> list[dict]:
    return [
        {"Put": {"TableName": history, "Item": {"user_id": _s("u"), "sk": _s("R#new")}}},
        {
            "Update": {
                "TableName": history,
                "Key": {"user_id": _s("u"), "sk": _s("T#1")},
                "UpdateExpression": "SET n = :b",
                "ExpressionAttributeValues": {":b": _s("b")},
            }
        },
        {"Delete": {"TableName": state, "Key": {"pk": _s("gone#u")}}},
        {
            "Update": {
                "TableName": state,
                "Key": {"pk": _s("lease#u")},
                "UpdateExpression": "SET n = :one",
                "ConditionExpression": "n = :expected",
                "ExpressionAttributeValues": {
                    ":one": _s("1"),
                    ":expected": _s("9" if fail else "0"),
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]


def _everything(client, history: str, state: str) -> dict[str, list]:
    return {t: sorted(map(str, client.scan(TableName=t)["Items"])) for t in (history, state)}


def test_a_cancelled_transaction_puts_back_exactly_what_it_touched(db, monkeypatch):
    client, history, state = db
    before = _everything(client, history, state)
    tables_copied = []
    real_deepcopy = copy.deepcopy

    def counting(value, memo=None):
        if isinstance(value, Table):
            tables_copied.append(value.name)
        return real_deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=_ops(history, state, fail=True))
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert cancelled.value.response["CancellationReasons"][3]["Item"]["n"] == _s("0")
    assert _everything(client, history, state) == before
    assert tables_copied == []  # items were backed up, not tables


def test_a_transaction_that_holds_writes_everything(db):
    client, history, state = db
    client.transact_write_items(TransactItems=_ops(history, state, fail=False))
    get = client.get_item
    assert "Item" in get(TableName=history, Key={"user_id": _s("u"), "sk": _s("R#new")})
    assert get(TableName=history, Key={"user_id": _s("u"), "sk": _s("T#1")})["Item"]["n"] == _s("b")
    assert "Item" not in get(TableName=state, Key={"pk": _s("gone#u")})
    assert get(TableName=state, Key={"pk": _s("lease#u")})["Item"]["n"] == _s("1")


def test_one_item_twice_in_a_transaction_is_refused_and_changes_nothing(db):
    client, history, state = db
    before = _everything(client, history, state)
    twice = _ops(history, state, fail=False)[:2]
    twice.append(twice[1])
    with pytest.raises(client.exceptions.ClientError):
        client.transact_write_items(TransactItems=twice)
    assert _everything(client, history, state) == before
