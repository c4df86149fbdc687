"""``ChatSession.astream`` — the only place a question becomes an answer.

One turn: validate the question (NFC, length), claim the request id (a redelivered
request is replayed from history, never answered twice), load the user's own recent
turns as context under a token budget, stream the model, and store the turn with its
final status — ``completed``, ``error``, or ``interrupted`` when the consumer went away
(task cancelled, WebSocket gone, Stop pressed). A save that meets throttling or an outage
is retried for up to :data:`SAVE_RETRY_SECONDS`; past that the stream ends with a
``not_saved`` error (the client has every delta) and the turn is kept in memory, so a retry
of the same request id stores it once instead of answering again. Every face consumes its
events::

    session = ChatSession()          # aws mode, or offline inside chatkit.local.offline_stack()
    async for event in session.astream("minsu", "서울 여행 추천해줘"):
        if event.type == "delta":
            print(event.text, end="")

    for event in session.stream("minsu", "그럼 지하철 요금은?"):   # scripts: sync
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .auth import validate_user_id
from .config import Settings
from .errors import ChatError, ErrorCode
from .events import Delta, End, Error, Event, Latency, Start, Usage
from .history import Claim, HistoryStore, Turn
from .llm import stream_chunks
from .protocol import validate_question
from .retry import error_name, retry_within

__all__ = ["ChatSession"]

log = logging.getLogger(__name__)

#: Turns read for context in one Query; the token budget then decides what is kept.
CONTEXT_TURNS = 50
#: How long a turn's save is retried (throttling, 5xx, lost connections; on top of
#: botocore's own attempts) before the client is told ``not_saved``. Tests shrink it.
SAVE_RETRY_SECONDS = 20.0
#: Turns not saved in time that are kept for a retry of their request id (newest win).
UNSAVED_KEPT = 100


#: What a session in offline mode without endpoints says (the core starts nothing).
OFFLINE_STACK_NEEDED = (
    "오프라인 모드에는 로컬 엔드포인트가 필요합니다: 노트북의 설정 셀, ChatPanel(), "
    "chatkit.local.offline_stack() 또는 chatkit emulators를 쓰세요. (Offline mode needs the "
    "local endpoints: run the notebook's setup cell, ChatPanel(), chatkit.local.offline_stack() "
    "or `chatkit emulators`.)"
)


class ChatSession:
    """Streams answers for any number of users; holds no per-user state itself.

    ``model`` (any LangChain chat model) and ``history`` are injectable; by default they
    come from ``settings`` (itself from the environment). In offline mode without
    endpoints the embedded offline stack is started on first use.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: Any = None,
        history: HistoryStore | None = None,
    ) -> None:
        settings = settings or Settings.from_env()
        if (model is None or history is None) and settings.needs_local_endpoints:
            raise RuntimeError(OFFLINE_STACK_NEEDED)
        self.settings = settings
        self._model = model
        self.history = history or HistoryStore.from_settings(settings)
        self._unsaved = _UnsavedTurns(UNSAVED_KEPT)

    @property
    def model(self) -> Any:
        """The chat model, built on first use (importing langchain-aws takes seconds)."""
        if self._model is None:
            from .llm import make_chat_model

            self._model = make_chat_model(self.settings)
        return self._model

    @property
    def model_id(self) -> str:
        return getattr(self._model, "model_id", None) or self.settings.model_id

    # -- the streaming core ------------------------------------------------------------

    async def astream(
        self,
        user_id: str,
        text: str,
        request_id: str | None = None,
        *,
        claim: Claim | None = None,
        recent: list[Turn] | None = None,
    ) -> AsyncIterator[Event]:
        """Answer ``text`` for ``user_id``: ``Start``, ``Delta``…, then ``End`` or ``Error``.

        Stopping early (``aclose``, task cancel) stores the partial answer as
        ``interrupted``. Validation errors, and history that cannot be reached before the
        answer (``internal``), end the stream with an ``Error`` and store nothing; every
        accepted request ends as exactly one stored turn (or a ``not_saved`` error).
        ``claim`` and ``recent``: the claim of ``request_id`` and the context, when the
        caller already has them (the Lambda backend gets both with its admission);
        without them the session claims and reads by itself.
        """
        request_id = request_id or uuid.uuid4().hex
        started = time.perf_counter()
        try:
            user_id, question = self._validate(user_id, text, request_id)
        except ChatError as err:
            yield Error(request_id, err.code.value, err.message)
            return
        # Claim the request and read the context in parallel: one round trip, not two.
        try:
            claim, recent = await asyncio.gather(
                _given(claim) or asyncio.to_thread(self.history.claim, user_id, request_id),
                _given(recent) or asyncio.to_thread(self.history.recent, user_id, CONTEXT_TURNS),
            )
        except Exception as exc:  # storage down: nothing asked, nothing stored
            log.warning(
                "history unavailable: %s", error_name(exc), extra={"request_id": request_id}
            )
            internal = ChatError(ErrorCode.INTERNAL)
            yield Error(request_id, internal.code.value, internal.message)
            return
        if claim.existing is not None:
            for event in _replay(claim.existing):
                yield event
            return
        if claim.in_progress and (unsaved := self._unsaved.pop(user_id, request_id)):
            saved = await _shielded(self._store(unsaved))
            for event in _replay(unsaved, saved=saved):
                yield event
            return
        if claim.in_progress:
            busy = ChatError(ErrorCode.BUSY)
            yield Error(request_id, busy.code.value, busy.message)
            return

        turn = Turn(
            user_id, request_id, question, created_at=claim.created_at, model_id=self.model_id
        )
        yield Start(request_id, self.model_id, claim.created_at)
        answer: list[str] = []
        first_token: int | None = None
        error: ChatError | None = None
        try:
            chunks = stream_chunks(self.model, self._context(recent, question))
            async with contextlib.aclosing(chunks):  # the model stops when the turn does
                async for chunk in chunks:
                    _collect_metadata(turn, chunk)
                    piece = chunk.text
                    if piece:
                        if first_token is None:
                            first_token = _ms_since(started)
                        answer.append(piece)
                        yield Delta(request_id, piece)
        except (asyncio.CancelledError, GeneratorExit):
            self._finish(turn, answer, "interrupted", first_token, started)
            await _shielded(self._store(turn))
            log.info("turn interrupted", extra={"request_id": request_id})
            raise
        except Exception as exc:  # the model failed: classify, keep details in the log
            error = _classified(exc, request_id)

        self._finish(turn, answer, "error" if error else "completed", first_token, started)
        if error:
            turn.error_code = error.code.value
        saved = await _shielded(self._store(turn))
        log.info(
            "turn %s", turn.status, extra={"request_id": request_id, "latency_ms": turn.latency_ms}
        )
        if error:
            yield Error(request_id, error.code.value, error.message, retry_after=error.retry_after)
        elif not saved:
            yield _not_saved(request_id)
        else:
            yield _end_event(turn)

    def stream(self, user_id: str, text: str, request_id: str | None = None) -> Iterator[Event]:
        """Synchronous :meth:`astream` for scripts and the CLI.

        The async stream runs on a private event loop in a worker thread, so this also
        works where a loop is already running (Jupyter). Closing the iterator early
        cancels the turn (stored as ``interrupted``).
        """
        events: queue.Queue[Any] = queue.Queue()
        finished = object()
        loop = asyncio.new_event_loop()

        async def pump() -> None:
            try:
                async for event in self.astream(user_id, text, request_id):
                    events.put(event)
            except BaseException as exc:  # handed to the caller's thread
                events.put(exc)
            finally:
                events.put(finished)

        task = loop.create_task(pump())
        worker = threading.Thread(target=loop.run_until_complete, args=(task,), daemon=True)
        worker.start()
        try:
            while (item := events.get()) is not finished:
                if isinstance(item, BaseException):
                    if isinstance(item, asyncio.CancelledError):
                        return
                    raise item
                yield item
        finally:
            if worker.is_alive():
                loop.call_soon_threadsafe(task.cancel)
            worker.join()
            loop.close()

    def reset(self, user_id: str) -> int:
        """Forget ``user_id``'s conversation (delete their history); returns turns removed."""
        return self.history.clear(validate_user_id(user_id))

    # -- helpers --------------------------------------------------------------------------

    async def _store(self, turn: Turn) -> bool:
        """Save ``turn``, retrying passing storage errors for up to ``SAVE_RETRY_SECONDS``.
        False when it could not be saved: the turn is then kept for a retry of its id."""
        try:
            await retry_within(
                lambda: asyncio.to_thread(self.history.save, turn), budget=SAVE_RETRY_SECONDS
            )
        except Exception as exc:
            self._unsaved.add(turn)
            log.error(
                "turn not saved: %s",
                error_name(exc),
                extra={"request_id": turn.request_id},
            )
            return False
        return True

    def _validate(self, user_id: str, text: str, request_id: str) -> tuple[str, str]:
        """``(user_id, question)`` by the rules of ``auth`` and ``protocol``; no user id is
        ``unauthorized``."""
        if not isinstance(user_id, str) or not user_id.strip():
            raise ChatError(ErrorCode.UNAUTHORIZED)
        if not isinstance(request_id, str) or not request_id:
            raise ChatError(ErrorCode.BAD_REQUEST)
        limits = self.settings
        question = validate_question(text, limits.max_question_chars, limits.max_question_bytes)
        return validate_user_id(user_id), question

    def _context(self, recent: list[Turn], question: str) -> list[Any]:
        from .memory import build_context

        return build_context(
            recent,
            question,
            system_prompt=self.settings.system_prompt,
            budget=self.settings.context_tokens,
        )

    @staticmethod
    def _finish(
        turn: Turn, answer: list[str], status: str, first_token: int | None, started: float
    ) -> None:
        turn.answer = "".join(answer)
        turn.status = status
        turn.latency_ms = {"first_token": first_token, "total": _ms_since(started)}


