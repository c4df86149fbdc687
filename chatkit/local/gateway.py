"""Local API Gateway: the WebSocket API, the HTTP API routes and the web client on one
port, its ``@connections`` management API on a second, loopback-only one, calling the
*same* Lambda handlers with API-Gateway-shaped events.

What it emulates (DESIGN.md "Modes"; facts.md "API Gateway WebSocket"):

- ``GET /ws?token=…``: ``$connect`` runs before the handshake is accepted; a non-2xx
  ``statusCode`` refuses it with that HTTP status.
- Text frames: ``{"type": "ping"}`` is answered ``{"type": "pong"}`` without a function (the
  MOCK route); everything else goes to ``$default``, each frame in its own invocation (a
  ``stop`` runs while a ``chat`` is still streaming). After ``integration_timeout`` the
  client gets ``{"message": "Endpoint request timed out", …}`` and the function keeps
  running. Frames over 32 KB close the connection with 1009, binary frames with 1003.
  (aiohttp limits whole messages, not frames: a *fragmented* message of 32–128 KB, which
  API Gateway would take, is refused here too; browsers send each message as one frame.)
- ``$disconnect`` after every close (client, idle, max duration, ``DELETE``, shutdown).
- ``POST|GET|DELETE /@connections/{id}`` (also under ``/{stage}/``) at
  :attr:`Gateway.management_url` — ``127.0.0.1`` on its own port whatever ``host`` is, and
  only SigV4-signed requests (an ``Authorization: AWS4-HMAC-SHA256 …`` header, as every AWS
  SDK sends; the signature is not checked) without a browser ``Origin``: unknown or closed
  ids answer 410 with ``x-amzn-ErrorType: GoneException``, which boto3 raises as
  ``client.exceptions.GoneException``.
- Every listener answers only loopback ``Host`` names, the bound address and
  ``CHATKIT_ALLOWED_HOSTS`` (421 otherwise: DNS rebinding), refuses foreign page origins
  (403), and closes a connection that has not sent a request's headers within
  ``header_timeout`` seconds (slow clients holding sockets). Responses carry a
  Content-Security-Policy, ``nosniff`` and ``Referrer-Policy: no-referrer``.
- HTTP API routes (``"GET /history"``, ``"POST /login"``) with payload format 2.0.
- Cognito mode (``cognito=`` a token verifier): the Lambda REQUEST authorizer runs before
  ``$connect`` (identity source ``?token=``: missing → 401 without calling it; it raising
  ``Unauthorized`` → 401; a Deny policy → 403; its ``context`` goes into the ``$connect``
  event's ``requestContext.authorizer``), and the JWT authorizer guards the HTTP routes
  (no or bad ``Authorization: Bearer`` → 401; the handler gets
  ``requestContext.authorizer.jwt.claims``). ``POST /login`` is not deployed then.
- ``/`` and files under ``web_root``; ``/config.js`` tells the web client where to connect.

Example::

    def default(event, context):
        client = boto3.client("apigatewaymanagementapi",
                              endpoint_url=os.environ["CHATKIT_CONNECTIONS_ENDPOINT"], ...)
        client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"],
                                  Data=event["body"].encode())
        return {"statusCode": 200}

    with Gateway({"$default": default}, port=0) as gateway:
        print(gateway.ws_url)  # ws://127.0.0.1:54321/ws

Run it: ``chatkit serve`` (see :func:`serve`).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import fnmatch
import functools
import json
import logging
import os
import re
import shlex
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from chatkit.auth import Authenticator, Identity
from chatkit.aws.apigw import bearer_token
from chatkit.config import DEFAULT_REGION, Settings
from chatkit.errors import ChatError
from chatkit.local._apigw_events import (
    Client,
    api_id,
    authorizer_event,
    aws_id,
    connect_event,
    disconnect_event,
    http_event,
    message_event,
    now_ms,
)
from chatkit.local._background import BackgroundServer
from chatkit.local._hosts import REFUSED_STATUS, REFUSED_TEXT, host_allowed, origin_allowed
from chatkit.local._http import (
    aws_error,
    gone,
    http_response,
    iso_time,
    json_response,
    read_limited,
    security_headers,
    static_file,
)
from chatkit.local._invoker import (
    AUTHORIZER,
    CONNECTIONS_VARIABLE,
    DEFAULT_ROUTES,
    Handler,
    InProcessInvoker,
    Invoker,
    LambdaContext,
    aws_handlers,
)
from chatkit.protocol import ProtocolError, parse_json
from chatkit.webconfig import WebConfig

__all__ = [
    "DEFAULT_ROUTES",
    "FRAME_LIMIT",
    "HEADER_TIMEOUT",
    "MESSAGE_LIMIT",
    "Gateway",
    "InProcessInvoker",
    "Invoker",
    "LambdaContext",
    "UnsafeBind",
    "serve",
]

log = logging.getLogger(__name__)

#: Routes the template deploys in demo mode only.
_DEMO_ONLY = frozenset({"POST /login"})
_REGION = DEFAULT_REGION

FRAME_LIMIT = 32 * 1024
"""Largest client frame API Gateway accepts (bytes)."""
MESSAGE_LIMIT = 128 * 1024
"""Largest message API Gateway accepts, and largest ``post_to_connection`` payload."""
DEFAULT_WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
HEADER_TIMEOUT = 15.0
"""Seconds a connection may take to send a request's headers (from its opening or the end
of its previous response) before it is closed."""
_LOOPBACK = "127.0.0.1"

_SHUTDOWN_GRACE = 5.0
_HTTP_BODY_LIMIT = 10 * 1024 * 1024  # HTTP API payload quota
_STAGE = re.compile(r"[A-Za-z0-9_-]+")
_REASONS = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1003: "Binary frames are not supported",
    1006: "Connection Closed Abnormally",
    1007: "Invalid frame payload data",
    1009: "Message too big",
}


class _TimedOut(Exception):
    """The function did not answer within the integration timeout."""


@dataclass(eq=False)
class _Connection:
    """One open WebSocket and what API Gateway knows about it."""

    id: str
    ws: web.WebSocketResponse
    client: Client
    connected_at: int
    """Epoch milliseconds."""
    opened: float
    """Loop time, for the maximum connection duration."""
    idle_since: float
    last_active_at: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the socket is gone and ``$disconnect`` has been scheduled."""
    disconnect: tuple[int, str] | None = None
    """``(status code, reason)`` for the ``$disconnect`` event; the first cause wins."""

    def touch(self) -> None:
        self.idle_since = asyncio.get_running_loop().time()
        self.last_active_at = now_ms()

    def ended(self, code: int, reason: str = "") -> None:
        if self.disconnect is None:
            self.disconnect = (code, reason or _REASONS.get(code, ""))

    async def send(self, data: bytes | str) -> bool:
        """Send one frame (text if ``data`` is UTF-8); False if the socket is closed."""
        if isinstance(data, bytes):
            with contextlib.suppress(UnicodeDecodeError):
                data = data.decode("utf-8")
        async with self.lock:
            if self.ws.closed:
                return False
            try:
                if isinstance(data, str):
                    await self.ws.send_str(data)
                else:
                    await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                return False
        self.touch()
        return True

    def info(self) -> dict[str, Any]:
        """The ``GetConnection`` answer, in wire names (boto3 shows ``ConnectedAt``…)."""
        return {
            "connectedAt": iso_time(self.connected_at),
            "identity": {"sourceIp": self.client.source_ip, "userAgent": self.client.user_agent},
            "lastActiveAt": iso_time(self.last_active_at),
        }


