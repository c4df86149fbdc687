"""Graders for the notebooks' exercises: one home for the hint and ``strict`` behaviour.

A check cell calls ``check(name, answer, strict=strict, **given)``. The grader runs the
learner's ``answer`` on cases the learner did not see (fresh users in the notebook's own
table, other budgets, a race of claims…) and compares it with the package's version. A
wrong or unfinished answer prints a short hint in Korean and English and returns False;
with ``strict=True`` (the solutions in CI) it raises ``AssertionError`` instead::

    >>> check("budget_keeps_newest", 10**6, turns=[], question="?", system_prompt="s")
    ✗ budget_keeps_newest: 뺄 턴이 없습니다 (there is no turn to leave out)
    False
"""

from __future__ import annotations

import inspect
import random
import threading
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["GRADERS", "FakeClock", "FakeTurn", "Hint", "check", "relay_on_fake_clock"]

NOT_WRITTEN = (
    "아직 작성하지 않았습니다: `# 여기에 작성` 부분을 채우세요. "
    "(Not written yet: fill in the TODO.)"
)


class Hint(Exception):
    """A wrong answer, with what to look at: ``Hint("한국어", "English")``."""

    def __init__(self, korean: str, english: str) -> None:
        super().__init__(f"{korean} ({english})")


#: Grader name → grader(answer, **given); a grader raises :class:`Hint` on a wrong answer.
GRADERS: dict[str, Callable[..., None]] = {}


def grader(function: Callable[..., None]) -> Callable[..., None]:
    GRADERS[function.__name__] = function
    return function


def check(name: str, answer: Any, *, strict: bool = False, **given: Any) -> bool:
    """Grade ``answer`` with the grader ``name``: ✓ and True, or a hint and False.

    ``strict=True`` raises ``AssertionError`` with the hint instead of printing it.
    """
    if name not in GRADERS:
        known = ", ".join(sorted(GRADERS))
        raise ValueError(f"알 수 없는 채점기 (unknown grader) {name!r}; 있는 것 (known): {known}")
    try:
        outcome = GRADERS[name](answer, **given)
        if inspect.isawaitable(outcome):
            _run(outcome)
    except Hint as hint:
        problem = str(hint)
    except NotImplementedError:
        problem = NOT_WRITTEN
    except Exception as exc:  # the learner's code crashed: say how, keep going
        problem = (
            f"코드가 오류를 냈습니다: {type(exc).__name__}: {exc} "
            "(your code raised an exception — read it and fix the cell)"
        )
    else:
        print(f"✓ {name}: 통과 (passed)")
        return True
    if strict:
        raise AssertionError(f"{name}: {problem}")
    print(f"✗ {name}: {problem}")
    return False


def _fresh_user(kind: str) -> str:
    """A user id no learner run has touched (graders never see the notebook's data)."""
    return f"teach-{kind}-{uuid.uuid4().hex[:10]}"


def _callable(answer: Any, what: str) -> None:
    if not callable(answer):
        raise Hint(f"{what}는 함수여야 합니다", f"{what} must be a function")


# -- 01 streaming ---------------------------------------------------------------------


@grader
def stream_stats(answer: Callable[..., Any]) -> None:
    """``answer(arrivals, output_tokens)`` → ``{"ttft_ms", "tokens_per_s"}``: the first
    arrival in ms, and output tokens per second between the first and last arrival."""
    _callable(answer, "stream_stats")
    cases = [([0.8, 0.9, 1.0, 1.8], 40), ([0.25, 0.5, 0.75, 1.0, 1.25, 2.25], 100), ([2.0], 5)]
    for arrivals, tokens in cases:
        got = answer(arrivals, tokens) or {}
        spread = arrivals[-1] - arrivals[0]
        rate = tokens / spread if spread else None
        if got.get("ttft_ms") is None or abs(got["ttft_ms"] - arrivals[0] * 1000) > 0.5:
            raise Hint(
                f"ttft_ms: 첫 도착(초) × 1000, 예: {arrivals} → {arrivals[0] * 1000:.0f}",
                "ttft_ms is the first arrival in seconds × 1000",
            )
        if rate is None:
            if got.get("tokens_per_s") is not None:
                raise Hint("조각이 하나면 속도는 None", "one arrival: tokens_per_s is None")
        elif got.get("tokens_per_s") is None or abs(got["tokens_per_s"] - rate) > 0.01:
            raise Hint(
                f"tokens_per_s: 출력 토큰 ÷ (마지막 − 첫 도착): {arrivals}, {tokens} → {rate:.1f}",
                "tokens_per_s = output tokens ÷ (last − first arrival)",
            )


