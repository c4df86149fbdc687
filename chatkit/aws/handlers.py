"""Lambda entry points (one per route), each a one-line adapter over :class:`Backend`.

The backend holds no per-user state (memory is read from each user's own history per
turn) and is reused while the container is warm. On Lambda (``_HANDLER`` set) it is built
at init — outside any invocation, so a SnapStart snapshot holds it:

- ``CHATKIT_AUTH_SECRET_ARN`` set (the deployed stack): the demo token / cursor key is read
  once from Secrets Manager, and that client closed (no connection in the snapshot);
  otherwise ``CHATKIT_AUTH_SECRET`` (``chatkit serve``, offline) as before;
- the chat function (``…ws_default``) also imports and builds the chat path: the session,
  langchain-aws's model and the boto3 clients (creating a client opens no connection);
  the other functions never import the model code.

An init that fails (say, the secret not readable yet while the version is published) is
logged and left to the first invocation, which builds the backend as before.

The local gateway runs these same functions with a backend of its own, built from the
settings it was given (:func:`run_with`): the container's backend is then not used, so
two gateways in one process never share one, and nothing is read from the environment.

    # template.yaml: Handler: chatkit.aws.handlers.ws_default
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ..aws_clients import preload_management_client
from ..config import Settings
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

#: The template's variables that are not for Settings: the secret this module reads …
SECRET_ARN_VARIABLE = "CHATKIT_AUTH_SECRET_ARN"
#: … and the stack's release, which nothing reads: it changes with every deployment, so
#: every function changes with its published version (Lambda publishes no new version of
#: an unchanged function, and the stack update would roll back).
RELEASE_VARIABLE = "CHATKIT_RELEASE"
CHAT_HANDLER = "ws_default"

_backend: Backend | None = None
_lock = threading.Lock()  # Lambda runs one event at a time; the local gateway, many
_given: ContextVar[Backend | None] = ContextVar("chatkit_backend", default=None)


def read_secret(arn: str, settings: Settings) -> str:
    """The secret's string from Secrets Manager (standard endpoint settings apply, e.g.
    ``AWS_ENDPOINT_URL_SECRETS_MANAGER``); the client is closed afterwards."""
    import boto3

    client = boto3.session.Session().client("secretsmanager", region_name=settings.region)
    try:
        return client.get_secret_value(SecretId=arn)["SecretString"]
    finally:
        client.close()


def _settings() -> Settings:
    settings = Settings.from_env()
    arn = os.environ.get(SECRET_ARN_VARIABLE)
    if arn:
        settings = settings.with_(auth_secret=read_secret(arn, settings))
    return settings


def backend() -> Backend:
    """This invocation's backend: the one given to :func:`run_with`, else the container's
    (built from the environment on first use)."""
    given = _given.get()
    if given is not None:
        return given
    global _backend
    with _lock:
        if _backend is None:
            _backend = Backend(_settings())
        return _backend


def cold_start() -> None:
    """Forget the warm backend, as a new container would (the local gateway calls this
    when it starts, so a new environment — endpoints, tables — takes effect)."""
    global _backend
    with _lock:
        _backend = None


def run_with(
    given: Backend, function: Callable[[dict[str, Any], Any], Any], event: Any, context: Any
) -> Any:
    """``function(event, context)`` with ``given`` as its backend (this call only, this
    thread only): how the local gateway runs these functions on its own settings.

    Example::

        run_with(Backend(settings), ws_default, event, context)
    """
    token = _given.set(given)
    try:
        return function(event, context)
    finally:
        _given.reset(token)


def warm_chat_path(built: Backend) -> None:
    """Import and build what the first chat needs: the session, langchain-aws's model,
    the state table's client, the ``@connections`` client's model (no connection opened)."""
    built.session.model  # noqa: B018 - imports langchain-aws, builds the model client
    built.state  # noqa: B018 - the state table's client
    preload_management_client(built.settings)  # @connections: its endpoint comes later


def init(handler: str) -> Backend:
    """What Lambda's init phase does for ``handler`` (``module.function``): build the
    backend and, for the chat function, the whole chat path."""
    built = backend()
    if handler.rpartition(".")[2] == CHAT_HANDLER:
        warm_chat_path(built)
    return built


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


if os.environ.get("_HANDLER", "").startswith(f"{__name__}."):  # Lambda's init phase
    try:
        init(os.environ["_HANDLER"])
    except Exception:  # e.g. the role's new policy not in effect yet while SnapStart
        # publishes the version: do not fail the publish; the first invocation builds it
        logging.getLogger(__name__).exception("init failed: the backend is built on first use")
        cold_start()
