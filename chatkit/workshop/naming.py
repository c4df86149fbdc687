"""Names of an attendee's own resources, shared by ``workshop run`` and ``workshop clean``:
their tables (with ``--table-prefix``) and their stack (notebooks 07/08 deploy and delete
the stack named by their ``stack_name`` parameter)::

    >>> attendee_tables("minsu", "ws1-", Settings())
    ('ws1-minsu-history', 'ws1-minsu-state')
    >>> attendee_stacks([Attendee("minsu", row=2)], "chatkit-")
    {'minsu': 'chatkit-minsu'}
"""

from __future__ import annotations

import importlib.util

from ..config import Settings
from .errors import InputError, problem
from .roster import Attendee

__all__ = ["DEFAULT_STACK_PREFIX", "attendee_stacks", "attendee_tables", "deploy_available"]

#: Attendee ``minsu`` deploys the stack ``chatkit-minsu`` (one stack each in a shared account).
DEFAULT_STACK_PREFIX = "chatkit-"


def attendee_tables(user_id: str, table_prefix: str, base: Settings) -> tuple[str, str]:
    """The history and state tables of ``user_id``: their own with a prefix, else shared."""
    if table_prefix:
        return f"{table_prefix}{user_id}-history", f"{table_prefix}{user_id}-state"
    return base.table_name, base.state_table_name


def deploy_available() -> bool:
    """Stacks exist only with ``chatkit.deploy`` (guarded: a checkout may not have it)."""
    return importlib.util.find_spec("chatkit.deploy") is not None


def attendee_stacks(attendees: list[Attendee], stack_prefix: str) -> dict[str, str]:
    """user id → ``<stack_prefix><user_id>``; a name CloudFormation would refuse is bad
    input naming the roster row."""
    names = {a.user_id: f"{stack_prefix}{a.user_id}" for a in attendees}
    if not deploy_available():
        return names
    from ..deploy.stack import StackConfig

    problems = []
    for attendee in attendees:
        name = names[attendee.user_id]
        try:
            StackConfig(name)  # CloudFormation's naming rule
        except ValueError:
            problems.append(
                problem(
                    f"{attendee.row}행 user_id 열",
                    f"row {attendee.row}, column user_id",
                    f"스택 이름 {name!r}이 될 수 없습니다 "
                    "(영문자로 시작, 영문·숫자·하이픈 40자 이내)",
                    f"{name!r} cannot be a stack name (a letter, then letters, digits, hyphens; "
                    "at most 40)",
                )
            )
    if problems:
        raise InputError(problems)
    return names