@grader
def slow_first_token(answer: Any, *, mode: str, delay_s: float) -> None:
    """Offline: ``answer`` (ms) is a measured time to first token with ``!slow-first``."""
    if mode != "offline":
        print("  (aws 모드: !slow-first는 오프라인 전용이라 건너뜁니다 — offline only, skipped)")
        return
    if answer is None:
        raise NotImplementedError
    if not isinstance(answer, int | float) or answer < delay_s * 1000:
        raise Hint(
            f"!slow-first {delay_s}이면 첫 토큰은 {delay_s * 1000:.0f} ms 뒤 이후입니다 "
            f"(받은 값 {answer!r}): 요청 전에 시작한 시계로 첫 delta까지 재세요",
            f"with !slow-first {delay_s} the first token comes after {delay_s * 1000:.0f} ms — "
            "time from before the request to the first delta",
        )


# -- 02 memory ------------------------------------------------------------------------


def _random_turns(rng: random.Random, user: str, count: int) -> list[Any]:
    from .history import Turn

    words = ["서울", "부산", "지하철", "맛집", "hello", "weather", "제주", "바다", "요금은?", "ok"]
    turns = []
    for index in range(count):
        status = rng.choice(["completed"] * 4 + ["error", "interrupted"])
        question = " ".join(rng.choices(words, k=rng.randint(1, 6)))
        answer = " ".join(rng.choices(words, k=rng.randint(0 if status != "completed" else 1, 12)))
        turns.append(Turn(user, f"t{index}", f"{index}: {question}", answer, status=status))
    return turns[::-1]  # newest first, as HistoryStore returns them


def _shape(messages: Any) -> list[tuple[str, str]]:
    return [(message.type, message.text) for message in messages]


@grader
def context_builder(answer: Callable[..., Any]) -> None:
    """``answer(turns_newest_first, question, *, system_prompt, budget)`` equals
    ``build_context`` on random conversations and budgets."""
    from .memory import build_context, count_message_tokens

    _callable(answer, "my_context")
    rng = random.Random(14)
    for _ in range(60):
        turns = _random_turns(rng, "grader", rng.randint(0, 7))
        kwargs = {"system_prompt": "친절한 도우미", "budget": rng.randint(5, 160)}
        expected = _shape(build_context(turns, "마지막 질문", **kwargs))
        got = _shape(answer(turns, "마지막 질문", **kwargs))
        if got == expected:
            continue
        if not got or got[0] != expected[0]:
            raise Hint("시스템 프롬프트가 맨 앞에 와야 합니다", "the system prompt comes first")
        if got[-1] != expected[-1]:
            raise Hint("새 질문이 맨 뒤에 와야 합니다", "the new question comes last")
        failed = {turn.answer for turn in turns if turn.status == "error" and turn.answer}
        if any(text in failed for _, text in got[1:-1]):
            raise Hint("실패한 턴(status 'error')은 빼야 합니다", "leave failed turns out")
        if len(got) % 2 or any(kind == "system" for kind, _ in got[1:-1]):
            raise Hint("턴은 통째로(질문+답) 넣습니다", "keep whole turns: question and answer")
        if len(got) > len(expected):
            raise Hint(
                f"예산 {kwargs['budget']}을 넘었습니다: 들어가지 않는 턴에서 멈추세요",
                f"over the budget of {kwargs['budget']} tokens — stop at the first turn that "
                f"does not fit ({count_message_tokens(answer(turns, '마지막 질문', **kwargs))})",
            )
        if sorted(got) == sorted(expected):
            raise Hint(
                "턴의 순서: 오래된 것이 앞, 최신이 질문 바로 앞", "oldest first, newest last"
            )
        raise Hint(
            f"예산 {kwargs['budget']}에서 {(len(expected) - 2) // 2}턴이 들어가야 하는데 "
            f"{(len(got) - 2) // 2}턴입니다: 최신 턴부터 채우세요",
            f"{(len(expected) - 2) // 2} turns fit but you kept {(len(got) - 2) // 2}; "
            "fill from the newest turn",
        )


