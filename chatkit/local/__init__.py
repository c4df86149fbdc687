"""The offline stack: a Bedrock emulator with a Korean demo model and a local DynamoDB,
both on loopback, spoken to by the real boto3 / langchain-aws code paths.

Use it as a plain context manager (tests, notebooks, scripts)::

    from chatkit.local import offline_stack
    with offline_stack() as stack:               # sets CHATKIT_* variables meanwhile
        session = ChatSession()                  # talks to the local endpoints
        print(stack.env)

``ChatPanel()``, ``%%chat``, ``chatkit chat`` and the notebooks' setup cell start one
shared stack for the process when the settings have no endpoints
(:func:`ensure_offline_stack`); a bare ``ChatSession()`` never starts anything.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings

__all__ = ["OfflineStack", "ensure_offline_stack", "exported", "offline_stack"]

#: Default demo-model speed: about a real Claude model's (DESIGN.md), override with
#: ``CHATKIT_DEMO_RATE`` or the ``!rate`` directive.
DEFAULT_RATE = 50.0


@dataclass
class OfflineStack:
    """Running local endpoints; ``env`` holds the variables that point clients at them."""

    settings: Settings
    emulator: Any
    dynamodb: Any
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bedrock_url(self) -> str:
        return self.emulator.url

    @property
    def dynamodb_url(self) -> str:
        return self.dynamodb.url

    def stop(self) -> None:
        self.emulator.stop()
        self.dynamodb.stop()


def start_offline_stack(
    settings: Settings | None = None, *, rate: float | None = None, host: str = "127.0.0.1"
) -> OfflineStack:
    """Start both emulators, create the history table; the caller must ``stop()`` it."""
    from ..aws_clients import dynamodb_client
    from .bedrock_emulator import BedrockEmulator
    from .dynamodb import LocalDynamoDB, create_tables

    base = (settings or Settings.from_env()).with_(mode="offline")
    if rate is None:
        rate = float(os.environ.get("CHATKIT_DEMO_RATE") or DEFAULT_RATE)
    emulator = BedrockEmulator(default_rate=rate, host=host).start()
    dynamodb = LocalDynamoDB(host=host).start()
    settings = base.with_(bedrock_endpoint=emulator.url, dynamodb_endpoint=dynamodb.url)
    create_tables(dynamodb_client(settings), settings)
    env = {
        "CHATKIT_MODE": "offline",
        "CHATKIT_BEDROCK_ENDPOINT": emulator.url,
        "CHATKIT_DYNAMODB_ENDPOINT": dynamodb.url,
        "CHATKIT_MODEL_ID": settings.model_id,
        "CHATKIT_TABLE": settings.table_name,
        "CHATKIT_STATE_TABLE": settings.state_table_name,
        "CHATKIT_REGION": settings.region,
        "CHATKIT_BEDROCK_REGION": settings.bedrock_region,
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
    }
    return OfflineStack(settings, emulator, dynamodb, env)


@contextmanager
def exported(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set ``changes`` in ``os.environ`` (``None`` removes a variable) for the ``with``
    block, then restore what was there: the one place chatkit writes its own process's
    environment, for what inherits or reads it — child processes, notebook kernels,
    functions written to read their variables.

    Example::

        with exported({"CHATKIT_MODE": "offline", "AWS_PROFILE": None}):
            subprocess.run([...])  # the child sees CHATKIT_MODE, no AWS_PROFILE
    """
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _apply(changes)
        yield
    finally:
        _apply(saved)


def _apply(changes: Mapping[str, str | None]) -> None:
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def offline_stack(
    settings: Settings | None = None, *, rate: float | None = None, set_env: bool = True
) -> Iterator[OfflineStack]:
    """Run the offline stack for the ``with`` block; ``set_env`` exports its variables
    meanwhile (:func:`exported`) for code that reads settings from the environment. Pass
    ``set_env=False`` and use ``stack.settings`` to leave the environment alone.

    ``rate`` is the demo model's default tokens/second (``0`` = no delay).
    """
    stack = start_offline_stack(settings, rate=rate)
    try:
        with exported(stack.env if set_env else {}):
            yield stack
    finally:
        stack.stop()


_shared: OfflineStack | None = None
_shared_lock = threading.Lock()


def ensure_offline_stack(settings: Settings) -> Settings:
    """``settings`` pointed at the process-wide offline stack (started on first call) when
    they need one (:attr:`Settings.needs_local_endpoints`); other settings are returned as
    they are. Only the edges call it: the CLI, the notebook setup, the panel's default
    session, the workshop runner."""
    global _shared
    if not settings.needs_local_endpoints:
        return settings
    with _shared_lock:
        if _shared is None:
            _shared = start_offline_stack(settings)
            atexit.register(_shared.stop)
    from ..aws_clients import dynamodb_client
    from .dynamodb import create_tables

    ready = settings.with_(
        bedrock_endpoint=settings.bedrock_endpoint or _shared.bedrock_url,
        dynamodb_endpoint=settings.dynamodb_endpoint or _shared.dynamodb_url,
    )
    create_tables(dynamodb_client(ready), ready)
    return ready
