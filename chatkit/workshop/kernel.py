"""Inside an attendee's kernel during an offline class run: connect to the class's
shared DynamoDB instead of a private one.

The workshop notebooks start their own offline stack unless ``stack`` is already
defined (``stack = globals().get("stack")`` in their "apply the mode" cell). For an
offline class run the runner inserts one visible cell, tagged ``workshop-attach``, right
after the parameters: it defines ``stack`` as a real :class:`~chatkit.local.OfflineStack`
whose Bedrock emulator is private to this kernel (so a notebook's checks of "the requests
*my* emulator received" stay true while others run) and whose DynamoDB is the one every
attendee shares (``CHATKIT_DYNAMODB_ENDPOINT``) — so isolation between attendees is real,
and their history outlives the kernels::

    stack = attach_offline_stack(rate=demo_rate)   # the inserted cell
"""

from __future__ import annotations

import os

from ..config import Settings
from ..local import OfflineStack

__all__ = ["ATTACH_TAG", "SharedDynamoDB", "attach_cell_source", "attach_offline_stack"]

ATTACH_TAG = "workshop-attach"


def attach_cell_source(rate: str) -> str:
    """The code of the inserted cell; ``rate`` is a Python expression (``"demo_rate"``)."""
    return (
        "# chatkit workshop: 강의가 함께 쓰는 DynamoDB에 연결, 이 커널만의 Bedrock 에뮬레이터\n"
        "# (the class's shared DynamoDB; a Bedrock emulator private to this kernel)\n"
        "from chatkit.workshop.kernel import attach_offline_stack\n\n"
        f"stack = attach_offline_stack(rate={rate})"
    )


class SharedDynamoDB:
    """The class's DynamoDB, owned by the runner: ``stop()`` leaves it running."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stop(self) -> None:
        """Nothing to stop here: the runner stops the shared DynamoDB after the class run."""


def attach_offline_stack(rate: float) -> OfflineStack:
    """A private Bedrock emulator (demo model at ``rate`` tokens/s) and the shared
    DynamoDB named by ``CHATKIT_DYNAMODB_ENDPOINT``; points this kernel's env at both."""
    from ..local.bedrock_emulator import BedrockEmulator

    settings = Settings.from_env()
    if settings.mode != "offline" or not settings.dynamodb_endpoint:
        raise RuntimeError(
            "공유 DynamoDB가 없습니다: CHATKIT_MODE=offline과 "
            "CHATKIT_DYNAMODB_ENDPOINT가 필요합니다 "
            "(no shared DynamoDB: needs CHATKIT_MODE=offline and CHATKIT_DYNAMODB_ENDPOINT)"
        )
    emulator = BedrockEmulator(default_rate=rate).start()
    env = {"CHATKIT_BEDROCK_ENDPOINT": emulator.url}
    os.environ.update(env)
    return OfflineStack(
        settings.with_(bedrock_endpoint=emulator.url),
        emulator,
        SharedDynamoDB(settings.dynamodb_endpoint),
        env,
    )