@grader
def budget_keeps_newest(
    answer: Any, *, turns: list[Any], question: str, system_prompt: str, keep: int = 1
) -> None:
    """``answer`` is a budget whose context holds exactly the newest ``keep`` remembered
    turns (the failed ones never count)."""
    from .memory import REMEMBERED, build_context

    good = [turn for turn in turns if turn.status in REMEMBERED and turn.answer]
    if len(good) <= keep:
        raise Hint("뺄 턴이 없습니다", "there is no turn to leave out")
    if not isinstance(answer, int) or isinstance(answer, bool):
        raise Hint("예산은 정수입니다 (예: 120)", "the budget is an integer, e.g. 120")
    context = build_context(turns, question, system_prompt=system_prompt, budget=answer)
    texts = {message.text for message in context}
    wanted = ", ".join(turn.request_id for turn in good[:keep])
    if good[keep].question in texts:
        raise Hint(
            f"예산 {answer}이면 {good[keep].request_id}도 들어갑니다: 더 작게",
            f"{good[keep].request_id} still fits at {answer}: go lower",
        )
    if not all(turn.question in texts for turn in good[:keep]):
        raise Hint(
            f"예산 {answer}이면 {wanted}까지 빠집니다: 더 크게",
            f"{wanted} drops too at {answer}: go higher",
        )


# -- 03 history -----------------------------------------------------------------------


class _Guarded:
    """A real boto3 client whose ``query`` calls are counted and capped (no endless loop)."""

    def __init__(self, client: Any, max_queries: int = 60) -> None:
        self._client, self._max, self.queries = client, max_queries, 0

    def query(self, **kwargs: Any) -> Any:
        self.queries += 1
        if self.queries > self._max:
            raise Hint(
                "같은 페이지를 계속 읽습니다: 다음 호출에 ExclusiveStartKey=LastEvaluatedKey",
                "the same page again and again — pass ExclusiveStartKey=LastEvaluatedKey",
            )
        return self._client.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _store(settings: Any) -> Any:
    from .history import HistoryStore

    return HistoryStore.from_settings(settings)


@grader
def conditional_claim(answer: Callable[..., Any], *, settings: Any) -> None:
    """``answer(client, table, user, request_id)`` → True once per request id, False
    when another worker claims it between a read and the write; ``HistoryStore`` then
    sees the id as taken."""
    from .aws_clients import dynamodb_client

    _callable(answer, "my_claim")
    client, store, user = dynamodb_client(settings), _store(settings), _fresh_user("claim")
    try:
        first = answer(client, settings.table_name, user, "r-1")
        if first is not True:
            raise Hint(
                f"처음 claim은 True여야 합니다 (받은 값: {first!r})", "a first claim returns True"
            )
        again = answer(client, settings.table_name, user, "r-1")
        if again is not False:
            raise Hint(
                "같은 id를 두 번째 claim하면 False: ConditionExpression="
                "'attribute_not_exists(sk)'를 쓰고 ConditionalCheckFailedException을 잡으세요",
                "a second claim of the same id returns False — use a condition and catch "
                "ConditionalCheckFailedException",
            )
        if answer(client, settings.table_name, user, "r-2") is not True:
            raise Hint("다른 id는 다시 True입니다", "another request id is claimed afresh")
        if not store.claim(user, "r-1").in_progress:
            raise Hint(
                "HistoryStore가 표시를 못 찾습니다: 정렬 키는 'R#' + request_id",
                "HistoryStore does not see the marker — the sort key is 'R#' + request_id",
            )
        racing = _OtherWorker(client, settings.table_name, user, "r-race")
        won = answer(racing, settings.table_name, user, "r-race")
        if racing.claimed and won is not False:
            raise Hint(
                "읽은 뒤 쓰기 전에 다른 작업자가 claim했는데 True: 읽지 말고 조건부 쓰기 하나로",
                "another worker claimed the id between your read and your write, yet you got "
                "True — one conditional put, no read first",
            )
        if not racing.claimed and won is not True:
            raise Hint("새 id의 claim은 True", "claiming a new id returns True")
    finally:
        store.clear(user)


