"""The local DynamoDB's ``Query`` of a table reads the queried partition only
(chatkit.local._moto_query), and answers exactly as moto does reading the whole table."""

from __future__ import annotations

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from chatkit.aws_clients import dynamodb_client


def _s(value: str) -> dict[str, str]:
    return {"S": value}


@pytest.fixture
def db(settings):
    client, table = dynamodb_client(settings), settings.table_name
    for user in ("a", "b", "c"):
        for i in range(100):  # bystanders, interleaved with the partition queried
            client.put_item(
                TableName=table,
                Item={"user_id": _s(user), "sk": _s(f"T#{i:03d}"), "i": {"N": str(i)}},
            )
        if user == "a":
            for i in range(12):
                item = {"user_id": _s("u"), "sk": _s(f"T#{i:03d}"), "odd": {"BOOL": i % 2 == 1}}
                client.put_item(TableName=table, Item=item)
            client.put_item(TableName=table, Item={"user_id": _s("u"), "sk": _s("R#1")})
    return client, table


QUERIES = [
    {},
    {"ScanIndexForward": False, "Limit": 5},
    {"KeyConditionExpression": "user_id = :u AND begins_with(sk, :t)", ":t": "T#"},
    {
        "KeyConditionExpression": "user_id = :u AND sk BETWEEN :lo AND :hi",
        ":lo": "T#003",
        ":hi": "T#007",
    },
    {
        "KeyConditionExpression": "user_id = :u AND sk < :t",
        ":t": "T#005",
        "ScanIndexForward": False,
    },
    {"FilterExpression": "odd = :yes", ":yes": True, "Limit": 6},
    {"ProjectionExpression": "sk", "Select": "SPECIFIC_ATTRIBUTES"},
    {"Select": "COUNT"},
    {"KeyConditionExpression": "user_id = :nobody"},
]


def _pages(client, table: str, query: dict) -> list[dict]:
    """Every page of ``query`` (following ``LastEvaluatedKey``), without metadata."""
    kwargs = {k: v for k, v in query.items() if not k.startswith(":")}
    values = {":u": _s("u"), ":nobody": _s("nobody")}
    for name, value in query.items():
        if name.startswith(":"):
            values[name] = {"BOOL": value} if isinstance(value, bool) else _s(value)
    kwargs.setdefault("KeyConditionExpression", "user_id = :u")
    used = {
        n
        for n in values
        if n in kwargs["KeyConditionExpression"] + kwargs.get("FilterExpression", "")
    }
    pages, start = [], None
    while True:
        page = client.query(
            TableName=table,
            ExpressionAttributeValues={n: values[n] for n in used},
            **kwargs,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        page.pop("ResponseMetadata")
        pages.append(page)
        if not (start := page.get("LastEvaluatedKey")):
            return pages


@pytest.fixture
def comparisons(monkeypatch):
    """Counts moto's comparisons of key values (``DynamoType.__lt__``) while a test runs."""
    counted = [0]
    less_than = DynamoType.__lt__

    def counting(self, other):
        counted[0] += 1
        return less_than(self, other)

    monkeypatch.setattr(DynamoType, "__lt__", counting)
    return counted


def _as_moto_was(monkeypatch) -> None:
    """moto's own ``Table.query`` and listing from here on (this test only)."""
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    monkeypatch.setattr(Table, "all_items", Table.all_items.__wrapped__)


def test_a_query_answers_as_when_moto_read_the_whole_table(db, monkeypatch):
    client, table = db
    answers = [_pages(client, table, q) for q in QUERIES]
    assert [len(a[0].get("Items", [])) for a in answers][:2] == [13, 5]
    _as_moto_was(monkeypatch)
    assert [_pages(client, table, q) for q in QUERIES] == answers


def test_a_query_compares_the_keys_of_its_partition_only(db, comparisons, monkeypatch):
    client, table = db
    query = {
        "TableName": table,
        "KeyConditionExpression": "user_id = :u",
        "ExpressionAttributeValues": {":u": _s("u")},
    }
    assert len(client.query(**query)["Items"]) == 13
    ours, comparisons[0] = comparisons[0], 0
    _as_moto_was(monkeypatch)
    assert len(client.query(**query)["Items"]) == 13
    assert ours < 100 < 300 < comparisons[0]  # 13 items sorted twice; before: all 313
