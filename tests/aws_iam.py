"""What AWS authorizes one API call as, where it is not simply ``service:Operation``.

A DynamoDB transaction is authorized item by item, as the single-item calls it is made of
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html):
Put → PutItem, Update → UpdateItem, Delete → DeleteItem, Get → GetItem, ConditionCheck →
ConditionCheckItem. moto checks one ``dynamodb:TransactWriteItems`` instead; the role and
rehearsal tests read it the AWS way.

>>> transaction_items("TransactWriteItems", {"TransactItems": [
...     {"ConditionCheck": {"TableName": "state"}}, {"Put": {"TableName": "history"}}]})
[('dynamodb:ConditionCheckItem', 'state'), ('dynamodb:PutItem', 'history')]
>>> transaction_items("PutItem", {"TableName": "history"}) is None
True
"""

from __future__ import annotations

from typing import Any

_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "Get": "dynamodb:GetItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def transaction_items(operation: str, params: dict[str, Any]) -> list[tuple[str, str]] | None:
    """(IAM action, table name) per item of a DynamoDB transaction; None for other calls."""
    if operation not in ("TransactWriteItems", "TransactGetItems"):
        return None
    return [
        (_ITEM_ACTIONS[kind], item["TableName"])
        for entry in params.get("TransactItems", [])
        for kind, item in entry.items()
    ]