class _OtherWorker:
    """A real boto3 client, except that right after the learner's first read another
    worker claims ``request_id`` (the race a read-then-write loses), deterministically."""

    READS = ("get_item", "query", "scan", "batch_get_item")

    def __init__(self, client: Any, table: str, user: str, request_id: str) -> None:
        self._client, self._table = client, table
        from .schema import HISTORY_TABLE as keys

        self._marker = {keys.partition_key: {"S": user}, keys.sort_key: {"S": "R#" + request_id}}
        self.claimed = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in self.READS:
            return method

        def read(**kwargs: Any) -> Any:
            response = method(**kwargs)
            if not self.claimed:
                self.claimed = True
                self._client.put_item(TableName=self._table, Item=self._marker)
            return response

        return read


@grader
def paginated_read(answer: Callable[..., Any], *, settings: Any) -> None:
    """``answer(client, table, user, limit)`` → pages of turn sort keys, newest first, each
    at most ``limit`` long, together exactly the user's turns (as ``HistoryStore`` reads)."""
    from .aws_clients import dynamodb_client
    from .history import Turn

    _callable(answer, "my_pages")
    store, user = _store(settings), _fresh_user("pages")
    try:
        for index in range(7):
            claim = store.claim(user, f"p-{index}")
            store.save(Turn(user, f"p-{index}", f"질문 {index}", "답", created_at=claim.created_at))
        expected = [turn.sort_key for turn in store.recent(user, 100)]
        for limit in (3, 1, 10):
            client = _Guarded(dynamodb_client(settings))
            pages = answer(client, settings.table_name, user, limit)
            flat = [key for page in pages for key in page]
            if any(len(page) > limit for page in pages):
                raise Hint(
                    f"한 페이지에 {limit}개까지: Limit을 주세요", f"at most {limit} per page"
                )
            if len(flat) < len(expected) and len(pages) <= 1:
                raise Hint(
                    "첫 페이지뿐입니다: LastEvaluatedKey가 있으면 ExclusiveStartKey로 다음 페이지",
                    "only the first page — follow LastEvaluatedKey with ExclusiveStartKey",
                )
            if sorted(flat) == sorted(expected) and flat != expected:
                raise Hint(
                    "최신부터: ScanIndexForward=False", "newest first: ScanIndexForward=False"
                )
            if flat != expected:
                raise Hint(
                    f"턴 {len(expected)}개(정렬 키 'T#…')를 한 번씩: 받은 것 {len(flat)}개",
                    f"expected the {len(expected)} turn keys ('T#…') once each, got {len(flat)}",
                )
    finally:
        store.clear(user)


# -- 04 chat session ------------------------------------------------------------------


async def _events(stream: Any) -> list[Any]:
    if not inspect.isasyncgen(stream):
        raise Hint(
            "mini_astream은 async def 안에서 yield하는 비동기 생성기입니다",
            "mini_astream is an async generator (async def with yield)",
        )
    return [event async for event in stream]


def _answer(events: list[Any]) -> str:
    return "".join(event.text for event in events if event.type == "delta")


async def _turn_events(answer: Callable[..., Any], session: Any, user: str, text: str) -> list:
    events = await _events(answer(session, user, text))
    kinds = [event.type for event in events]
    if not kinds or kinds[0] != "start":
        raise Hint("첫 이벤트는 Start입니다", "the first event is Start")
    if kinds[-1] not in ("end", "error") or kinds.count("end") + kinds.count("error") != 1:
        raise Hint("마지막 이벤트 하나만 End 또는 Error", "exactly one End or Error, last")
    if "delta" not in kinds[1:-1] and kinds[-1] == "end":
        raise Hint("모델 조각마다 Delta를 내보내세요", "yield a Delta for each model chunk")
    stored = session.history.get(user, events[0].request_id)
    if stored is None:
        raise Hint(
            "턴이 저장되지 않았습니다: claim의 created_at으로 Turn을 만들어 history.save(...)",
            "the turn was not stored — save a Turn with the claim's created_at",
        )
    if stored.answer != _answer(events):
        raise Hint("저장된 답 = Delta를 이어 붙인 것", "the stored answer = the deltas joined")
    return events


