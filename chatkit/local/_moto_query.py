"""moto's ``Query`` on a table's key, reading one partition instead of the whole table.

To query a table by its partition key, moto lists every item of the table, sorts them
all and keeps those of the partition. So each chat's context ``Query`` cost moto CPU in
proportion to the whole class's history: 1.6 ms on an empty table, 18 ms at 4,000 items,
47 ms at 10,000 (two items a turn), one request at a time. :func:`install` makes that
listing return the queried partition only, sorted the same way, and sizes each item
it reads once, not two or three times. What moto checks, finds and answers is unchanged
(a query of an index still reads every item, as before).

>>> install(); install()  # idempotent
>>> from moto.dynamodb.models.table import Table
>>> Table.query.__name__, Table.all_items.__name__
('query_one_partition', 'all_items_or_partition')
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any

__all__ = ["install"]

_partition = threading.local()  # the partition key a table query is reading, if any


def install() -> None:
    """Patch moto's ``Table`` (once per process)."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    query, all_items, size = Table.query, Table.all_items, Item.size
    if query.__name__ == "query_one_partition":
        return
    signature = inspect.signature(query)
    if not {"hash_key", "index_name"} <= signature.parameters.keys():
        raise TypeError(f"moto's Table.query{signature} is not the one patched here")

    @functools.wraps(query)
    def query_one_partition(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked = signature.bind(self, *args, **kwargs).arguments
        if asked.get("index_name") or asked.get("hash_key") is None:
            return query(self, *args, **kwargs)
        _partition.key, _partition.sizes = asked["hash_key"], {}
        try:
            return query(self, *args, **kwargs)
        finally:
            _partition.key = _partition.sizes = None

    @functools.wraps(size)
    def size_once_per_query(self: Any) -> int:
        """An item's size (moto sums it two or three times per item a query reads; the
        items do not change meanwhile)."""
        sizes = getattr(_partition, "sizes", None)
        if sizes is None:
            return size(self)
        known = sizes.get(id(self))
        if known is None or known[0] is not self:
            known = sizes[id(self)] = (self, size(self))
        return known[1]

    @functools.wraps(all_items)
    def all_items_or_partition(self: Any) -> Any:
        """Every item (as moto lists them) — or, inside a table query, those of the
        queried partition: the only ones that query keeps of the listing."""
        key = getattr(_partition, "key", None)
        if key is None:
            return all_items(self)
        found = self.items.get(key)
        if found is None:
            return []
        if not self.range_key_attr:
            return [found]
        return sorted(found.values(), key=_range_order)

    query_one_partition.__name__ = "query_one_partition"
    all_items_or_partition.__name__ = "all_items_or_partition"
    Table.query, Table.all_items = query_one_partition, all_items_or_partition
    Item.size = size_once_per_query


def _range_order(item: Any) -> Any:
    """What moto orders range keys by (``DynamoType.cast_value``), read directly for a
    string: a partition is sorted in C, not with a Python comparison per pair."""
    key = item.range_key
    return key.value if key.type == "S" else key.cast_value
