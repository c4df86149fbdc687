"""Chat history in DynamoDB: one item per turn, idempotent, paginated, TTL-aware.

Items of one user share the partition key (``user_id``); the sort key tells them apart:

- ``T#<UTC time, ms>#<request id>`` — a turn (question, answer, status, usage, latency).
  The time is assigned by the server when the request is claimed, so turns sort in the
  order they were asked and two requests in the same millisecond never collide.
- ``R#<request id>`` — the request marker, written with a conditional put when a request
  is claimed. A redelivered request finds it and is not answered or stored twice.
- ``P#<time>#<request id>#<n>`` — parts of an answer too large for one 400 KB item,
  split on character boundaries and joined back losslessly.

Example::

    store = HistoryStore.from_settings(Settings.from_env())
    claim = store.claim("minsu", "r1")
    store.save(Turn("minsu", "r1", "안녕?", "안녕하세요!", created_at=claim.created_at))
    page = store.page("minsu", limit=20)          # newest first, page.cursor for more
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .config import Settings
from .schema import HISTORY_TABLE

__all__ = ["Claim", "HistoryStore", "InvalidCursor", "Page", "Turn"]

TURN = "T#"
MARKER = "R#"
PART = "P#"
#: Bytes of answer text per item; DynamoDB's limit is 400 KB for the whole item.
PART_BYTES = 350_000
#: A claimed request whose turn never arrived (a crashed worker) may be retried after this.
STALE_CLAIM_SECONDS = 15 * 60

_PK, _SK, _TTL = HISTORY_TABLE.partition_key, HISTORY_TABLE.sort_key, HISTORY_TABLE.ttl_attribute
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class InvalidCursor(ValueError):
    """A cursor that was tampered with, is malformed, or belongs to another user."""


def nfc(text: str) -> str:
    """Korean text is stored NFC-normalised so equal strings are equal bytes."""
    return unicodedata.normalize("NFC", text)


def utc_timestamp(epoch: float) -> str:
    """``2026-11-26T05:58:01.123Z`` — sortable, millisecond precision."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Turn:
    """One question and its answer, with how it ended."""

    user_id: str
    request_id: str
    question: str
    answer: str = ""
    status: str = "completed"
    created_at: str = ""
    model_id: str = ""
    stop_reason: str | None = None
    error_code: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, int | None] = field(default_factory=dict)

    @property
    def sort_key(self) -> str:
        return f"{TURN}{self.created_at}#{self.request_id}"

    def to_public(self) -> dict[str, Any]:
        """The turn as the ``/history`` route and notebooks show it (no user id)."""
        data = asdict(self)
        data.pop("user_id")
        return data


@dataclass
class Page:
    items: list[Turn]
    cursor: str | None


@dataclass
class Claim:
    """The outcome of claiming a request id.

    ``fresh``: go ahead and answer. ``existing``: it was answered before (replay it).
    ``in_progress``: another worker is answering it right now.
    """

    created_at: str
    existing: Turn | None = None
    in_progress: bool = False

    @property
    def fresh(self) -> bool:
        return self.existing is None and not self.in_progress


