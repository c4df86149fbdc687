"""Remove what a class left behind: each attendee's history items (their ``user_id`` and the
``user_id-…`` users the notebooks derive from it, e.g. ``minsu-ttl``), their own tables
(``--table-prefix``), and deployed stacks. Always planned first; the CLI shows the plan
(a dry run) and removes only with ``--yes``::

    plan = plan_clean(attendees, Settings.from_env())
    print(format_plan(plan))
    apply_clean(plan, Settings.from_env())
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..schema import HISTORY_TABLE
from .report import text_table
from .roster import Attendee
from .runner import attendee_tables

__all__ = ["Removal", "apply_clean", "format_plan", "owner_of", "plan_clean"]


@dataclass
class Removal:
    """What would be removed for one attendee."""

    user_id: str
    #: partition key (user) → number of items, in the shared history table
    partitions: dict[str, int] = field(default_factory=dict)
    #: the attendee's own tables (``--table-prefix``) that exist
    tables: list[str] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(self.partitions.values())


def owner_of(partition: str, user_ids: list[str]) -> str | None:
    """The attendee a history partition belongs to: its user id, or the longest user id
    it extends with ``-`` (``minsu-ttl`` → ``minsu``; ``minsu-2`` → ``minsu-2`` if listed)."""
    owners = [u for u in user_ids if partition == u or partition.startswith(u + "-")]
    return max(owners, key=len, default=None)


def plan_clean(
    attendees: list[Attendee], settings: Settings, table_prefix: str = ""
) -> list[Removal]:
    """Look (read only) at what belongs to ``attendees``."""
    from ..aws_clients import dynamodb_client

    client = dynamodb_client(settings)
    user_ids = [a.user_id for a in attendees]
    removals = {u: Removal(u) for u in user_ids}
    if table_prefix:
        existing = _existing_tables(client)
        for user_id in user_ids:
            own = attendee_tables(user_id, table_prefix, settings)
            removals[user_id].tables = [t for t in own if t in existing]
            if own[0] in existing:
                removals[user_id].partitions = dict(_partitions(client, own[0]))
    else:
        for partition, count in _partitions(client, settings.table_name).items():
            owner = owner_of(partition, user_ids)
            if owner is not None:
                removals[owner].partitions[partition] = count
    return [removals[u] for u in user_ids]


def apply_clean(plan: list[Removal], settings: Settings) -> None:
    """Remove everything in ``plan``: items with :meth:`HistoryStore.clear`, own tables
    with ``DeleteTable``."""
    from ..aws_clients import dynamodb_client
    from ..history import HistoryStore

    client = dynamodb_client(settings)
    store = HistoryStore.from_settings(settings)
    for removal in plan:
        if removal.tables:
            for table in removal.tables:
                client.delete_table(TableName=table)
        else:
            for partition in removal.partitions:
                store.clear(partition)


def format_plan(plan: list[Removal]) -> str:
    """One row per attendee: items (per user), own tables."""
    rows = []
    for removal in plan:
        users = ", ".join(f"{p} {n}" for p, n in sorted(removal.partitions.items()))
        rows.append(
            [removal.user_id, removal.items, users or "–", ", ".join(removal.tables) or "–"]
        )
    return text_table(
        ["참가자 (attendee)", "아이템 (items)", "사용자별 (per user)", "테이블 (own tables)"], rows
    )


def _partitions(client: Any, table: str) -> Counter[str]:
    """Items per partition key (one paginated Scan of the keys only)."""
    counts: Counter[str] = Counter()
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="#pk",
        ExpressionAttributeNames={"#pk": HISTORY_TABLE.partition_key},
    )
    for page in pages:
        counts.update(item[HISTORY_TABLE.partition_key]["S"] for item in page["Items"])
    return counts


def _existing_tables(client: Any) -> set[str]:
    return {
        name
        for page in client.get_paginator("list_tables").paginate()
        for name in page["TableNames"]
    }