class Gateway:
    """API Gateway (WebSocket + HTTP API) on one local port, its management API on a
    second, loopback-only one.

    ``handlers`` maps route keys (``"$connect"``, ``"$disconnect"``, ``"$default"``,
    ``"GET /history"``, ``"POST /login"``) to Lambda functions run in-process; ``None``
    uses :mod:`chatkit.aws.handlers`, imported on the first request, on a backend of this
    gateway's own built from ``settings`` (default: the environment, read at ``start``)
    with :attr:`management_url` as its ``connections_endpoint``. Functions of your own
    find the management API in ``CHATKIT_CONNECTIONS_ENDPOINT`` while the gateway runs.
    Pass ``invoker`` instead to run them elsewhere (the packaged zip in another Python,
    a pool of worker processes). ``header_timeout``: see :data:`HEADER_TIMEOUT`.

    Example::

        with Gateway({"$default": handler}, port=0, integration_timeout=0.5) as gateway:
            ...  # websockets.connect(gateway.ws_url + "?token=…")
    """

    def __init__(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        invoker: Invoker | None = None,
        settings: Settings | None = None,
        host: str = "127.0.0.1",
        port: int = 8765,
        stage: str = "local",
        integration_timeout: float = 29.0,
        idle_timeout: float = 600.0,
        max_connection_seconds: float = 7200.0,
        web_root: Path | None = DEFAULT_WEB_ROOT,
        static_config: Mapping[str, Any] | None = None,
        cognito: Authenticator | None = None,
        header_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        if handlers is not None and invoker is not None:
            raise ValueError("pass handlers or an invoker, not both")
        if not _STAGE.fullmatch(stage):
            raise ValueError(f"invalid stage name {stage!r}")
        self.invoker: Invoker = invoker or InProcessInvoker(
            aws_handlers() if handlers is None else handlers, settings=settings
        )
        self.stage = stage
        self.integration_timeout = integration_timeout
        self.idle_timeout = idle_timeout
        self.max_connection_seconds = max_connection_seconds
        self.web_root = web_root
        self._static_config = dict(static_config or {})
        self.cognito = cognito
        self._api_id = api_id()
        self._connections: dict[str, _Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._headers = security_headers(_cognito_origin(self._static_config.get("cognito")))
        self._runner_options = {"keepalive_timeout": header_timeout}
        self._management_runner: web.AppRunner | None = None
        self._management_port: int | None = None
        self._server = BackgroundServer(
            self.make_app,
            host=host,
            port=port,
            name="chatkit-gateway",
            runner_kwargs=self._runner_options,
        )

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Gateway:
        """Bind the port, start serving and return ``self``."""
        self._server.start()
        self.invoker.start({CONNECTIONS_VARIABLE: self.management_url})
        return self

    def stop(self) -> None:
        """Close every connection (``$disconnect`` runs), stop serving (idempotent)."""
        self._server.stop()
        self.invoker.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        """The bound port (valid after ``start()``)."""
        return self._server.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:8765``: HTTP routes, WebSocket, web client (not ``@connections``)."""
        return self._server.url

    @property
    def management_url(self) -> str:
        """``http://127.0.0.1:54321``: the ``@connections`` endpoint (loopback only)."""
        if self._management_port is None:
            raise RuntimeError("gateway is not started")
        return f"http://{_LOOPBACK}:{self._management_port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:8765/ws`` (add ``?token=…``)."""
        return "ws" + self.url[len("http") :] + "/ws"

    def __repr__(self) -> str:
        where = self.url if self._server.running else "not started"
        return f"<Gateway {where}>"

    # -- application -----------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Build the aiohttp application (called in the server thread)."""
        app = web.Application(client_max_size=_HTTP_BODY_LIMIT, middlewares=[self._public_guard])
        router = app.router
        router.add_get("/ws", self._websocket)
        router.add_get("/config.js", self._config_js)
        for route_key in self.invoker.route_keys:
            if not route_key.startswith("$") and not (self.cognito and route_key in _DEMO_ONLY):
                method, path = route_key.split(" ", 1)
                router.add_route(method, path, functools.partial(self._http, route_key))
        router.add_route("*", "/{tail:.*}", self._static)
        app.on_startup.append(self._start_management)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._stop_management)
        return app

    def _management_app(self) -> web.Application:
        app = web.Application(client_max_size=MESSAGE_LIMIT + 1024, middlewares=[_signed_only])
        for prefix in ("", f"/{self.stage}"):
            app.router.add_route("*", prefix + "/@connections/{connection_id}", self._management)
        return app

    async def _start_management(self, app: web.Application) -> None:
        """Serve ``@connections`` on its own loopback port (in the gateway's loop)."""
        runner = web.AppRunner(self._management_app(), **self._runner_options)
        await runner.setup()
        await web.TCPSite(runner, _LOOPBACK, 0).start()
        self._management_runner = runner
        self._management_port = int(runner.addresses[0][1])

    async def _stop_management(self, app: web.Application) -> None:
        if self._management_runner is not None:
            await self._management_runner.cleanup()

    @web.middleware
    async def _public_guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """DNS rebinding and foreign pages refused; security headers on every answer."""
        if not host_allowed(request.headers.get("Host"), self.host):
            response: web.StreamResponse = web.Response(status=REFUSED_STATUS, text=REFUSED_TEXT)
        elif not origin_allowed(request.headers.get("Origin")):
            response = web.Response(status=403, text=REFUSED_TEXT)
        else:
            response = await handler(request)
        if not response.prepared:
            response.headers.update(self._headers)
        return response

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_shutdown(self, app: web.Application) -> None:
        connections = list(self._connections.values())
        await asyncio.gather(*(self._close(c, 1001) for c in connections), return_exceptions=True)
        waits = [asyncio.ensure_future(c.closed.wait()) for c in connections]
        if waits:
            await asyncio.wait(waits, timeout=_SHUTDOWN_GRACE)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=_SHUTDOWN_GRACE)

    async def _integrate(self, route_key: str, event: dict[str, Any]) -> Any:
        """Invoke the function; raise :class:`_TimedOut` after the integration timeout
        (the invocation goes on) or whatever the function raised."""
        request_id = event["requestContext"]["requestId"]
        task = asyncio.ensure_future(self.invoker.invoke(route_key, event))
        done, _ = await asyncio.wait({task}, timeout=self.integration_timeout)
        if not done:
            log.warning(
                "%s %s: integration timed out after %.1f s (the function keeps running)",
                route_key,
                request_id,
                self.integration_timeout,
            )
            task.add_done_callback(functools.partial(_log_late, route_key, request_id))
            raise _TimedOut
        try:
            return task.result()
        except Exception:
            log.exception("%s %s: function failed", route_key, request_id)
            raise

    # -- WebSocket API ---------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=FRAME_LIMIT + 1, compress=False)
        if not ws.can_prepare(request).ok:
            return json_response({"message": "Upgrade Required"}, 426)
        client = _client(request)
        connection_id, connected_at = aws_id(), now_ms()
        if "$connect" in self.invoker.route_keys:
            event = connect_event(
                client,
                self.stage,
                self._api_id,
                connection_id,
                connected_at,
                request.headers.items(),
                request.rel_url.raw_query_string,
            )
            refusal = await self._authorize(event) or await self._connect(event)
            if refusal is not None:
                return refusal
        await ws.prepare(request)
        loop_time = asyncio.get_running_loop().time()
        conn = _Connection(connection_id, ws, client, connected_at, loop_time, loop_time, now_ms())
        self._connections[conn.id] = conn
        log.info("connection %s open", conn.id)
        watchdog = asyncio.ensure_future(self._watch(conn))
        try:
            await self._receive(conn)
        finally:
            watchdog.cancel()
            del self._connections[conn.id]
            code, reason = conn.disconnect or (1006, _REASONS[1006])
            log.info("connection %s closed (%d %s)", conn.id, code, reason)
            if "$disconnect" in self.invoker.route_keys:
                event = disconnect_event(
                    client, self.stage, self._api_id, conn.id, connected_at, code, reason
                )
                self._spawn(self._quietly("$disconnect", event))
            conn.closed.set()
        return ws

    async def _authorize(self, event: dict[str, Any]) -> web.Response | None:
        """Cognito mode: run the ``$connect`` authorizer; a refusal, or None (allowed, with
        its context added to ``event``)."""
        if self.cognito is None or AUTHORIZER not in self.invoker.route_keys:
            return None
        if not (event.get("queryStringParameters") or {}).get("token"):
            return json_response({"message": "Unauthorized"}, 401)
        request = authorizer_event(event, _REGION)
        try:
            result = await self._integrate(AUTHORIZER, request)
        except Exception as exc:  # Lambda's errorMessage "Unauthorized" means 401
            unauthorized = str(exc).endswith("Unauthorized")
            return json_response(
                {"message": "Unauthorized" if unauthorized else "Internal server error"},
                401 if unauthorized else 500,
            )
        if not _allows(result, request["methodArn"]):
            return json_response({"message": "Forbidden"}, 403)
        event["requestContext"]["authorizer"] = {
            "principalId": result["principalId"],
            **(result.get("context") or {}),
        }
        return None

    async def _connect(self, event: dict[str, Any]) -> web.Response | None:
        """Run ``$connect``; a response refusing the handshake, or None to accept it."""
        try:
            result = await self._integrate("$connect", event)
        except _TimedOut:
            return json_response({"message": "Endpoint request timed out"}, 504)
        except Exception:
            return json_response({"message": "Internal server error"}, 500)
        try:
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        except (TypeError, ValueError):
            log.error("$connect returned an invalid statusCode")
            return json_response({"message": "Internal server error"}, 500)
        if 200 <= status < 300:
            return None
        log.info("$connect refused the handshake with %d", status)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Forbidden"
        return json_response({"message": phrase}, status)

    async def _receive(self, conn: _Connection) -> None:
        while True:
            msg = await conn.ws.receive()
            if msg.type is WSMsgType.TEXT:
                conn.touch()
                self._spawn(self._on_message(conn, msg.data))
            elif msg.type is WSMsgType.BINARY:
                await self._close(conn, 1003)
            elif msg.type is WSMsgType.CLOSE:
                conn.ended(int(msg.data), msg.extra or "")
                return
            elif msg.type is WSMsgType.ERROR:  # aiohttp already closed with the error's code
                conn.ended(getattr(msg.data, "code", None) or 1006)
                return
            else:  # CLOSING / CLOSED: we closed it, or the peer vanished
                return

    async def _on_message(self, conn: _Connection, body: str) -> None:
        if _selected_route(body) == "ping":
            await conn.send('{"type":"pong"}')
            return
        event = message_event(
            conn.client, self.stage, self._api_id, conn.id, conn.connected_at, body
        )
        if "$default" not in self.invoker.route_keys:
            await conn.send(_gateway_frame("Forbidden", event))
            return
        try:
            await self._integrate("$default", event)
        except _TimedOut:
            await conn.send(_gateway_frame("Endpoint request timed out", event))
        except Exception:
            await conn.send(_gateway_frame("Internal server error", event))

    async def _quietly(self, route_key: str, event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # already logged; nobody is left to tell
            await self._integrate(route_key, event)

    async def _watch(self, conn: _Connection) -> None:
        """Close after ``idle_timeout`` without frames or at ``max_connection_seconds``."""
        loop = asyncio.get_running_loop()
        end = conn.opened + self.max_connection_seconds
        while (delay := min(conn.idle_since + self.idle_timeout, end) - loop.time()) > 0:
            await asyncio.sleep(delay)
        # A separate task: the receive loop cancels this watchdog when the socket closes.
        self._spawn(self._close(conn, 1001))

    async def _close(self, conn: _Connection, code: int) -> None:
        conn.ended(code)
        await conn.ws.close(code=code, message=_REASONS[code].encode())

    # -- management API (@connections) -----------------------------------------------

    async def _management(self, request: web.Request) -> web.Response:
        conn = self._connections.get(request.match_info["connection_id"])
        if request.method == "POST":
            data = await read_limited(request, MESSAGE_LIMIT)
            if data is None:
                return aws_error(413, "PayloadTooLargeException", "Request entity too large")
            if conn is None or not await conn.send(data):
                return gone()
            return web.Response(status=200)
        if request.method not in ("GET", "DELETE"):
            return aws_error(405, "MethodNotAllowedException", "Method not allowed")
        if conn is None or conn.ws.closed:
            return gone()
        if request.method == "GET":
            return json_response(conn.info(), 200)
        await self._close(conn, 1000)
        return web.Response(status=204)

    # -- HTTP API --------------------------------------------------------------------

    async def _http(self, route_key: str, request: web.Request) -> web.Response:
        event = http_event(
            _client(request),
            self._api_id,
            route_key,
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            request.headers.items(),
            await request.read(),
        )
        if self.cognito is not None:
            try:
                identity = self.cognito.verify(bearer_token(event["headers"]))
            except ChatError:
                return json_response({"message": "Unauthorized"}, 401)
            event["requestContext"]["authorizer"] = {"jwt": {"claims": _claims(identity)}}
        try:
            result = await self._integrate(route_key, event)
        except _TimedOut:
            return json_response({"message": "Service Unavailable"}, 503)
        except Exception:
            return json_response({"message": "Internal Server Error"}, 500)
        try:
            return http_response(result)
        except (AttributeError, TypeError, ValueError, binascii.Error):
            log.error("%s returned a malformed response", route_key)
            return json_response({"message": "Internal Server Error"}, 500)

    # -- web client ------------------------------------------------------------------

    async def _config_js(self, request: web.Request) -> web.Response:
        # WebConfig's endpoints are relative to the page ("ws", "."): the client resolves
        # them against its own address, so they also work under a path prefix
        # (jupyter-server-proxy's ``/proxy/8765/``).
        return web.Response(
            text=WebConfig.from_dict(self._static_config).to_js(),
            content_type="application/javascript",
            headers={"Cache-Control": "no-store"},
        )

    async def _static(self, request: web.Request) -> web.StreamResponse:
        if request.method in ("GET", "HEAD") and self.web_root is not None:
            path = static_file(self.web_root, request.match_info["tail"])
            if path is not None:
                return web.FileResponse(path, headers={"Cache-Control": "no-cache"})
        return json_response({"message": "Not Found"}, 404)


def _allows(result: Any, method_arn: str) -> bool:
    """Whether an authorizer's answer is an IAM policy allowing ``method_arn``."""
    try:
        statements = result["policyDocument"]["Statement"]
        return bool(result["principalId"]) and any(
            s["Effect"] == "Allow" and fnmatch.fnmatchcase(method_arn, s["Resource"])
            for s in statements
        )
    except (KeyError, TypeError):
        return False


def _claims(identity: Identity) -> dict[str, str]:
    """The claims the handlers read, as the JWT authorizer passes them (strings); the
    sign-in is the access token's ``origin_jti``."""
    claims = {
        "sub": identity.user_id,
        "exp": str(int(identity.expires_at)),
        "iat": str(int(identity.issued_at)),
    }
    if identity.token_id:
        claims["origin_jti"] = identity.token_id
    return claims


def _selected_route(body: str) -> str:
    """Route selection on ``$request.body.type``: ``"ping"`` or ``"$default"``."""
    try:
        value = parse_json(body)
    except ProtocolError:  # not JSON, or nested too deep to parse: the function says so
        return "$default"
    return "ping" if isinstance(value, dict) and value.get("type") == "ping" else "$default"


def _gateway_frame(message: str, event: dict[str, Any]) -> str:
    context = event["requestContext"]
    return json.dumps(
        {
            "message": message,
            "connectionId": context["connectionId"],
            "requestId": context["requestId"],
        }
    )


@web.middleware
async def _signed_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """The management API's door: a loopback ``Host``, no browser ``Origin`` and a SigV4
    ``Authorization`` header, as API Gateway requires IAM-signed calls."""
    if not host_allowed(request.headers.get("Host"), _LOOPBACK):
        return web.Response(status=REFUSED_STATUS, text=REFUSED_TEXT)
    signed = request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential=")
    if "Origin" in request.headers or not signed:
        return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    return await handler(request)


def _cognito_origin(cognito: Mapping[str, str] | None) -> str | None:
    """Where the web client calls Cognito (``config.js``'s ``cognito``), for the CSP."""
    if not cognito:
        return None
    endpoint = cognito.get("endpoint") or f"https://cognito-idp.{cognito['region']}.amazonaws.com"
    scheme, _, rest = endpoint.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _client(request: web.Request) -> Client:
    return Client(
        source_ip=request.remote or "127.0.0.1",
        user_agent=request.headers.get("User-Agent", ""),
        domain_name=request.host,
    )


def _log_late(route_key: str, request_id: str, task: asyncio.Future[Any]) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.warning("%s %s: function failed after the timeout", route_key, request_id)
    else:
        log.info("%s %s: function finished after the timeout", route_key, request_id)


class UnsafeBind(ValueError):
    """``chatkit serve`` was asked to listen beyond this machine with the public default
    secret (anyone could sign demo tokens for any user)."""


def check_bind(host: str, settings: Any) -> None:
    """Raise :class:`UnsafeBind` when ``host`` is not a loopback address and no secret of
    one's own is configured (``CHATKIT_AUTH_SECRET``: demo tokens and history cursors).

    >>> check_bind("127.0.0.1", Settings())
    >>> check_bind("0.0.0.0", Settings(auth_secret="a secret of our own"))
    >>> check_bind("0.0.0.0", Settings())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    chatkit.local.gateway.UnsafeBind: 0.0.0.0에서 열려면 CHATKIT_AUTH_SECRET에 ... 정하세요: ...
    """
    if host_allowed(host, bound="localhost", extra=()) or (
        settings.auth_secret != type(settings).auth_secret
    ):
        return
    raise UnsafeBind(
        f"{host}에서 열려면 CHATKIT_AUTH_SECRET에 비밀 값을 정하세요: 기본 비밀은 공개되어 있어 "
        "누구나 아무 사용자의 토큰을 만들 수 있습니다. "
        f"(Refusing to listen on {host} with the public default secret: anyone could sign "
        "tokens for any user. Set CHATKIT_AUTH_SECRET to a secret of your own, e.g. "
        "`export CHATKIT_AUTH_SECRET=$(openssl rand -hex 32)`, or bind 127.0.0.1.)"
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    auth: str | None = None,
    workers: int | None = None,
) -> None:
    """Run the local stack in the foreground until SIGINT or SIGTERM (``chatkit serve``).

    A non-loopback ``host`` needs a secret of one's own (:func:`check_bind`); its clients'
    ``Host`` names must then be listed in ``CHATKIT_ALLOWED_HOSTS`` unless they use the
    bound address itself. Settings come from the environment (``auth`` overrides
    ``CHATKIT_AUTH``); in offline mode without configured endpoints the offline stack
    (Bedrock emulator, DynamoDB) starts first and the handlers' settings point at it. With
    Cognito sign-in and no pool configured, a local user pool with one demo user is created
    on the offline stack (its name and password are printed). ``workers``: processes the
    handlers run in (default: the cores; 0 or 1: this process).

    Example::

        serve(port=0)  # prints "chatkit serving on http://127.0.0.1:54321/"
    """
    from .signals import wait_until_signalled
    from .urls import allow_proxy_host, attendee_url, describe

    env = {**os.environ, **({"CHATKIT_AUTH": auth} if auth else {})}
    check_bind(host, Settings.from_env(env))
    stack, exports = _offline_backend(env)
    settings = Settings.from_env({**env, **exports})
    static_config = WebConfig.for_settings(settings).to_dict()
    cognito = None
    if settings.auth == "cognito":
        from chatkit.cognito import CognitoTokens

        cognito = CognitoTokens.from_settings(settings)
    invoker = _handler_invoker(settings, workers)
    try:
        with Gateway(
            invoker=invoker, host=host, port=port, static_config=static_config, cognito=cognito
        ) as gateway:

            def announce() -> None:
                print(f"chatkit serving on {gateway.url}/", flush=True)
                where = attendee_url(gateway.port)  # e.g. the Studio/Jupyter proxy URL
                allow_proxy_host(where)
                print(describe(where), flush=True)
                print(f"@connections (loopback): {gateway.management_url}", flush=True)
                print(_describe_workers(invoker), flush=True)
                if stack is not None:
                    print(_admin_exports(env, exports), flush=True)

            wait_until_signalled(announce)
    finally:
        if stack is not None:
            stack.stop()


def _handler_invoker(settings: Settings, workers: int | None) -> Invoker:
    """The deployed handlers in ``workers`` processes (default: the cores), or in this
    process for 0 or 1."""
    count = (os.cpu_count() or 1) if workers is None else workers
    if count <= 1:
        return InProcessInvoker(aws_handlers(), settings=settings)
    from ._pool import ProcessPoolInvoker

    return ProcessPoolInvoker(settings, workers=count)


def _describe_workers(invoker: Invoker) -> str:
    pids = getattr(invoker, "pids", None)
    if not pids:
        return "handlers: 이 프로세스 (in this process)"
    listed = " ".join(str(pid) for pid in pids)
    return f"handlers: 작업 프로세스 {len(pids)}개 ({len(pids)} worker processes: {listed})"


def _offline_backend(env: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
    """The offline stack ``serve`` must start for ``env`` (None when its endpoints are
    configured) and the variables that point at it."""
    from chatkit.local import start_offline_stack

    if env.get("CHATKIT_AUTH") == "cognito" and not env.get("CHATKIT_COGNITO_USER_POOL_ID"):
        return _offline_cognito(env)
    settings = Settings.from_env(env)
    if not settings.needs_local_endpoints:
        return None, {}
    stack = start_offline_stack(settings)
    return stack, dict(stack.env)


def _admin_exports(env: Mapping[str, str], exports: Mapping[str, str]) -> str:
    """Shell lines that point admin commands (``chatkit revoke``) at this local stack."""
    chosen = {n: v for n, v in env.items() if n == "CHATKIT_AUTH" or n.startswith("CHATKIT_COG")}
    line = " ".join(f"{n}={shlex.quote(v)}" for n, v in {**chosen, **exports}.items())
    return (
        f"# 관리 명령용 환경 (for admin commands such as `chatkit revoke USER_ID`):\nexport {line}"
    )


def _offline_cognito(env: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
    """Start the offline stack with a new local user pool and one demo user (Cognito mode
    offline); returns the stack and the variables of both."""
    import secrets

    from chatkit.local import start_offline_stack
    from chatkit.local.cognito import create_user_pool

    stack = start_offline_stack(Settings.from_env({**env, "CHATKIT_AUTH": "demo"}))
    pool = create_user_pool(stack.dynamodb_url, stack.settings.region)
    password = f"Chatkit-{secrets.token_urlsafe(8)}"
    pool.add_user("demo", password)
    print(
        f"Cognito (local): 사용자 demo / 비밀번호 {password}  (user demo, password {password})",
        flush=True,
    )
    return stack, {**stack.env, **pool.env}
