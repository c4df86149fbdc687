"""HTTP/2 over cleartext with prior knowledge (h2c) beside aiohttp's HTTP/1.1, on one port.

A connection that opens with the HTTP/2 preface (``PRI * HTTP/2.0``) is served by a small
adapter over the ``h2`` package; any other connection is handed, with the bytes read so
far, to the aiohttp protocol the listener would have used. Each HTTP/2 request reaches
one ``handler`` coroutine with an :class:`H2Request` and the :class:`H2Stream` to answer
on, so a server keeps its logic in one place for both protocols. Response data is written
as soon as it is sent (within HTTP/2 flow control), so streams stay streams.

Example::

    async def handler(request: H2Request, stream: H2Stream) -> None:
        await stream.start(200, [("content-type", "text/plain")])
        await stream.send(b"hi")
        await stream.end()

    switch = ProtocolSwitch(http1=runner.server, handler=handler)
    server = await loop.create_server(switch, "127.0.0.1", 0)
    ...
    switch.close()  # GOAWAY to HTTP/2 clients, close connections not yet sorted
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from h2 import events as h2events
from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.exceptions import H2Error

__all__ = ["PREFACE", "H2Request", "H2Stream", "ProtocolSwitch"]

log = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface (RFC 9113 §3.4)."""

#: A connection that has not said which protocol it speaks within this time is closed.
SNIFF_SECONDS = 30.0
#: Connection-specific header fields HTTP/2 forbids (RFC 9113 §8.2.2).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


@dataclass(frozen=True)
class H2Request:
    """One HTTP/2 request: pseudo-headers split out, header names in lower case.

    ``body`` is None when it was longer than the switch's ``max_body``.
    """

    method: str
    path: str
    authority: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


Handler = Callable[[H2Request, "H2Stream"], Awaitable[None]]


class ProtocolSwitch:
    """Protocol factory for ``loop.create_server``: HTTP/2 by preface, else ``http1()``."""

    def __init__(
        self,
        http1: Callable[[], asyncio.BaseProtocol],
        handler: Handler,
        *,
        max_body: int = 16 * 1024 * 1024,
    ) -> None:
        self.http1 = http1
        self.handler = handler
        self.max_body = max_body
        self._open: set[_Sniffer | _H2Protocol] = set()

    def __call__(self) -> asyncio.Protocol:
        return _Sniffer(self)

    def track(self, protocol: _Sniffer | _H2Protocol, is_open: bool) -> None:
        (self._open.add if is_open else self._open.discard)(protocol)

    def close(self) -> None:
        """Say GOAWAY on every HTTP/2 connection and close those not sorted yet."""
        for protocol in list(self._open):
            protocol.close()