@grader
async def mini_session(answer: Callable[..., Any], *, session: Any) -> None:
    """``answer(session, user, text)`` streams like ``ChatSession.astream``: events, the
    stored turn, and (offline) the very same answers for a two-turn conversation."""
    _callable(answer, "mini_astream")
    offline = session.settings.mode == "offline"
    quick = "!rate 0 " if offline else ""
    mine, theirs = _fresh_user("mini"), _fresh_user("ref")
    try:
        for question in ("서울 여행 추천해줘", "그럼 지하철 요금은?"):
            events = await _turn_events(answer, session, mine, quick + question)
            if events[-1].type != "end":
                raise Hint(
                    f"오류로 끝났습니다: {events[-1].message}", "the stream ended in an error"
                )
            status = session.history.get(mine, events[0].request_id).status
            if status != "completed":
                raise Hint(f"저장된 상태가 {status!r}: 'completed'", "store status 'completed'")
            reference = [e async for e in session.astream(theirs, quick + question)]
            if offline and _answer(events) != _answer(reference):
                raise Hint(
                    "같은 대화인데 ChatSession과 답이 다릅니다: 컨텍스트는 "
                    "history.recent(user) + build_context(...)",
                    "answers differ from ChatSession — build the context from the user's recent "
                    "turns with build_context",
                )
    finally:
        session.reset(mine)
        session.reset(theirs)


@grader
async def mini_session_errors(answer: Callable[..., Any], *, session: Any) -> None:
    """Offline: a stream failing after two deltas ends with ``Error`` and is stored as an
    ``error`` turn holding the partial answer (aws mode has no fault directive: skipped)."""
    _callable(answer, "mini_astream")
    if session.settings.mode != "offline":
        print("  (aws 모드: !fail-after는 오프라인 전용이라 건너뜁니다 — offline only, skipped)")
        return
    user = _fresh_user("fail")
    try:
        events = await _turn_events(answer, session, user, "!rate 0 !fail-after 2 부산 이야기")
        if events[-1].type != "error":
            raise Hint(
                "모델이 실패하면 마지막 이벤트는 Error: try/except로 감싸세요",
                "when the model fails the last event is an Error — wrap the stream in try/except",
            )
        stored = session.history.get(user, events[0].request_id)
        if stored.status != "error":
            raise Hint(f"실패한 턴의 상태는 'error' (받은 값 {stored.status!r})", "store 'error'")
    finally:
        session.reset(user)


@grader
def stored_error_turn(answer: Any, *, session: Any, user: str) -> None:
    """Offline: ``answer`` is the stored ``error`` turn of ``user`` (found in the history)."""
    if session.settings.mode != "offline":
        print("  (aws 모드: !fail-after는 오프라인 전용이라 건너뜁니다 — offline only, skipped)")
        return
    if answer is None:
        raise NotImplementedError
    if getattr(answer, "status", None) != "error":
        raise Hint(
            "status가 'error'인 Turn을 찾으세요 (history.recent(user))",
            "find the Turn whose status is 'error' in history.recent(user)",
        )
    stored = session.history.get(user, answer.request_id)
    if stored is None or stored.status != "error":
        raise Hint("그 턴이 이 사용자의 기록에 없습니다", "that turn is not in this user's history")


# -- 05 relay ------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when told: ``clock.now += 0.02``; ``clock()`` reads it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTurn:
    """A turn's events with a token every ``step`` seconds of ``clock``; knows how far it
    was read and whether it was closed (a relay must stop reading a gone client's turn)."""

    def __init__(self, clock: FakeClock, tokens: list[str], step: float = 0.02) -> None:
        self.clock, self.tokens, self.step = clock, tokens, step
        self.pulled, self.closed = 0, False

    async def events(self, request_id: str = "r1", error: bool = False) -> Any:
        from .events import Delta, End, Error, Latency, Start, Usage

        try:
            yield Start(request_id, "demo", "")
            for token in self.tokens:
                self.clock.now += self.step
                self.pulled += 1
                yield Delta(request_id, token)
            if error:
                yield Error(request_id, "model_error", "모델 오류 (model error)")
            else:
                yield End(request_id, "end_turn", Usage(), Latency())
        finally:
            self.closed = True


