"""The history table's key schema: the one constant that code, the local DynamoDB and
the tests share. ``tests/core/test_schema.py`` checks it against ``infra/template.yaml``.

    >>> HISTORY_TABLE.partition_key, HISTORY_TABLE.sort_key
    ('user_id', 'sk')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HISTORY_TABLE", "STATE_TABLE", "TableSchema"]


@dataclass(frozen=True)
class TableSchema:
    partition_key: str
    sort_key: str | None
    ttl_attribute: str

    def create_table_kwargs(self, table_name: str) -> dict:
        """Arguments for ``dynamodb.create_table`` (on-demand, string keys)."""
        keys = [(self.partition_key, "HASH")]
        if self.sort_key:
            keys.append((self.sort_key, "RANGE"))
        return {
            "TableName": table_name,
            "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"} for name, _ in keys
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }


#: Partition key = the user; sort key = ``T#<UTC time with ms>#<request id>`` for turns
#: (plus ``R#<request id>`` markers and ``P#…`` answer parts, see ``chatkit.history``).
HISTORY_TABLE = TableSchema(partition_key="user_id", sort_key="sk", ttl_attribute="expires_at")

#: Short-lived backend state: which user a WebSocket connection belongs to
#: (``conn#<connection id>``) and stop requests (``stop#<user>#<request id>``).
STATE_TABLE = TableSchema(partition_key="pk", sort_key=None, ttl_attribute="expires_at")
