"""Remove what a class left behind: each attendee's history items (their ``user_id`` and the
``user_id-…`` users the notebooks derive from it, e.g. ``minsu-ttl``), their own tables
(``--table-prefix``), and their deployed stacks (``chatkit-<user_id>``, with ``chatkit.deploy``).
Always planned first; the CLI shows the plan (a dry run) and removes only with ``--yes``::

    plan = plan_clean(attendees, Settings.from_env(), aws=Aws("ap-northeast-2"))
    print(format_plan(plan))
    apply_clean(plan, Settings.from_env(), aws)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..schema import HISTORY_TABLE
from .naming import DEFAULT_STACK_PREFIX, attendee_stacks, attendee_tables
from .report import text_table
from .roster import Attendee

__all__ = [
    "Removal",
    "apply_clean",
    "format_plan",
    "has_history",
    "owner_of",
    "plan_clean",
]


@dataclass
class Removal:
    """What would be removed for one attendee."""

    user_id: str
    #: partition key (user) → number of items, in the shared history table
    partitions: dict[str, int] = field(default_factory=dict)
    #: the attendee's own tables (``--table-prefix``) that exist
    tables: list[str] = field(default_factory=list)
    #: the attendee's deployed stacks (``--stack-prefix``) that exist
    stacks: list[str] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(self.partitions.values())


def owner_of(partition: str, user_ids: list[str]) -> str | None:
    """The attendee a history partition belongs to: its user id, or the longest user id
    it extends with ``-`` (``minsu-ttl`` → ``minsu``; ``minsu-2`` → ``minsu-2`` if listed)."""
    owners = [u for u in user_ids if partition == u or partition.startswith(u + "-")]
    return max(owners, key=len, default=None)


def has_history(settings: Settings) -> bool:
    """False offline without a shared DynamoDB: offline history ends with its kernels."""
    return settings.mode == "aws" or bool(settings.dynamodb_endpoint)


def plan_clean(
    attendees: list[Attendee],
    settings: Settings,
    table_prefix: str = "",
    *,
    stack_prefix: str = DEFAULT_STACK_PREFIX,
    aws: Any = None,
) -> list[Removal]:
    """Look (read only) at what belongs to ``attendees``; with ``aws`` (a
    :class:`chatkit.deploy.aws.Aws`) also at their stacks ``<stack_prefix><user_id>``."""
    removals = {a.user_id: Removal(a.user_id) for a in attendees}
    if has_history(settings):
        _plan_history(removals, settings, table_prefix)
    if aws is not None:
        _plan_stacks(attendees, removals, stack_prefix, aws)
    return list(removals.values())


def apply_clean(
    plan: list[Removal], settings: Settings, aws: Any = None, log: Callable[[str], None] = print
) -> None:
    """Remove everything in ``plan``: stacks with ``chatkit.deploy``'s ``destroy``, own
    tables with ``DeleteTable``, items with :meth:`HistoryStore.clear`."""
    if any(removal.stacks for removal in plan):
        from ..deploy.stack import destroy

        for removal in plan:
            for stack in removal.stacks:
                destroy(aws, stack, log=log)
    if not has_history(settings):
        return
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
    """One row per attendee: items (per user), own tables, stacks."""
    rows = []
    for removal in plan:
        users = ", ".join(f"{p} {n}" for p, n in sorted(removal.partitions.items()))
        rows.append(
            [
                removal.user_id,
                removal.items,
                users or "–",
                ", ".join(removal.tables) or "–",
                ", ".join(removal.stacks) or "–",
            ]
        )
    return text_table(
        [
            "참가자 (attendee)",
            "아이템 (items)",
            "사용자별 (per user)",
            "테이블 (own tables)",
            "스택 (stacks)",
        ],
        rows,
    )


def _plan_history(removals: dict[str, Removal], settings: Settings, table_prefix: str) -> None:
    from ..aws_clients import dynamodb_client

    client = dynamodb_client(settings)
    user_ids = list(removals)
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


def _plan_stacks(
    attendees: list[Attendee], removals: dict[str, Removal], stack_prefix: str, aws: Any
) -> None:
    from ..deploy.progress import describe_stack

    cfn = aws.client("cloudformation")
    for user_id, name in attendee_stacks(attendees, stack_prefix).items():
        stack = describe_stack(cfn, name)
        if stack is not None and stack["StackStatus"] != "DELETE_COMPLETE":
            removals[user_id].stacks.append(name)


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
