"""The history table's key schema: the one constant that code, the local DynamoDB and
the tests share. ``tests/unit/test_schema.py`` checks it against ``infra/template.yaml``.

    >>> HISTORY_TABLE.partition_key, HISTORY_TABLE.sort_key
    ('user_id', 'sk')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HISTORY_TABLE", "TableSchema"]


@dataclass(frozen=True)
class TableSchema:
    partition_key: str
    sort_key: str
    ttl_attribute: str

    def create_table_kwargs(self, table_name: str) -> dict:
        """Arguments for ``dynamodb.create_table`` (on-demand, string keys)."""
        return {
            "TableName": table_name,
            "KeySchema": [
                {"AttributeName": self.partition_key, "KeyType": "HASH"},
                {"AttributeName": self.sort_key, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": self.partition_key, "AttributeType": "S"},
                {"AttributeName": self.sort_key, "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }


#: Partition key = the user; sort key = ``T#<UTC time with ms>#<request id>`` for turns
#: (plus ``R#<request id>`` markers and ``P#…`` answer parts, see ``chatkit.history``).
HISTORY_TABLE = TableSchema(partition_key="user_id", sort_key="sk", ttl_attribute="expires_at")