def coalesced_count(tokens: int, step: float, interval: float) -> int:
    """Delta frames ``DeltaCoalescer`` sends for ``tokens`` tokens ``step`` seconds apart."""
    from .protocol import DeltaCoalescer

    coalescer, frames, now = DeltaCoalescer(interval, 1 << 30), 0, 0.0
    for _ in range(tokens):
        now += step
        frames += coalescer.push("x", now) is not None
    return frames + (coalescer.flush(now) is not None)


async def relay_on_fake_clock(
    relay: Callable[..., Any],
    tokens: list[str],
    *,
    step: float = 0.02,
    error: bool = False,
    **options: Any,
) -> list[str]:
    """The frames ``relay`` posts for a turn of ``tokens``, one every ``step`` s of a
    :class:`FakeClock` (``options``, e.g. ``interval=0.1``, go to ``relay``) — the same run
    for the learner's relay and the package's::

        >>> import asyncio
        >>> from chatkit.aws.relay import relay
        >>> frames = asyncio.run(relay_on_fake_clock(relay, ["안녕", "하세요"]))
        >>> [(f["type"], f.get("text", "")) for f in _frames(frames)]
        [('start', ''), ('delta', '안녕하세요'), ('end', '')]
    """
    clock, posted = FakeClock(), []
    turn = FakeTurn(clock, tokens, step)
    await relay(turn.events(error=error), posted.append, request_id="r1", clock=clock, **options)
    return posted


def _frames(posted: list[str]) -> list[dict[str, Any]]:
    import json

    return [json.loads(frame) for frame in posted]


@grader
async def relay_frames(answer: Callable[..., Any]) -> None:
    """``answer(events, post, *, request_id, clock, interval)`` sends start, coalesced
    deltas (the first at once) and end or error, as ``DeltaCoalescer`` would."""
    _callable(answer, "mini_relay")
    rng = random.Random(5)
    for interval, step, error in ((0.05, 0.02, False), (0.1, 0.03, False), (0.05, 0.01, True)):
        tokens = [rng.choice(["서울", " 부산", "은", " 맛집", "!", " 지하철"]) for _ in range(25)]
        posted = await relay_on_fake_clock(
            answer, tokens, step=step, interval=interval, error=error
        )
        frames = _frames(posted)
        kinds = [frame.get("type") for frame in frames]
        deltas = [frame["text"] for frame in frames if frame.get("type") == "delta"]
        if not kinds or kinds[0] != "start" or kinds[-1] != ("error" if error else "end"):
            raise Hint(
                "start를 먼저, 끝(end/error)을 마지막에 보내세요",
                "send start first and end (or error) last",
            )
        if "".join(deltas) != "".join(tokens):
            raise Hint(
                "delta를 이어 붙이면 답 전체: 끝 프레임 전에 기다리던 텍스트를 보내세요",
                "the deltas must join into the whole answer — flush waiting text before the end",
            )
        if deltas[0] != tokens[0]:
            raise Hint("첫 조각은 바로 보냅니다", "the first piece goes out at once")
        expected = coalesced_count(len(tokens), step, interval)
        if len(deltas) != expected:
            raise Hint(
                f"간격 {interval}s, 토큰 {step}s마다: delta 프레임 {expected}개여야 하는데 "
                f"{len(deltas)}개 — 마지막으로 보낸 뒤 interval이 지났을 때 보내세요",
                f"expected {expected} delta frames, got {len(deltas)} — send when `interval` "
                "has passed since the last send",
            )


