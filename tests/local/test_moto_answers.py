"""The local DynamoDB answers items as they are (chatkit.local._moto_answers): the same
answers as moto's walk of the service model, for every kind of attribute value."""

from __future__ import annotations

import pytest

from chatkit.aws_clients import dynamodb_client

# A moto without this serializer (5.1.0) answers in its own code: nothing is patched here.
BaseJSONSerializer = pytest.importorskip("moto.core.serialize").BaseJSONSerializer

EVERY_KIND = {
    "user_id": {"S": "kinds"},
    "sk": {"S": "T#1"},
    "text": {"S": "안녕하세요 — 서울 여행"},
    "empty": {"S": ""},
    "n": {"N": "-12.50"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "tags": {"SS": ["가", "b"]},
    "scores": {"NS": ["1", "2.5"]},
    "blob": {"B": b"\x00\xffchatkit"},
    "blobs": {"BS": [b"\x01", b"\x02"]},
    "map": {"M": {"a": {"S": "한"}, "b": {"L": [{"N": "1"}, {"NULL": True}, {"M": {}}]}}},
    "list": {"L": [{"S": "x"}, {"BOOL": False}, {"L": []}]},
    "nested_blob": {"M": {"raw": {"B": b"\x07"}}},
}


def _answers(client, table: str) -> list[dict]:
    key = {"user_id": {"S": "kinds"}, "sk": {"S": "T#1"}}
    own = {"user_id": {"S": "kinds"}, "sk": {"S": "T#2"}}
    calls = [
        client.get_item(TableName=table, Key=key),
        client.query(
            TableName=table,
            KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": "kinds"}},
        ),
        client.scan(TableName=table),
        client.batch_get_item(RequestItems={table: {"Keys": [key, own]}}),
        client.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
        client.update_item(
            TableName=table,
            Key=own,
            UpdateExpression="SET #n = :n",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":n": {"N": "3"}},
            ReturnValues="ALL_OLD",
        ),
    ]
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key,
                        "ConditionExpression": "attribute_not_exists(sk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            ]
        )
    calls.append(cancelled.value.response)
    for answer in calls:
        answer.pop("ResponseMetadata")
    return calls


@pytest.fixture
def db(settings):
    client, table = dynamodb_client(settings), settings.table_name
    client.put_item(TableName=table, Item=EVERY_KIND)
    return client, table


def _reset(client, table: str) -> None:
    client.put_item(TableName=table, Item={**EVERY_KIND, "sk": {"S": "T#2"}})


def _as_moto_was(monkeypatch) -> None:
    """moto's own walk of every structure and map from here on (this test only)."""
    for name in ("_serialize_type_structure", "_serialize_type_map"):
        monkeypatch.setattr(BaseJSONSerializer, name, getattr(BaseJSONSerializer, name).__wrapped__)


def test_every_kind_of_value_is_answered_as_moto_answers_it(db, monkeypatch):
    client, table = db
    _reset(client, table)
    ours = _answers(client, table)
    assert ours[0]["Item"] == EVERY_KIND
    _as_moto_was(monkeypatch)
    _reset(client, table)
    assert _answers(client, table) == ours


def test_an_item_of_strings_is_not_walked_member_by_member(db, monkeypatch):
    client, table = db
    walked = []
    string = BaseJSONSerializer._serialize_type_string

    def counting(self, serialized, value, shape, key):
        walked.append(key)
        return string(self, serialized, value, shape, key)

    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_string", counting)
    for i in range(10):
        item = {"user_id": {"S": "plain"}, "sk": {"S": f"T#{i}"}, "text": {"S": "가" * 50}}
        client.put_item(TableName=table, Item=item)
    query = {
        "TableName": table,
        "KeyConditionExpression": "user_id = :u",
        "ExpressionAttributeValues": {":u": {"S": "plain"}},
    }
    assert len(client.query(**query)["Items"]) == 10
    assert walked.count("S") == 0  # no string inside an item went through moto's walk
    _as_moto_was(monkeypatch)
    assert len(client.query(**query)["Items"]) == 10
    assert walked.count("S") == 30  # user_id, sk and text of each item
