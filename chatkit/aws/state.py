"""Short-lived backend state in DynamoDB: connection → user bindings and stop requests.

A ``stop`` arrives in a different Lambda invocation than the ``chat`` it stops, so the
two meet here::

    state = StateStore("chatkit-state", dynamodb_client(settings))
    state.bind("conn-1", "minsu")
    state.request_stop("minsu", "r1")
    assert state.stop_requested("minsu", "r1")
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..schema import STATE_TABLE

__all__ = ["StateStore"]

_PK, _TTL = STATE_TABLE.partition_key, STATE_TABLE.ttl_attribute
#: API Gateway closes a WebSocket after 2 hours; bindings never need to outlive that.
CONNECTION_SECONDS = 2 * 3600
STOP_SECONDS = 3600
_CACHE_SIZE = 1024


class StateStore:
    """Connection bindings and stop flags, each item expiring by TTL."""

    def __init__(
        self, table_name: str, client: Any, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self.client = client
        self._clock = clock
        self._users: OrderedDict[str, str] = OrderedDict()  # warm-container cache

    def bind(self, connection_id: str, user_id: str) -> None:
        self._put(f"conn#{connection_id}", CONNECTION_SECONDS, user_id=user_id)

    def user_of(self, connection_id: str) -> str | None:
        """The user bound at ``$connect`` (cached: a binding never changes)."""
        if connection_id in self._users:
            return self._users[connection_id]
        item = self._get(f"conn#{connection_id}")
        user = item["user_id"]["S"] if item else None
        if user is not None:
            self._users[connection_id] = user
            while len(self._users) > _CACHE_SIZE:
                self._users.popitem(last=False)
        return user

    def unbind(self, connection_id: str) -> None:
        self._users.pop(connection_id, None)
        self.client.delete_item(
            TableName=self.table_name, Key={_PK: {"S": f"conn#{connection_id}"}}
        )

    def request_stop(self, user_id: str, request_id: str) -> None:
        self._put(f"stop#{user_id}#{request_id}", STOP_SECONDS)

    def stop_requested(self, user_id: str, request_id: str) -> bool:
        return self._get(f"stop#{user_id}#{request_id}") is not None

    def _put(self, key: str, seconds: int, **values: str) -> None:
        item = {_PK: {"S": key}, _TTL: {"N": str(int(self._clock()) + seconds)}}
        item.update({name: {"S": value} for name, value in values.items()})
        self.client.put_item(TableName=self.table_name, Item=item)

    def _get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={_PK: {"S": key}}, ConsistentRead=True
        ).get("Item")
        if not item or int(item[_TTL]["N"]) <= self._clock():
            return None
        return item
