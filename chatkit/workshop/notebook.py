"""The workshop notebooks' one-call mode setup, and the attendee's own tables.

Every notebook's "apply the mode" cell is::

    settings, stack, user_id = setup(mode, user_id, model_id, demo_rate,
                                     stack=globals().get("stack"))

- ``mode`` left empty takes ``CHATKIT_MODE`` (else the Settings rule: aws when
  credentials are configured); a papermill parameter still wins.
- offline: starts the offline stack once (``stack`` given — a re-run of the cell, or the
  one the workshop runner attached — is reused, never a second one).
- aws: the attendee's name (``CHATKIT_ATTENDEE``, Studio user profile, IAM caller) names
  their user id, tables ``chatkit-<name>-history`` / ``-state`` and stack ``chatkit-<name>``;
  the tables are created if missing (``tables=True``). The standard ``AWS_ENDPOINT_URL*``
  settings and profiles are left alone.

The notebooks keep using their own tables after 07 (the deployed stack has its own,
for the web chat); notebook 08 removes both.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from ..attendee import resolve_attendee
from ..config import Settings

__all__ = ["Workbench", "choose_mode", "ensure_tables", "remove_tables", "setup", "tables_left"]

#: The offline user id when no attendee is named (what the notebooks always used).
OFFLINE_USER = "learner-01"


class Workbench(NamedTuple):
    settings: Settings
    stack: Any
    user_id: str


def _name_attendee(log: Callable[[str], None]) -> None:
    """Set ``CHATKIT_ATTENDEE`` from Studio or STS when nothing set it (aws mode)."""
    if os.environ.get("CHATKIT_ATTENDEE"):
        return
    try:
        name = resolve_attendee(aws=True)
    except Exception as exc:  # no credentials yet: the doctor (00) explains
        log(
            "참가자 이름을 정하지 못했습니다: CHATKIT_ATTENDEE를 설정하세요. "
            f"(Could not name the attendee — set CHATKIT_ATTENDEE: {type(exc).__name__})"
        )
        return
    if name:
        os.environ["CHATKIT_ATTENDEE"] = name
    else:
        log(
            "참가자 이름이 없어 공용 이름(chatkit-history, 스택 chatkit)을 씁니다: "
            "함께 쓰는 계정이면 CHATKIT_ATTENDEE를 설정하세요. "
            "(No attendee name: shared names; set CHATKIT_ATTENDEE in a shared account.)"
        )


def _endpoint(settings: Settings, service: str) -> str:
    from ..aws_clients import bedrock_runtime_client, dynamodb_client

    make = bedrock_runtime_client if service == "bedrock" else dynamodb_client
    url = make(settings).meta.endpoint_url
    return url if url.startswith("http://127.") else f"AWS {url}"


def choose_mode(
    mode: str = "", model_id: str = "", *, log: Callable[[str], None] = print
) -> Settings:
    """Set ``CHATKIT_MODE`` (``mode``, else the environment's, else the Settings rule) and
    the model; in aws mode name the attendee. Starts nothing (07 and 08 use it alone)."""
    mode = mode or os.environ.get("CHATKIT_MODE") or Settings.from_env().mode
    if mode not in ("offline", "aws"):
        raise ValueError(
            f"mode는 'offline' 또는 'aws'입니다 (mode must be offline or aws): {mode!r}"
        )
    os.environ["CHATKIT_MODE"] = mode
    if model_id:
        os.environ["CHATKIT_MODEL_ID"] = model_id
    if mode == "aws":
        _name_attendee(log)
    return Settings.from_env()


def setup(
    mode: str = "",
    user_id: str = "",
    model_id: str = "",
    demo_rate: float | None = None,
    *,
    stack: Any = None,
    tables: bool = True,
    log: Callable[[str], None] = print,
) -> Workbench:
    """Apply the mode for this kernel and print a summary (see the module docstring)."""
    mode = choose_mode(mode, model_id, log=log).mode
    if mode == "offline" and stack is None:
        from ..local import start_offline_stack

        stack = start_offline_stack(rate=demo_rate)
    if stack is not None:
        os.environ.update(stack.env)  # CHATKIT_*_ENDPOINT, dummy credentials, region
    settings = Settings.from_env()
    created = ensure_tables(settings) if mode == "aws" and tables else []
    user_id = user_id or settings.attendee or OFFLINE_USER
    log(f"mode     = {settings.mode}")
    log(f"user_id  = {user_id}")
    log(f"model_id = {settings.model_id}")
    log(f"bedrock  = {settings.bedrock_endpoint or _endpoint(settings, 'bedrock')}")
    log(f"dynamodb = {settings.dynamodb_endpoint or _endpoint(settings, 'dynamodb')}")
    if mode == "aws":
        log(f"attendee = {settings.attendee or '-'} · region {settings.region}")
        made = f" (만듦 created: {', '.join(created)})" if created else ""
        log(f"tables   = {settings.table_name}, {settings.state_table_name}{made}")
    return Workbench(settings, stack, user_id)


def ensure_tables(settings: Settings) -> list[str]:
    """Create the history and state tables named in ``settings`` if missing (the key
    schemas of :mod:`chatkit.schema`, as in the template; TTL on); the names created."""
    from ..aws_clients import dynamodb_client
    from ..local.dynamodb import create_history_table, create_state_table

    client = dynamodb_client(settings)
    pairs = (
        (create_history_table, settings.table_name),
        (create_state_table, settings.state_table_name),
    )
    return [name for create, name in pairs if create(client, name)]


def _tables_where(settings: Settings, act: Callable[[Any, str], object]) -> list[str]:
    """The history and state tables on which ``act(client, name)`` did not find the table
    missing."""
    from ..aws_clients import dynamodb_client

    client, names = dynamodb_client(settings), []
    for name in (settings.table_name, settings.state_table_name):
        try:
            act(client, name)
        except client.exceptions.ResourceNotFoundException:
            continue
        names.append(name)
    return names


def _delete(client: Any, name: str) -> None:
    client.delete_table(TableName=name)
    client.get_waiter("table_not_exists").wait(
        TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 90}
    )


def remove_tables(settings: Settings) -> list[str]:
    """Delete the history and state tables named in ``settings``; the names deleted."""
    return _tables_where(settings, _delete)


def tables_left(settings: Settings) -> list[str]:
    """Which of the history and state tables named in ``settings`` still exist."""
    return _tables_where(settings, lambda client, name: client.describe_table(TableName=name))