class _Sniffer(asyncio.Protocol):
    """Reads just enough of a new connection to tell HTTP/2 from HTTP/1.1."""

    def __init__(self, switch: ProtocolSwitch) -> None:
        self._switch = switch
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._switch.track(self, True)
        self._timer = asyncio.get_running_loop().call_later(SNIFF_SECONDS, self.close)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        seen = min(len(self._buffer), len(PREFACE))
        if self._buffer[:seen] != PREFACE[:seen]:
            self._hand_over(self._switch.http1())
        elif seen == len(PREFACE):
            self._hand_over(_H2Protocol(self._switch))

    def _hand_over(self, protocol: asyncio.BaseProtocol) -> None:
        self._forget()
        transport = self._transport
        assert transport is not None
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if not transport.is_closing():
            protocol.data_received(self._buffer)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def close(self) -> None:
        self._forget()
        if self._transport is not None:
            self._transport.close()

    def _forget(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._switch.track(self, False)


class H2Stream:
    """The response side of one HTTP/2 stream.

    ``alive()`` turns False when the client resets the stream or the connection ends;
    ``send`` then returns False.
    """

    def __init__(self, owner: _H2Protocol, stream_id: int) -> None:
        self._owner = owner
        self.stream_id = stream_id
        self.closed = False
        self.ended = False
        self.started = False
        self._window = asyncio.Event()

    def alive(self) -> bool:
        """True while the client can still receive on this stream."""
        return not (self.closed or self.ended or self._owner.closed)

    async def start(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        """Send the response head (names lower-cased, hop-by-hop fields dropped)."""
        fields = [(":status", str(status))]
        fields += [(n.lower(), v) for n, v in headers if n.lower() not in _HOP_BY_HOP]
        self.started = True
        if self.alive():
            self._owner.call(lambda c: c.send_headers(self.stream_id, fields))

    async def send(self, data: bytes) -> bool:
        """Send ``data`` now, waiting for flow-control credit; False once the client left."""
        view = memoryview(data)
        while view:
            if not self.alive():
                return False
            credit = self._owner.credit(self.stream_id)
            if credit <= 0:
                self._window.clear()
                await self._window.wait()
                continue
            chunk, view = view[:credit], view[credit:]
            self._owner.call(lambda c, chunk=chunk: c.send_data(self.stream_id, bytes(chunk)))
        await self._owner.drained()
        return self.alive()

    async def end(self) -> None:
        """End the response (idempotent)."""
        if self.alive():
            self._owner.call(lambda c: c.end_stream(self.stream_id))
        self.ended = True

    def wake(self) -> None:
        self._window.set()


class _H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection: requests are collected, then answered by the handler."""

    def __init__(self, switch: ProtocolSwitch) -> None:
        self._switch = switch
        self._conn = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self._transport: asyncio.Transport | None = None
        self._requests: dict[int, tuple[list[tuple[str, str]], bytearray | None]] = {}
        self._streams: dict[int, H2Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writable = asyncio.Event()
        self._writable.set()
        self._peer_done = False
        self.closed = False

    # -- transport callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._switch.track(self, True)
        self.call(lambda c: c.initiate_connection())

    def data_received(self, data: bytes) -> None:
        try:
            events = self._conn.receive_data(data)
        except H2Error as exc:
            log.debug("HTTP/2 protocol error: %s", exc)
            self._flush()
            self.close()
            return
        for event in events:
            self._on(event)
        self._flush()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        for stream in self._streams.values():
            stream.closed = True
            stream.wake()
        self._switch.track(self, False)

    # -- helpers for H2Stream ----------------------------------------------------------

    def call(self, action: Callable[[H2Connection], object]) -> None:
        """Apply one h2 state change and write what it produced."""
        if self.closed:
            return
        try:
            action(self._conn)
        except H2Error as exc:  # e.g. the client reset the stream meanwhile
            log.debug("HTTP/2 send skipped: %s", exc)
        self._flush()

    def credit(self, stream_id: int) -> int:
        try:
            window = self._conn.local_flow_control_window(stream_id)
        except H2Error:
            return 0
        return min(window, self._conn.max_outbound_frame_size)

    async def drained(self) -> None:
        await self._writable.wait()

    def close(self) -> None:
        """GOAWAY, then close the transport."""
        if not self.closed:
            self.call(lambda c: c.close_connection())
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # -- events --------------------------------------------------------------------------

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _on(self, event: h2events.Event) -> None:
        if isinstance(event, h2events.RequestReceived):
            self._requests[event.stream_id] = (list(event.headers or ()), bytearray())
        elif isinstance(event, h2events.DataReceived):
            self._receive(event)
        elif isinstance(event, h2events.StreamEnded):
            self._dispatch(event.stream_id)
        elif isinstance(event, h2events.StreamReset):
            self._requests.pop(event.stream_id, None)
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.closed = True
                stream.wake()
        elif isinstance(event, h2events.WindowUpdated):
            targets = (
                self._streams.values()
                if event.stream_id == 0
                else [s for s in [self._streams.get(event.stream_id)] if s is not None]
            )
            for stream in targets:
                stream.wake()
        elif isinstance(event, h2events.ConnectionTerminated):
            self._peer_done = True
            if event.error_code == ErrorCodes.NO_ERROR:
                # A graceful GOAWAY means "no new streams": the open ones may still
                # complete (RFC 9113 §6.8). Node's SDK sends it right after its request
                # when concurrent streams are disabled (its Bedrock default), but h2 takes
                # any GOAWAY as the end and would refuse to send the rest of the answer.
                self._conn.state_machine.state = ConnectionState.SERVER_OPEN
            self._close_when_idle()

    def _receive(self, event: h2events.DataReceived) -> None:
        self.call(
            lambda c: c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        )
        pending = self._requests.get(event.stream_id)
        if pending is None or pending[1] is None:
            return
        body = pending[1]
        body += event.data or b""
        if len(body) > self._switch.max_body:
            self._requests[event.stream_id] = (pending[0], None)

    def _dispatch(self, stream_id: int) -> None:
        pending = self._requests.pop(stream_id, None)
        if pending is None:
            return
        headers, body = pending
        pseudo = {name: value for name, value in headers if name.startswith(":")}
        request = H2Request(
            method=pseudo.get(":method", "GET"),
            path=pseudo.get(":path", "/"),
            authority=pseudo.get(":authority") or dict(headers).get("host"),
            headers=tuple((n, v) for n, v in headers if not n.startswith(":")),
            body=None if body is None else bytes(body),
        )
        stream = self._streams[stream_id] = H2Stream(self, stream_id)
        task = asyncio.get_running_loop().create_task(self._answer(request, stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: H2Request, stream: H2Stream) -> None:
        try:
            await self._switch.handler(request, stream)
        except Exception:
            log.exception("HTTP/2 handler failed for %s %s", request.method, request.path)
            if not stream.started:
                await stream.start(500, [("content-type", "text/plain; charset=utf-8")])
                await stream.send(b"internal error")
            elif stream.alive():
                self.call(lambda c: c.reset_stream(stream.stream_id, ErrorCodes.INTERNAL_ERROR))
                stream.closed = True
        finally:
            with contextlib.suppress(Exception):
                await stream.end()
            self._streams.pop(stream.stream_id, None)
            self._close_when_idle()

    def _close_when_idle(self) -> None:
        if self._peer_done and not self._streams and not self._requests:
            self.close()
