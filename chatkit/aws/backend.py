"""The backend behind the Lambda handlers: one object per warm container, holding the
session, the state store, the authenticator and the management-API clients.

Each method takes a typed API Gateway event and returns a Lambda proxy response; the
handlers in :mod:`chatkit.aws.handlers` are one line each::

    backend = Backend.from_env()
    backend.connect(WebSocketEvent(event))      # {"statusCode": 200} or 401

Sign-in (``settings.auth``): ``demo`` tokens are verified here; with ``cognito`` API
Gateway verifies first — a Lambda authorizer (:meth:`Backend.authorize`) on ``$connect``,
its JWT authorizer on ``/history`` — and the handlers take the identity it passes on.
Either way a token issued before its user's revocation is refused, and a connection whose
token expires (or is revoked) is told so and closed at its next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import EndpointConnectionError

from ..auth import Authenticator, DemoTokens, Identity
from ..config import Settings
from ..errors import ChatError, ErrorCode
from ..events import End, Error, Event
from ..history import InvalidCursor
from ..protocol import (
    ChatMessage,
    ClientMessage,
    FrameWriter,
    PingMessage,
    ProtocolError,
    SignOutMessage,
    StopMessage,
    parse_client_message,
    parse_json,
)
from ..ratelimit import Bucket
from .apigw import HttpEvent, WebSocketEvent, bearer_token, json_response
from .relay import ConnectionGone, RelayResult, relay
from .state import Generation, Limits, StateStore, Verdict

__all__ = ["Backend"]

log = logging.getLogger(__name__)

HISTORY_DEFAULT_LIMIT = 20
HISTORY_MAX_LIMIT = 100
_OK = {"statusCode": 200}
#: Where the identity is in an authorizer's context (ours) and in JWT claims (Cognito's);
#: the sign-in is ``token_id`` in ours, ``origin_jti`` (else ``jti``) in Cognito's.
_AUTHORIZER_CONTEXT = ("user_id", "expires_at", "issued_at")
_JWT_CLAIMS = ("sub", "exp", "iat")
_SIGN_IN = ("token_id", "origin_jti", "jti")
_REVOKED = (
    "로그인이 취소되었습니다. 다시 로그인하세요. (Your sign-in was revoked; please sign in again.)"
)
_EXPIRED = (
    "로그인이 만료되었습니다. 다시 로그인하세요. (Your sign-in has expired; please sign in again.)"
)


class Backend:
    """Lambda-side logic; dependencies injectable for tests."""

    #: Open WebSocket connections one user may hold (``$connect`` answers 429 beyond it).
    max_connections_per_user = 10

    def __init__(
        self,
        settings: Settings,
        *,
        session: Any = None,
        state: StateStore | None = None,
        auth: Authenticator | None = None,
        management: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._session = session
        self._state = state
        self.auth = auth or _authenticator(settings)
        self._management = management

    @classmethod
    def from_env(cls) -> Backend:
        return cls(Settings.from_env())

    # Built on first use so that $connect / history / login never import the model code.
    @cached_property
    def session(self) -> Any:
        if self._session is None:
            from ..session import ChatSession

            self._session = ChatSession(self.settings)
        return self._session

    @cached_property
    def state(self) -> StateStore:
        if self._state is None:
            from ..aws_clients import dynamodb_client

            self._state = StateStore(self.settings.state_table_name, dynamodb_client(self.settings))
        return self._state

    @cached_property
    def history(self) -> Any:
        if self._session is not None:
            return self._session.history
        from ..history import HistoryStore

        return HistoryStore.from_settings(self.settings)

    # -- identity ---------------------------------------------------------------------

    def verified(self, token: str | None, passed_on: Identity | None = None) -> Identity:
        """The identity behind ``token`` — or the one an API Gateway authorizer already
        verified (``passed_on``) — unless it is invalid, expired or revoked
        (``ChatError(UNAUTHORIZED)``)."""
        identity = passed_on or self.auth.verify(token)
        if self.state.revoked(identity):
            raise ChatError(ErrorCode.UNAUTHORIZED, _REVOKED)
        return identity

    def authorize(self, event: WebSocketEvent) -> dict[str, Any]:
        """The ``$connect`` Lambda authorizer (Cognito mode): an IAM policy allowing this
        connection with the identity as context, or ``Unauthorized`` (API Gateway: 401)."""
        try:
            identity = self.verified(event.query.get("token"))
        except ChatError:
            log.info("authorizer refused", extra={"connection_id": event.connection_id})
            raise PermissionError("Unauthorized") from None
        return {
            "principalId": identity.user_id,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": "Allow",
                        "Resource": event.method_arn,
                    }
                ],
            },
            "context": {
                **dict(
                    zip(
                        _AUTHORIZER_CONTEXT,
                        (identity.user_id, int(identity.expires_at), int(identity.issued_at)),
                        strict=True,
                    )
                ),
                _SIGN_IN[0]: identity.token_id,
            },
        }

    def _passed_on(self, values: dict[str, Any], names: tuple[str, str, str]) -> Identity | None:
        """The identity an API Gateway authorizer verified, read from ``values`` under
        ``names`` (user, expiry, issue time). Cognito mode only: in demo mode no authorizer
        runs, so nothing there is trusted."""
        user, expires, issued = names
        if self.settings.auth != "cognito" or not values.get(user):
            return None
        sign_in = next((str(values[name]) for name in _SIGN_IN if values.get(name)), "")
        return Identity(str(values[user]), float(values[expires]), float(values[issued]), sign_in)

    # -- WebSocket routes -------------------------------------------------------------

    def connect(self, event: WebSocketEvent) -> dict[str, Any]:
        """Authenticate during the handshake; a non-2xx answer refuses the connection."""
        try:
            identity = self.verified(
                event.query.get("token") or bearer_token(event.headers),
                self._passed_on(event.authorizer, _AUTHORIZER_CONTEXT),
            )
        except ChatError:
            log.info("connect refused", extra={"connection_id": event.connection_id})
            return {"statusCode": 401}
        if not self.state.open_connection(
            identity.user_id, event.connection_id, self.max_connections_per_user
        ):
            log.info("too many connections", extra={"connection_id": event.connection_id})
            return {"statusCode": 429}
        self.state.bind(event.connection_id, identity)
        return _OK

    def disconnect(self, event: WebSocketEvent) -> dict[str, Any]:
        self.state.unbind(event.connection_id)
        return _OK

    def message(self, event: WebSocketEvent) -> dict[str, Any]:
        """``chat`` / ``stop`` / ``ping`` / ``sign_out``; every frame, valid or not, is
        charged to the rate limits; every problem becomes an ``error`` frame."""
        socket = self._socket(event)
        post = socket.post
        rid: str | None = None  # the only id a client may see in an internal error
        try:
            identity = self.state.identity_of(event.connection_id)
            if identity is None:
                raise ProtocolError(ErrorCode.UNAUTHORIZED)
            message = self._parsed(event, identity, socket)
            rid = getattr(message, "request_id", None)
            if identity.expires_at <= self._clock():
                self._signed_out(_EXPIRED, rid, socket)
            if isinstance(message, ChatMessage):
                self._chat(identity, event.connection_id, message, socket)
                return _OK
            self._settle(self.state.charge(event.connection_id, identity, self.limits), rid, socket)
            if isinstance(message, PingMessage):
                post(json.dumps({"type": "pong"}))
            elif isinstance(message, StopMessage):
                self.state.request_stop(identity.user_id, message.request_id)
            elif isinstance(message, SignOutMessage):
                self.state.sign_out(identity)
                log.info("signed out", extra={"connection_id": event.connection_id})
                socket.close()
        except ProtocolError as err:
            _post_quietly(post, _error_frame(err.request_id, err))
        except _SignedOut:
            pass
        except ConnectionGone:
            pass
        except Exception:
            log.exception(
                "message failed", extra={"connection_id": event.connection_id, "request_id": rid}
            )
            _post_quietly(post, _error_frame(rid, ChatError(ErrorCode.INTERNAL)))
        return _OK

    @cached_property
    def limits(self) -> Limits:
        """The rate buckets every frame is charged to (from the settings)."""
        s = self.settings
        return Limits(
            Bucket.per_minute(s.rate_connection_burst, s.rate_connection_per_minute),
            Bucket.per_minute(s.rate_user_burst, s.rate_user_per_minute),
        )

    def _parsed(self, event: WebSocketEvent, identity: Identity, socket: _Socket) -> ClientMessage:
        """The frame parsed; an invalid one is charged to the rate limits before it is
        refused (the refusal is then ``rate_limited`` once they are spent)."""
        try:
            return parse_client_message(
                event.body,
                max_text_chars=self.settings.max_question_chars,
                max_text_bytes=self.settings.max_question_bytes,
            )
        except ProtocolError as err:
            verdict = self.state.charge(event.connection_id, identity, self.limits)
            self._settle(verdict, err.request_id, socket)
            raise

    def _settle(self, verdict: Verdict, rid: str | None, socket: _Socket) -> None:
        """Nothing if the frame was admitted; else tell the client why (``ProtocolError``),
        or close a connection whose sign-in was revoked."""
        if verdict.refused is None:
            return
        if verdict.refused == "revoked":
            self._signed_out(_REVOKED, rid, socket)
        log.info(verdict.refused, extra={"request_id": rid})
        if verdict.refused == "history_full":
            turns = self.settings.max_history_turns
            raise ProtocolError(
                ErrorCode.HISTORY_FULL,
                f"최대 {turns:,}턴입니다. (At most {turns:,} turns.)",
                request_id=rid,
            )
        code = {"gone": ErrorCode.UNAUTHORIZED, "busy": ErrorCode.BUSY}
        retry_after = math.ceil(verdict.retry_after) if verdict.refused == "rate_limited" else None
        raise ProtocolError(
            code.get(verdict.refused, ErrorCode.RATE_LIMITED),
            request_id=rid,
            retry_after=retry_after,
        )

    def _signed_out(self, reason: str, rid: str | None, socket: _Socket) -> None:
        """Tell the client and close the connection: its token expired or was revoked
        since ``$connect`` (API Gateway itself never re-checks an open connection)."""
        log.info("signed out connection closed", extra={"request_id": rid})
        _post_quietly(socket.post, _error_frame(rid, ChatError(ErrorCode.UNAUTHORIZED, reason)))
        socket.close()
        raise _SignedOut

    def _admitted(self, identity: Identity, connection_id: str, rid: str) -> Admission:
        """Charge the chat and take its turn, lease and claim in one transaction; a full
        turn counter (it never shrinks) is recounted from the history once."""
        s, user = self.settings, identity.user_id
        keep = s.ttl_days * 86400

        def admit() -> Admission:
            claim = self.history.claim_put(user, rid)
            ask = Generation(
                rid,
                s.max_generations_per_user,
                s.generation_lease_seconds,
                s.max_history_turns,
                keep,
                claim,
            )
            return Admission(self.state.admit(connection_id, identity, self.limits, ask), claim)

        admission = admit()
        if admission.verdict.refused != "history_full":
            return admission
        stored = self.history.count_turns(user)
        self.state.set_turn_count(user, stored, keep)
        if stored < s.max_history_turns:
            admission = admit()
        if admission.verdict.refused == "history_full":  # charged all the same
            charged = self.state.charge(connection_id, identity, self.limits)
            admission.verdict = charged if charged.refused else admission.verdict
        return admission

    def _chat(
        self, identity: Identity, connection_id: str, message: ChatMessage, socket: _Socket
    ) -> None:
        limited = self.state.limited(connection_id, identity.user_id, self.limits)
        self._settle(limited, message.request_id, socket)
        result: RelayResult = asyncio.run(self._answer(identity, connection_id, message, socket))
        log.info(
            "chat relayed",
            extra={
                "request_id": message.request_id,
                "outcome": result.outcome,
                "frames": result.frames,
                "bytes": result.bytes,
            },
        )

    async def _answer(
        self, identity: Identity, connection_id: str, message: ChatMessage, socket: _Socket
    ) -> RelayResult:
        """Admit the chat while the context is read (one round trip for both), then stream
        the answer: the model is asked as soon as both are back."""
        from ..session import CONTEXT_TURNS

        rid, user = message.request_id, identity.user_id
        context = asyncio.ensure_future(asyncio.to_thread(self.history.recent, user, CONTEXT_TURNS))
        try:
            admission = await asyncio.to_thread(self._admitted, identity, connection_id, rid)
            self._settle(admission.verdict, rid, socket)
        except BaseException:
            context.cancel()
            raise
        slot = admission.verdict.slot
        release = _once(
            (lambda: self.state.release_lease(user, slot, rid)) if slot is not None else _nothing
        )
        try:
            claim = await asyncio.to_thread(
                self.history.claimed, admission.claim, admission.verdict.taken
            )
            events = self.session.astream(
                user, message.text, rid, claim=claim, recent=await context
            )
            return await relay(
                _released_at_the_end(events, release),
                socket.post,
                request_id=rid,
                stop_requested=lambda: self.state.stop_requested(user, rid),
            )
        finally:
            release()

    def _socket(self, event: WebSocketEvent) -> _Socket:
        endpoint = self.settings.connections_endpoint or event.management_endpoint
        client = (self._management or _management_client(self.settings))(endpoint)
        return _Socket(client, event.connection_id)

    # -- HTTP routes ------------------------------------------------------------------

    def history_page(self, event: HttpEvent) -> dict[str, Any]:
        """``GET /history?limit=N&cursor=C`` — the caller's own turns, newest first."""
        try:
            identity = self.verified(
                event.bearer_token, self._passed_on(event.jwt_claims, _JWT_CLAIMS)
            )
        except ChatError as err:
            return _http_error(401, err)
        try:
            limit = int(event.query.get("limit") or HISTORY_DEFAULT_LIMIT)
            if not 1 <= limit <= HISTORY_MAX_LIMIT:
                raise ValueError(limit)
            page = self.history.page(
                identity.user_id, limit=limit, cursor=event.query.get("cursor") or None
            )
        except InvalidCursor:
            return _http_error(
                400,
                ChatError(ErrorCode.BAD_REQUEST, "cursor가 올바르지 않습니다. (Invalid cursor.)"),
            )
        except ValueError:
            return _http_error(
                400,
                ChatError(
                    ErrorCode.BAD_REQUEST,
                    f"limit은 1–{HISTORY_MAX_LIMIT} 입니다. (limit must be 1–{HISTORY_MAX_LIMIT}.)",
                ),
            )
        except Exception:  # storage down or a bug: details to the log, not to the client
            log.exception("history failed")
            return _http_error(500, ChatError(ErrorCode.INTERNAL))
        return json_response(
            200, {"items": [t.to_public() for t in page.items], "cursor": page.cursor}
        )

    def login(self, event: HttpEvent) -> dict[str, Any]:
        """``POST /login {"user_id": …}`` → a signed demo token (offline/workshop sign-in)."""
        if not isinstance(self.auth, DemoTokens):
            return _http_error(
                404,
                ChatError(
                    ErrorCode.BAD_REQUEST, "데모 로그인이 꺼져 있습니다. (Demo login is off.)"
                ),
            )
        try:
            body = parse_json(event.body or "{}")
            token, identity = self.auth.issue(
                body.get("user_id") if isinstance(body, dict) else None
            )
        except ChatError as err:
            return _http_error(400, err)
        return json_response(
            200,
            {
                "token": token,
                "user_id": identity.user_id,
                "expires_at": int(identity.expires_at),
                "auth": "demo",
            },
        )


