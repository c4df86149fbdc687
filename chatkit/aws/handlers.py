"""Lambda entry points (one per route), each a one-line adapter over :class:`Backend`.

The backend is built on the first invocation and reused while the container is warm;
it holds no per-user state (memory is read from each user's own history per turn).

    # template.yaml: Handler: chatkit.aws.handlers.ws_default
"""

from __future__ import annotations

import threading
from typing import Any

from .apigw import HttpEvent, WebSocketEvent
from .backend import Backend

__all__ = [
    "http_history",
    "http_login",
    "ws_authorize",
    "ws_connect",
    "ws_default",
    "ws_disconnect",
]

_backend: Backend | None = None
_lock = threading.Lock()  # Lambda runs one event at a time; the local gateway, many


def backend() -> Backend:
    """The container's backend (built from the environment on first use)."""
    global _backend
    with _lock:
        if _backend is None:
            _backend = Backend.from_env()
        return _backend


def cold_start() -> None:
    """Forget the warm backend, as a new container would (the local gateway calls this
    when it starts, so a new environment — endpoints, tables — takes effect)."""
    global _backend
    with _lock:
        _backend = None


def ws_authorize(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The ``$connect`` Lambda authorizer (Cognito mode)."""
    return backend().authorize(WebSocketEvent(event))


def ws_connect(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return backend().connect(WebSocketEvent(event))


def ws_disconnect(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return backend().disconnect(WebSocketEvent(event))


def ws_default(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return backend().message(WebSocketEvent(event))


def http_history(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return backend().history_page(HttpEvent(event))


def http_login(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return backend().login(HttpEvent(event))