@grader
async def relay_gone(answer: Callable[..., Any], *, gone: type[Exception]) -> None:
    """When ``post`` raises ``gone`` (``chatkit.aws.relay.ConnectionGone``, passed in: the
    core imports no face), ``answer`` returns ``"gone"`` at once: no further post, and the
    turn's stream is closed (the session stores it interrupted)."""
    _callable(answer, "mini_relay")
    clock, posted = FakeClock(), []
    turn = FakeTurn(clock, ["가"] * 40, 0.06)

    def post(frame: str) -> None:
        if len(posted) >= 3:
            raise gone("conn-1")
        posted.append(frame)

    outcome = await answer(turn.events(), post, request_id="r1", clock=clock, interval=0.05)
    if outcome != "gone":
        raise Hint(
            f"연결이 끊기면 'gone'을 돌려주세요 (받은 값 {outcome!r}): ConnectionGone을 잡아서",
            "return 'gone' when the client is gone — catch ConnectionGone",
        )
    if turn.pulled > 4 or not turn.closed:
        raise Hint(
            "끊긴 뒤에도 스트림을 계속 읽었습니다: 바로 멈추고 events.aclose()",
            "you kept reading the stream after the client left — stop and aclose() it",
        )


@grader
def predicted_frames(answer: Any, *, tokens: int, step: float, interval: float) -> None:
    """``answer`` is the number of delta frames for ``tokens`` tokens at ``step`` seconds
    coalesced every ``interval`` seconds."""
    expected = coalesced_count(tokens, step, interval)
    if answer is None:
        raise NotImplementedError
    if answer != expected:
        raise Hint(
            f"{answer}개가 아닙니다: 첫 토큰은 바로, 그다음은 {interval}s가 지날 때마다 한 번, "
            "마지막에 남은 것 한 번" + (" — 더 적게" if answer > expected else " — 더 많이"),
            "not that many — the first at once, then once per interval, then the rest at the end",
        )


# -- 06 chat panel -------------------------------------------------------------------


def _buttons(widget: Any) -> list[Any]:
    """Every button in a widget tree (anything with ``click`` and ``on_click``)."""
    found = [widget] if hasattr(widget, "click") and hasattr(widget, "on_click") else []
    for child in getattr(widget, "children", ()):
        found += _buttons(child)
    return found


@grader
def panel_button(answer: Any, *, transcript: Any, keep: tuple[Any, ...]) -> None:
    """``answer`` (the hand-built panel) holds a new button whose click empties
    ``transcript``; ``keep`` are the buttons it had before."""
    extra = [button for button in _buttons(answer) if not any(button is k for k in keep)]
    if not extra:
        raise Hint(
            "패널에 새 버튼이 없습니다: 버튼 줄(handmade_panel.children[1])의 children에 넣으세요",
            "no new button in the panel — add it to the button row's children",
        )
    saved = transcript.children
    try:
        for button in extra:
            transcript.children = (*saved, type(button)(description="테스트 (test)"))
            button.click()
            if not transcript.children:
                return
    finally:
        transcript.children = saved
    raise Hint(
        "새 버튼을 눌러도 대화창이 그대로입니다: on_click에서 transcript.children = ()",
        "clicking the new button leaves the transcript — set transcript.children = () on click",
    )


@grader
def interrupted_answers(answer: Callable[..., Any]) -> None:
    """``answer(messages)`` → the texts of the assistant's interrupted answers, in order."""
    _callable(answer, "interrupted_answers")
    rng = random.Random(6)
    for _ in range(20):
        messages = [
            {
                "role": rng.choice(["user", "assistant"]),
                "text": f"글 {index}",
                "status": rng.choice(["completed", "interrupted", "error", "streaming"]),
            }
            for index in range(rng.randint(0, 8))
        ]
        expected = [
            m["text"] for m in messages if m["role"] == "assistant" and m["status"] == "interrupted"
        ]
        got = answer(messages)
        if got is None:
            raise NotImplementedError
        if list(got) != expected:
            raise Hint(
                "role이 'assistant'이고 status가 'interrupted'인 메시지의 text만, 순서대로",
                "only the text of assistant messages with status 'interrupted', in order",
            )


def _run(coroutine: Any) -> None:
    """Run a grader coroutine, also where a loop already runs (Jupyter): in a thread."""
    import asyncio

    box: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:
            box.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if box:
        raise box[0]