class _SignedOut(Exception):
    """The connection's sign-in ended; the client was told and the connection closed."""


@dataclass
class Admission:
    """A chat's admission: the state table's verdict and the history claim it carried."""

    verdict: Verdict
    claim: dict[str, Any]


class _Socket:
    """One client connection through ``@connections``: post frames, or close it."""

    def __init__(self, client: Any, connection_id: str) -> None:
        self.client, self.connection_id = client, connection_id
        self._gone = client.exceptions.GoneException

    def post(self, frame: str) -> None:
        try:
            self.client.post_to_connection(ConnectionId=self.connection_id, Data=frame.encode())
        except (self._gone, EndpointConnectionError):
            # An unreachable @connections endpoint cannot deliver either: stop the
            # generation and keep the partial answer, as for a client that left.
            raise ConnectionGone(self.connection_id) from None

    def close(self) -> None:
        with contextlib.suppress(self._gone, EndpointConnectionError):
            self.client.delete_connection(ConnectionId=self.connection_id)


def _authenticator(settings: Settings) -> Authenticator:
    if settings.auth == "cognito":
        from ..cognito import CognitoTokens

        return CognitoTokens.from_settings(settings)
    return DemoTokens(settings.auth_secret)


async def _released_at_the_end(
    events: AsyncIterator[Event], release: Callable[[], None]
) -> AsyncIterator[Event]:
    """``events``, calling ``release`` once the turn is over — before its final event (or
    the relay's ``stopped`` end) reaches the client, so a next chat is not ``busy``."""
    try:
        async for event in events:
            if isinstance(event, (End, Error)):
                release()  # the session stored the turn before yielding this
            yield event
    finally:
        release()


def _nothing() -> None:
    """A claim taken earlier holds no lease: nothing to release."""


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run


def _error_frame(request_id: str | None, err: ChatError) -> str:
    frame: dict[str, Any] = {"type": "error", "code": err.code.value, "message": err.message}
    if err.retry_after is not None:
        frame["retry_after"] = err.retry_after
    return FrameWriter(request_id).frame(frame)


def _post_quietly(post: Callable[[str], Any], frame: str) -> None:
    with contextlib.suppress(ConnectionGone):
        post(frame)


def _http_error(status: int, err: ChatError) -> dict[str, Any]:
    return json_response(status, {"code": err.code.value, "message": err.message})


def _management_client(settings: Settings) -> Callable[[str], Any]:
    from ..aws_clients import management_client

    return lambda endpoint: management_client(settings, endpoint)