def split_utf8(text: str, max_bytes: int) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes, never inside a
    character; ``"".join(pieces) == text``."""
    data = text.encode("utf-8")
    pieces, start = [], 0
    while start < len(data):
        end = min(start + max_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # continuation byte
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces or [""]


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(v) for k, v in data.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserialize(v)) for k, v in item.items()}


class HistoryStore:
    """DynamoDB history of every user's turns (see the module docs for the item layout).

    ``client`` is a boto3 ``dynamodb`` client (injected, so tests and the local stack use
    the very same code path as AWS); ``cursor_secret`` signs pagination cursors so a
    cursor is opaque and valid only for the user it was issued to.
    """

    def __init__(
        self,
        table_name: str,
        client: Any,
        *,
        cursor_secret: str,
        ttl_days: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.client = client
        self._secret = cursor_secret.encode()
        self._ttl_seconds = ttl_days * 86400
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> HistoryStore:
        from .aws_clients import dynamodb_client

        return cls(
            settings.table_name,
            dynamodb_client(settings),
            cursor_secret=settings.auth_secret,
            ttl_days=settings.ttl_days,
        )

    # -- writes ---------------------------------------------------------------------

    def claim(self, user_id: str, request_id: str) -> Claim:
        """Claim ``request_id`` for ``user_id`` with a conditional put (exactly once)."""
        put = self.claim_put(user_id, request_id)
        try:
            self.client.put_item(**put)
        except self.client.exceptions.ConditionalCheckFailedException as err:
            return self.claimed(put, err.response.get("Item") or {})
        return self.claimed(put)

    def claim_put(self, user_id: str, request_id: str) -> dict[str, Any]:
        """The conditional put that claims ``request_id``: ``put_item(**put)``, or a ``Put``
        in a ``TransactWriteItems`` (the Lambda backend claims along with its admission
        checks). It wins over no marker, an expired one, or a claim gone stale (a crashed
        worker); else it fails and returns the marker found (``ALL_OLD``)."""
        now = self._clock()
        marker = {
            _PK: user_id,
            _SK: MARKER + request_id,
            "created_at": utc_timestamp(now),
            "claimed_at": Decimal(str(round(now, 3))),
            "state": "pending",
            # Tells our own marker apart: when the put's response is lost, botocore's
            # retry fails its condition on the marker the first attempt wrote.
            "claim_id": uuid.uuid4().hex,
            _TTL: self._expiry(now),
        }
        return {
            "TableName": self.table_name,
            "Item": _to_item(marker),
            "ConditionExpression": "attribute_not_exists(#sk) OR #ttl <= :now"
            " OR (#state = :pending AND #claimed < :stale)",
            "ExpressionAttributeNames": {
                "#sk": _SK,
                "#ttl": _TTL,
                "#state": "state",
                "#claimed": "claimed_at",
            },
            "ExpressionAttributeValues": _to_item(
                {":now": int(now), ":pending": "pending", ":stale": int(now) - STALE_CLAIM_SECONDS}
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def claimed(self, put: dict[str, Any], found: dict[str, Any] | None = None) -> Claim:
        """The outcome of the claim ``put``: won when it succeeded (``found`` None), else
        decided by the marker ``found`` in its place (DynamoDB JSON): the stored turn to
        replay, or in progress."""
        mine = _from_item(put["Item"])
        if found is None:
            return Claim(mine["created_at"])
        marker = _from_item(found)
        if marker.get("claim_id") == mine["claim_id"]:
            return Claim(mine["created_at"])
        created_at = marker.get("created_at", mine["created_at"])
        request_id = mine[_SK].removeprefix(MARKER)
        if marker.get("state") == "done":
            turn = self._get_turn(mine[_PK], f"{TURN}{created_at}#{request_id}")
            if turn is not None:
                return Claim(created_at, existing=turn)
        return Claim(created_at, in_progress=True)

    def save(self, turn: Turn) -> None:
        """Store a finished turn (any status). Saving the same turn again is harmless."""
        turn.question, turn.answer, turn.user_id = (
            nfc(turn.question),
            nfc(turn.answer),
            nfc(turn.user_id),
        )
        now = self._clock()
        if not turn.created_at:
            turn.created_at = utc_timestamp(now)
        parts = split_utf8(turn.answer, PART_BYTES)
        data = asdict(turn)
        if len(parts) > 1:
            for index, text in enumerate(parts):
                self.client.put_item(
                    TableName=self.table_name,
                    Item=_to_item(
                        {
                            _PK: turn.user_id,
                            _SK: self._part_key(turn, index),
                            "text": text,
                            _TTL: self._expiry(now),
                        }
                    ),
                )
            data["answer"], data["parts"] = "", len(parts)
        data.update({_SK: turn.sort_key, _TTL: self._expiry(now)})
        self.client.put_item(TableName=self.table_name, Item=_to_item(data))
        self.client.put_item(
            TableName=self.table_name,
            Item=_to_item(
                {
                    _PK: turn.user_id,
                    _SK: MARKER + turn.request_id,
                    "created_at": turn.created_at,
                    "state": "done",
                    _TTL: self._expiry(now),
                }
            ),
        )

    def clear(self, user_id: str) -> int:
        """Delete every item of ``user_id`` (turns, markers, parts); returns turns removed."""
        items = self._query(user_id, None, {}, include_expired=True)
        keys = [{_PK: user_id, _SK: item[_SK]} for item in items]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": _to_item(k)}} for k in keys[start : start + 25]]
            pending = {self.table_name: requests}
            while pending:
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
        return sum(1 for k in keys if k[_SK].startswith(TURN))

    # -- reads ----------------------------------------------------------------------

    def get(self, user_id: str, request_id: str) -> Turn | None:
        """The stored turn of ``request_id``, or None."""
        marker = self._get(user_id, MARKER + request_id)
        if not marker or marker.get("state") != "done":
            return None
        return self._get_turn(user_id, f"{TURN}{marker['created_at']}#{request_id}")

    def recent(self, user_id: str, limit: int = 50) -> list[Turn]:
        """The newest ``limit`` turns, newest first (one Query unless answers are split)."""
        return self.page(user_id, limit=limit).items

    def count_turns(self, user_id: str) -> int:
        """How many live turns ``user_id`` has (reads keys only; for the history cap)."""
        return sum(1 for _ in self._query(user_id, TURN, {"ProjectionExpression": "#sk"}))

    def page(self, user_id: str, limit: int = 20, cursor: str | None = None) -> Page:
        """A page of turns, newest first; ``Page.cursor`` fetches the next (older) page."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        start = self._decode_cursor(user_id, cursor) if cursor else None
        items = list(self._query(user_id, TURN, {}, start_sk=start, want=limit + 1))
        more = len(items) > limit
        items = items[:limit]
        turns = [self._turn_from_item(item) for item in items]
        next_cursor = self._encode_cursor(user_id, items[-1][_SK]) if more else None
        return Page(turns, next_cursor)

    # -- internals --------------------------------------------------------------------

    def _expiry(self, now: float) -> int:
        return int(now) + self._ttl_seconds

    def _part_key(self, turn: Turn, index: int) -> str:
        return f"{PART}{turn.created_at}#{turn.request_id}#{index:05d}"

    def _get(self, user_id: str, sort_key: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_to_item({_PK: user_id, _SK: sort_key}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        data = _from_item(item)
        return None if self._expired(data) else data

    def _get_turn(self, user_id: str, sort_key: str) -> Turn | None:
        data = self._get(user_id, sort_key)
        return self._turn_from_item(data) if data else None

    def _expired(self, data: dict[str, Any]) -> bool:
        expiry = data.get(_TTL)
        return expiry is not None and expiry <= self._clock()

    def _query(
        self,
        user_id: str,
        prefix: str | None,
        extra: dict[str, Any],
        *,
        start_sk: str | None = None,
        want: int | None = None,
        newest_first: bool = True,
        include_expired: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Items whose sort key starts with ``prefix`` (None: all of the user's items),
        TTL-expired ones filtered out unless ``include_expired`` (DynamoDB deletes them
        late, moto never does)."""
        names = {"#pk": _PK}
        values: dict[str, Any] = {":pk": user_id}
        condition = "#pk = :pk"
        if prefix:
            condition += " AND begins_with(#sk, :prefix)"
            names["#sk"], values[":prefix"] = _SK, prefix
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _to_item(values),
            "ScanIndexForward": not newest_first,
            **extra,
        }
        if not include_expired:
            kwargs["FilterExpression"] = "attribute_not_exists(#ttl) OR #ttl > :now"
            names["#ttl"], values[":now"] = _TTL, int(self._clock())
            kwargs["ExpressionAttributeValues"] = _to_item(values)
        if start_sk:
            kwargs["ExclusiveStartKey"] = _to_item({_PK: user_id, _SK: start_sk})
        yielded = 0
        while True:
            if want is not None:
                kwargs["Limit"] = want - yielded
            response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                yield _from_item(item)
                yielded += 1
            last = response.get("LastEvaluatedKey")
            if not last or (want is not None and yielded >= want):
                return
            kwargs["ExclusiveStartKey"] = last

    def _turn_from_item(self, data: dict[str, Any]) -> Turn:
        parts = data.get("parts")
        if parts:
            prefix = f"{PART}{data['created_at']}#{data['request_id']}#"
            texts = [
                p["text"]
                for p in self._query(
                    data[_PK], prefix, {"ConsistentRead": True}, newest_first=False
                )
            ]
            if len(texts) != parts:
                raise RuntimeError(f"answer of {data['request_id']} has missing parts")
            data["answer"] = "".join(texts)
        names = Turn.__dataclass_fields__
        return Turn(**{k: v for k, v in data.items() if k in names})

    def _mac(self, user_id: str, sort_key: str) -> str:
        digest = hmac.new(self._secret, f"{user_id}\n{sort_key}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:16]).decode().rstrip("=")

    def _encode_cursor(self, user_id: str, sort_key: str) -> str:
        payload = base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(user_id, sort_key)}"

    def _decode_cursor(self, user_id: str, cursor: str) -> str:
        try:
            payload, mac = cursor.split(".", 1)
            sort_key = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidCursor("malformed cursor") from None
        if not sort_key.startswith(TURN) or not hmac.compare_digest(
            mac, self._mac(user_id, sort_key)
        ):
            raise InvalidCursor("cursor is not valid for this user")
        return sort_key
