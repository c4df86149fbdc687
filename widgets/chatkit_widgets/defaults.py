"""Defaults shared by ``ChatPanel()`` and ``%%chat``: the user id and one session per
settings.

Example::

    >>> import os; os.environ.pop("CHATKIT_USER", None) and None
    >>> default_user_id()
    'learner'
"""

from __future__ import annotations

import os
import threading

from chatkit.config import Settings
from chatkit.local import ensure_offline_stack
from chatkit.session import ChatSession

__all__ = ["DEFAULT_USER", "default_user_id", "shared_session"]

DEFAULT_USER = "learner"

_sessions: dict[Settings, ChatSession] = {}
_lock = threading.Lock()


def default_user_id() -> str:
    """``CHATKIT_USER`` from the environment, else ``"learner"``."""
    return os.environ.get("CHATKIT_USER", "").strip() or DEFAULT_USER


def shared_session(settings: Settings | None = None) -> ChatSession:
    """One ``ChatSession`` per distinct settings (default: from the environment), so
    panels and magics share the model client and the offline stack."""
    settings = settings or Settings.from_env()
    with _lock:
        settings = ensure_offline_stack(settings)  # offline without endpoints: start it once
        if settings not in _sessions:
            _sessions[settings] = ChatSession(settings)
        return _sessions[settings]
