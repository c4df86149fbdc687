"""chatkit — a streaming Korean chatbot on Amazon Bedrock, built to be taught.

The core is UI-free (no IPython, ipywidgets or Jupyter imports) so the same code runs
in notebooks, the CLI and AWS Lambda. Names are imported lazily: ``import chatkit`` is
cheap, and heavy libraries load only when used::

    from chatkit import ChatSession
    for event in ChatSession().stream("minsu", "서울 여행 추천해줘"):
        print(event)
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ChatSession": "chatkit.session",
    "Settings": "chatkit.config",
    "ChatError": "chatkit.errors",
    "ErrorCode": "chatkit.errors",
    "HistoryStore": "chatkit.history",
    "Turn": "chatkit.history",
    "Start": "chatkit.events",
    "Delta": "chatkit.events",
    "End": "chatkit.events",
    "Error": "chatkit.events",
}

__all__ = [
    "ChatError",
    "ChatSession",
    "Delta",
    "End",
    "Error",
    "ErrorCode",
    "HistoryStore",
    "Settings",
    "Start",
    "Turn",
    "__version__",
]

# A library stays quiet unless the application configures logging (notebooks included):
# errors reach people as Error events with bilingual messages, details go to the logs.
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .config import Settings
    from .errors import ChatError, ErrorCode
    from .events import Delta, End, Error, Start
    from .history import HistoryStore, Turn
    from .session import ChatSession


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chatkit' has no attribute {name!r}")
