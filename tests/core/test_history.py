"""HistoryStore against the local DynamoDB (moto server) with the real boto3 client."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from chatkit.history import PART_BYTES, HistoryStore, InvalidCursor, Turn, split_utf8


class Clock:
    """A controllable clock: each call advances one millisecond."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(history, clock):
    return HistoryStore(history.table_name, history.client, cursor_secret="s3cret", clock=clock)


def _answered(store: HistoryStore, user: str, rid: str, q: str, a: str, **kw) -> Turn:
    claim = store.claim(user, rid)
    assert claim.fresh
    turn = Turn(user, rid, q, a, created_at=claim.created_at, **kw)
    store.save(turn)
    return turn


def test_korean_text_round_trips_nfc(store):
    decomposed = unicodedata.normalize("NFD", "한국어 질문입니다")
    _answered(store, "민수", "r1", decomposed, unicodedata.normalize("NFD", "답변"))
    turn = store.get("민수", "r1")
    assert turn.question == "한국어 질문입니다"
    assert turn.question.encode() == unicodedata.normalize("NFC", decomposed).encode()
    assert turn.answer == "답변"


def test_claim_is_idempotent_on_request_id(store):
    first = store.claim("u", "same")
    again = store.claim("u", "same")
    assert first.fresh and again.in_progress
    store.save(Turn("u", "same", "q", "a", created_at=first.created_at))
    replay = store.claim("u", "same")
    assert replay.existing is not None and replay.existing.answer == "a"
    assert len(store.page("u", limit=100).items) == 1


def test_request_ids_are_per_user(store):
    _answered(store, "alice", "r1", "q", "alice's")
    claim = store.claim("bob", "r1")
    assert claim.fresh, "another user's request id must not block or leak"


@pytest.mark.slow
def test_thousand_turns_page_back_in_order_without_gaps(store):
    for i in range(1000):
        _answered(store, "heavy", f"r{i:04d}", f"질문 {i}", f"답 {i}")
    seen, cursor, pages = [], None, 0
    while True:
        page = store.page("heavy", limit=100, cursor=cursor)
        seen += [t.request_id for t in page.items]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert pages == 10
    assert seen == [f"r{i:04d}" for i in reversed(range(1000))]


def test_megabyte_korean_answer_round_trips_byte_for_byte(store):
    answer = "".join(
        itertools.islice(itertools.cycle("가나다라마바사아자차카타파하 한글"), 350_000)
    )  # ~1 MB in UTF-8
    assert len(answer.encode()) > 1_000_000
    _answered(store, "u", "big", "길게", answer)
    turn = store.get("u", "big")
    assert turn.answer.encode() == answer.encode()
    assert store.page("u").items[0].answer == answer


def test_split_utf8_never_cuts_a_character():
    text = "a한🙂" * 1000
    pieces = split_utf8(text, 7)
    assert "".join(pieces) == text
    assert all(len(p.encode()) <= 7 for p in pieces)
    assert split_utf8("", PART_BYTES) == [""]


def test_expired_turns_are_filtered_on_read(store, clock):
    _answered(store, "u", "old", "q", "a")
    clock.now += 31 * 86400  # past the 30-day TTL; moto never deletes
    _answered(store, "u", "new", "q", "a")
    assert [t.request_id for t in store.page("u").items] == ["new"]
    assert store.get("u", "old") is None


def test_cursor_is_bound_to_its_owner(store):
    for i in range(3):
        _answered(store, "alice", f"r{i}", "q", "a")
    cursor = store.page("alice", limit=1).cursor
    assert cursor
    with pytest.raises(InvalidCursor):
        store.page("bob", limit=1, cursor=cursor)
    with pytest.raises(InvalidCursor):
        store.page("alice", limit=1, cursor=cursor[:-2] + "xx")
    with pytest.raises(InvalidCursor):
        store.page("alice", limit=1, cursor="not-a-cursor")


def test_clear_removes_only_that_user(store):
    _answered(store, "alice", "r1", "q", "a")
    _answered(store, "bob", "r1", "q", "b")
    assert store.clear("alice") == 1
    assert store.page("alice").items == []
    assert [t.answer for t in store.page("bob").items] == ["b"]


def test_an_expired_marker_does_not_block_its_request_id(store, clock):
    claim = store.claim("u", "again")
    store.save(Turn("u", "again", "q", "a", created_at=claim.created_at))
    clock.now += 31 * 86400  # the marker expired, but DynamoDB has not deleted it yet
    assert store.claim("u", "again").fresh


def test_clear_also_removes_expired_items(store, clock):
    _answered(store, "u", "old", "q", "a")
    clock.now += 31 * 86400
    store.clear("u")
    response = store.client.query(
        TableName=store.table_name,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": "u"}},
    )
    assert response["Items"] == []
