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

import functools
import io
import logging
import sys
from typing import Any, Self
from urllib.parse import unquote

from aiohttp import web

from ..schema import HISTORY_TABLE, STATE_TABLE, TableSchema
from ._background import BackgroundServer
from ._hosts import REFUSED_TEXT, host_allowed, origin_allowed
from ._http import HOP_BY_HOP, read_limited

__all__ = ["LocalDynamoDB", "create_history_table", "create_state_table", "create_tables"]

log = logging.getLogger(__name__)


#: Seconds a connection may stay silent (headers sent byte by byte included) before it is
#: closed.
SOCKET_TIMEOUT = 15
#: The largest request body taken (a deploy rehearsal uploads the Lambda zip to moto's S3).
MAX_BODY = 512 * 2**20


class LocalDynamoDB:
    """moto's server on ``127.0.0.1`` (port 0 = a free port) in a thread; in-memory state.

    One asyncio thread reads the requests and hands moto one at a time, each with its body
    already read: moto's backends are not thread-safe (``TransactWriteItems`` copies items
    while other requests change them), and a single thread never makes moto wait for the
    interpreter lock behind a crowd of half-read requests (werkzeug's thread per connection
    did: in a burst of 50 chats the last admission took 1.8 s, 1.2 s with this front).

    It answers only loopback ``Host`` names and loopback page origins (see
    :mod:`chatkit.local._hosts`), and answers a loopback page's CORS preflight itself
    (moto sends those to its S3 backend, which fails them), so the web client's calls to
    the local user pool work whatever the browser's preflight cache holds.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: BackgroundServer | None = None
        self._moto: Any = None
        self._by_target: dict[str, Any] = {}

    def start(self) -> Self:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        speed_up_moto()
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server = BackgroundServer(
            self._make_app,
            self._host,
            self._port,
            name="chatkit-moto",
            runner_kwargs={"keepalive_timeout": SOCKET_TIMEOUT},
        ).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return self._server.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        """Refuse a foreign ``Host`` (421) or ``Origin`` (403); answer a loopback page's
        preflight (``Access-Control-Max-Age`` 10 minutes); else moto answers."""
        origin = request.headers.get("Origin")
        if not host_allowed(request.headers.get("Host"), self._host):
            return web.Response(status=421, text=REFUSED_TEXT)
        if not origin_allowed(origin):
            return web.Response(status=403, text=REFUSED_TEXT)
        if request.method == "OPTIONS" and origin:
            asked = request.headers.get("Access-Control-Request-Headers", "*")
            cors = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, HEAD",
                "Access-Control-Allow-Headers": asked,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            }
            return web.Response(status=204, headers=cors)
        body = await read_limited(request, MAX_BODY)
        if body is None:
            return web.Response(status=413, text="Request Entity Too Large")
        environ = wsgi_environ(request, body)
        return call_wsgi(self._backend_app(environ), environ)

    def _backend_app(self, environ: dict[str, Any]) -> Any:
        """moto's app for the service the request is for: moto looks it up among all its
        services on every request; a JSON-protocol call names it in ``X-Amz-Target``
        (``DynamoDB_20120810.GetItem``), so the first lookup for each target is kept."""
        target = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0]
        if not target:
            return self._moto
        if target not in self._by_target:
            self._by_target[target] = self._moto.get_application(environ)
        return self._by_target[target]


@functools.cache
def speed_up_moto() -> tuple[str, ...]:
    """Apply chatkit's moto patches, once; returns the names of those this moto's
    internals do not allow (moto 5.1.0 lacks two): moto then does that part its own,
    slower way, with the same answers, and a warning says so.

    - ``_moto_transactions``: a transaction backs up the items it touches, not its tables;
    - ``_moto_memo``: each condition / update expression is parsed once;
    - ``_moto_query``: a query reads its partition, not the whole table;
    - ``_moto_answers``: items are answered as they are, not walked member by member.
    """
    from . import _moto_answers, _moto_memo, _moto_query, _moto_transactions

    missed = []
    for patch in (_moto_transactions, _moto_memo, _moto_query, _moto_answers):
        try:
            patch.install()
        except (ImportError, AttributeError, TypeError, ValueError) as err:
            missed.append(patch.__name__.rpartition(".")[2])
            log.warning("moto left unpatched (%s): %s: %s", missed[-1], type(err).__name__, err)
    return tuple(missed)


def wsgi_environ(request: web.Request, body: bytes) -> dict[str, Any]:
    """The WSGI environment of an aiohttp request whose body has been read (as werkzeug's
    server builds it: the path unquoted, headers with ``_`` in their name dropped)."""
    raw = request.raw_path  # as sent: a signature covers the query still percent-encoded
    path, _, query = raw.partition("?")
    host, port = (request.transport.get_extra_info("sockname") or ("127.0.0.1", 0))[:2]
    peer = request.transport.get_extra_info("peername") or ("127.0.0.1", 0)
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _latin1(unquote(path)),
        "QUERY_STRING": _latin1(query),
        "REQUEST_URI": _latin1(raw),
        "RAW_URI": _latin1(raw),
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": peer[1],
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if "_" in name or key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is whole: its length is known, no chunks are left
        if key != "CONTENT_TYPE":
            key = f"HTTP_{key}"
            value = f"{environ[key]},{value}" if key in environ else value
        environ[key] = value
    return environ


def call_wsgi(app: Any, environ: dict[str, Any]) -> web.Response:
    """Run a WSGI ``app`` to the end in this thread; its answer as an aiohttp response
    (a ``HEAD`` answer keeps the ``Content-Length`` the app gave)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None  # the legacy write(): moto does not use it

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    status, headers = started
    response = web.Response(status=int(status[:3]), reason=status[4:] or None)
    for name, value in headers:
        if name.lower() not in _NOT_PASSED_ON:
            response.headers.add(name, value)
    if environ["REQUEST_METHOD"] == "HEAD":
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        if length is not None:
            response.headers["Content-Length"] = length
    else:
        response.body = body
    return response


#: moto's own ``Date`` and ``Server`` would stand beside aiohttp's.
_NOT_PASSED_ON = HOP_BY_HOP | {"date", "server"}


def _latin1(text: str) -> str:
    """PEP 3333: a native string holding the UTF-8 bytes, one character each."""
    return text.encode().decode("latin1")


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