def _given(value: Any) -> Any:
    """An awaitable of ``value`` if the caller gave one (not None), else None."""
    if value is None:
        return None
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def _shielded(awaitable: Any) -> Any:
    """Finish a save even if the caller is cancelled (again) meanwhile; its result."""
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def _classified(exc: BaseException, request_id: str) -> ChatError:
    from .llm import classify_error

    error = classify_error(exc)
    log.warning(
        "model call failed: %s", error.code.value, extra={"request_id": request_id}, exc_info=exc
    )
    return error


def _collect_metadata(turn: Turn, chunk: Any) -> None:
    usage = getattr(chunk, "usage_metadata", None)
    if usage:
        turn.usage = {
            "input_tokens": int(usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens", 0)),
        }
    meta = getattr(chunk, "response_metadata", None) or {}
    if meta.get("stopReason"):
        turn.stop_reason = meta["stopReason"]


def _end_event(turn: Turn, *, replayed: bool = False) -> End:
    return End(
        turn.request_id,
        turn.stop_reason or ("interrupted" if turn.status == "interrupted" else "end_turn"),
        Usage(**{k: int(v) for k, v in turn.usage.items()}),
        Latency(turn.latency_ms.get("first_token"), int(turn.latency_ms.get("total") or 0)),
        replayed=replayed,
    )


def _not_saved(request_id: str) -> Error:
    err = ChatError(ErrorCode.NOT_SAVED)
    return Error(request_id, err.code.value, err.message)


def _replay(turn: Turn, *, saved: bool = True) -> Iterator[Event]:
    """Events of a turn answered before (a redelivered request id)."""
    yield Start(turn.request_id, turn.model_id, turn.created_at)
    if turn.answer:
        yield Delta(turn.request_id, turn.answer)
    if turn.status == "error":
        err = ChatError(ErrorCode(turn.error_code or ErrorCode.MODEL_ERROR.value))
        yield Error(turn.request_id, err.code.value, err.message)
    elif not saved:
        yield _not_saved(turn.request_id)
    else:
        yield _end_event(turn, replayed=True)


class _UnsavedTurns:
    """Turns whose save ran out of budget, by user and request id; the oldest drop out.

    >>> unsaved = _UnsavedTurns(keep=2)
    >>> unsaved.add(Turn("minsu", "r1", "안녕?", "안녕하세요!"))
    >>> unsaved.pop("minsu", "r1").answer
    '안녕하세요!'
    >>> unsaved.pop("minsu", "r1") is None      # handed out once
    True
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._turns: OrderedDict[tuple[str, str], Turn] = OrderedDict()
        self._lock = threading.Lock()  # a warm backend serves many threads locally

    def add(self, turn: Turn) -> None:
        with self._lock:
            self._turns[(turn.user_id, turn.request_id)] = turn
            while len(self._turns) > self._keep:
                self._turns.popitem(last=False)

    def pop(self, user_id: str, request_id: str) -> Turn | None:
        with self._lock:
            return self._turns.pop((user_id, request_id), None)
