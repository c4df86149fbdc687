"""Local DynamoDB: moto's server on a loopback port, spoken to with the real boto3 client.

>>> import boto3
>>> with LocalDynamoDB() as db:
...     client = boto3.client(
...         "dynamodb", endpoint_url=db.url, region_name="ap-northeast-2",
...         aws_access_key_id="testing", aws_secret_access_key="testing",
...     )
...     created = create_history_table(client, "chatkit-history")  # False if it was there
...     client.describe_table(TableName="chatkit-history")["Table"]["TableStatus"]
'ACTIVE'
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any, Self

from ..schema import HISTORY_TABLE, STATE_TABLE, TableSchema
from ._hosts import REFUSED_TEXT, host_allowed, origin_allowed

__all__ = ["LocalDynamoDB", "create_history_table", "create_state_table", "create_tables"]


#: Seconds a connection may stay silent (headers sent byte by byte included) before it is
#: closed: a slow client cannot hold the server's threads.
SOCKET_TIMEOUT = 15


class LocalDynamoDB:
    """moto's server on ``127.0.0.1`` (port 0 = a free port) in a thread; in-memory state.

    It answers only loopback ``Host`` names and loopback page origins (see
    :mod:`chatkit.local._hosts`), and answers a loopback page's CORS preflight itself
    (moto sends those to its S3 backend, which fails them), so the web client's calls to
    the local user pool work whatever the browser's preflight cache holds.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from ._moto_transactions import install

        install()  # transactions back up the items they touch, not whole tables
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = _LoopbackGuard(DomainDispatcherApplication(create_backend_app), self._host)
        handler = type("_Handler", (MotoRequestHandler,), {"timeout": SOCKET_TIMEOUT})
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=handler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _LoopbackGuard:
    """WSGI middleware: refuse foreign ``Host`` (421) and foreign ``Origin`` (403); answer
    a loopback page's CORS preflight (``Access-Control-Max-Age`` 10 minutes); hand moto
    one request at a time (its backends are not thread-safe: ``TransactWriteItems`` copies
    a table while other requests change it), each with its body already read, so a slow
    client never holds the others up."""

    def __init__(self, app: Any, bound: str) -> None:
        self._app, self._bound = app, bound
        self._one_at_a_time = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        origin = environ.get("HTTP_ORIGIN")
        if not host_allowed(environ.get("HTTP_HOST"), self._bound):
            return _text(start_response, "421 Misdirected Request", REFUSED_TEXT)
        if not origin_allowed(origin):
            return _text(start_response, "403 Forbidden", REFUSED_TEXT)
        if environ["REQUEST_METHOD"] == "OPTIONS" and origin:
            start_response(
                "204 No Content",
                [
                    ("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, HEAD"),
                    ("Access-Control-Allow-Headers", environ.get(_ASKED_HEADERS, "*")),
                    ("Access-Control-Max-Age", "600"),
                    ("Vary", "Origin"),
                ],
            )
            return [b""]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length) if length else b"")
        with self._one_at_a_time:
            return self._app(environ, start_response)


_ASKED_HEADERS = "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"


def _text(start_response: Any, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def create_table(client: Any, schema: TableSchema, table_name: str) -> bool:
    """Create a table from its schema constant with TTL on; False if it already existed."""
    try:
        client.create_table(**schema.create_table_kwargs(table_name))
    except client.exceptions.ResourceInUseException:
        return False
    # AWS makes a table ACTIVE in seconds; the waiter's default first retry is after 20 s
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 2, "MaxAttempts": 90}
    )
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute},
    )
    return True


def create_history_table(client: Any, table_name: str) -> bool:
    """The history table (:data:`chatkit.schema.HISTORY_TABLE`)."""
    return create_table(client, HISTORY_TABLE, table_name)


def create_state_table(client: Any, table_name: str) -> bool:
    """The backend state table (:data:`chatkit.schema.STATE_TABLE`)."""
    return create_table(client, STATE_TABLE, table_name)


def create_tables(client: Any, settings: Any) -> None:
    """Both tables named in ``settings`` (idempotent)."""
    create_history_table(client, settings.table_name)
    create_state_table(client, settings.state_table_name)
