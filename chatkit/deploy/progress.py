"""Follow a CloudFormation stack: print its events as they arrive and wait until it
settles.

    >>> watcher = StackWatcher(aws.client("cloudformation"), stack_id)  # doctest: +SKIP
    >>> watcher.wait()  # doctest: +SKIP
    'CREATE_COMPLETE'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["StackWatcher", "describe_stack", "is_settled"]


def describe_stack(cfn: Any, name_or_id: str) -> dict[str, Any] | None:
    """The stack, or None if there is none by that name (a deleted stack is found only
    by its id, with status ``DELETE_COMPLETE``)."""
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name_or_id)["Stacks"][0]
    except ClientError as err:
        if "does not exist" in err.response.get("Error", {}).get("Message", ""):
            return None
        raise


def is_settled(status: str) -> bool:
    """No operation is running (``REVIEW_IN_PROGRESS`` waits for a change set: settled)."""
    return status == "REVIEW_IN_PROGRESS" or not status.endswith("_IN_PROGRESS")


class StackWatcher:
    """Prints the stack's new events; the events present when it was made count as seen."""

    def __init__(
        self,
        cfn: Any,
        stack_id: str,
        *,
        log: Callable[[str], None] = print,
        poll_seconds: float = 5.0,
    ) -> None:
        self.cfn = cfn
        self.stack_id = stack_id
        self.log = log
        self.poll_seconds = poll_seconds
        self._seen: set[str] = set()
        self._new_events()  # what already happened counts as seen
        #: Events since this watcher was made, oldest first.
        self.events: list[dict[str, Any]] = []

    def _new_events(self) -> list[dict[str, Any]]:
        fresh: list[dict[str, Any]] = []
        for page in self.cfn.get_paginator("describe_stack_events").paginate(
            StackName=self.stack_id
        ):
            events = page.get("StackEvents", [])
            unseen = [e for e in events if e["EventId"] not in self._seen]
            fresh.extend(unseen)
            if len(unseen) < len(events):  # newest first: the rest are older
                break
        self._seen.update(e["EventId"] for e in fresh)
        return fresh[::-1]

    def print_events(self) -> None:
        fresh = self._new_events()
        self.events.extend(fresh)
        for event in fresh:
            reason = event.get("ResourceStatusReason") or ""
            self.log(
                f"  {event['Timestamp']:%H:%M:%S}  {event['ResourceStatus']:<22} "
                f"{event['ResourceType']:<36} {event['LogicalResourceId']}"
                + (f" — {reason}" if reason and "User Initiated" not in reason else "")
            )

    def wait(self, timeout_seconds: float = 3600) -> str:
        """Print events until the stack settles; its final status."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            self.print_events()
            stack = describe_stack(self.cfn, self.stack_id)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if is_settled(status):
                self.print_events()
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.stack_id} still {status} after {timeout_seconds:.0f} s")
            time.sleep(self.poll_seconds)

    def failure_reasons(self) -> list[str]:
        """Why resources failed, from the events this watcher saw."""
        return [
            f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}"
            for e in self.events
            if e["ResourceStatus"].endswith("_FAILED") and e.get("ResourceStatusReason")
        ]
