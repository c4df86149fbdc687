"""Short-lived backend state in DynamoDB: connection → identity bindings, stop requests,
revocations, and the abuse limits (rate buckets, generation leases, turn counters).

A ``stop`` arrives in a different Lambda invocation than the ``chat`` it stops, and a
user's requests may run in many containers at once, so they all meet here::

    state = StateStore("chatkit-state", dynamodb_client(settings))
    state.bind("conn-1", Identity("minsu", expires_at=time.time() + 3600))
    state.identity_of("conn-1").user_id                               # 'minsu'
    state.revoke("minsu")       # tokens issued until now are refused, open sockets closed
    state.sign_out(identity)    # every token of this one sign-in is refused
    state.request_stop("minsu", "r1")
    assert state.stop_requested("minsu", "r1")
    state.take("user#minsu", Bucket.per_minute(60, 60)).allowed   # True
    state.open_connection("minsu", "conn-2", cap=10)              # True: under the cap
    slot = state.acquire_lease("minsu", "r1", slots=1, seconds=360)  # 0, or None: busy
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..auth import Identity
from ..ratelimit import Bucket, Decision, Level, take
from ..schema import STATE_TABLE

__all__ = ["StateStore"]

_PK, _TTL = STATE_TABLE.partition_key, STATE_TABLE.ttl_attribute
#: API Gateway closes a WebSocket after 2 hours; bindings never need to outlive that.
CONNECTION_SECONDS = 2 * 3600
STOP_SECONDS = 3600
#: A revocation must outlive every token issued before it: Cognito access tokens live at
#: most a day, demo tokens 12 hours.
REVOCATION_SECONDS = 2 * 86400
_CACHE_SIZE = 1024
#: Optimistic-concurrency attempts on one rate bucket before calling it contended.
_TAKE_ATTEMPTS = 5


class StateStore:
    """Connection bindings and stop flags, each item expiring by TTL."""

    def __init__(
        self, table_name: str, client: Any, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self.client = client
        self._clock = clock
        self._bound: OrderedDict[str, Identity] = OrderedDict()  # warm-container cache

    def bind(self, connection_id: str, identity: Identity) -> None:
        """Remember who opened ``connection_id`` (and until when their token is valid)."""
        self._put(
            f"conn#{connection_id}",
            CONNECTION_SECONDS,
            user_id=identity.user_id,
            token_expires_at={"N": repr(float(identity.expires_at))},
            token_issued_at={"N": repr(float(identity.issued_at))},
            token_id=identity.token_id,
        )

    def identity_of(self, connection_id: str) -> Identity | None:
        """The identity bound at ``$connect`` (cached: a binding never changes)."""
        if connection_id in self._bound:
            return self._bound[connection_id]
        item = self._get(f"conn#{connection_id}")
        if item is None:
            return None
        identity = Identity(
            item["user_id"]["S"],
            float(item["token_expires_at"]["N"]),
            float(item["token_issued_at"]["N"]),
            item.get("token_id", {}).get("S", ""),
        )
        self._bound[connection_id] = identity
        while len(self._bound) > _CACHE_SIZE:
            self._bound.popitem(last=False)
        return identity

    def open_connection(self, user_id: str, connection_id: str, cap: int) -> bool:
        """Count ``connection_id`` among ``user_id``'s open connections unless ``cap`` are
        open already (False). A connection counts until its lifetime is over or, once the
        cap is reached, until its binding is found gone (``$disconnect`` deletes it)."""
        key = f"conns#{user_id}"
        for _ in range(_TAKE_ATTEMPTS):
            now = int(self._clock())
            item = self._get(key)
            listed = (item or {}).get("open", {}).get("M", {}).items()
            counted = {cid: int(until["N"]) for cid, until in listed if int(until["N"]) > now}
            if len(counted) >= cap:  # the only case that pays a read per connection
                counted = {cid: t for cid, t in counted.items() if self._get(f"conn#{cid}")}
                if len(counted) >= cap:
                    return False
            counted[connection_id] = now + CONNECTION_SECONDS
            if self._put_if(
                key,
                CONNECTION_SECONDS,
                "#at = :at" if item else "attribute_not_exists(#at) OR #ttl <= :now",
                {":now": {"N": str(now)}, ":at": item["at"] if item else None},
                open={"M": {cid: {"N": str(until)} for cid, until in counted.items()}},
                at={"S": secrets.token_hex(8)},  # a new version for the next writer's check
            ):
                return True
        return False

    def unbind(self, connection_id: str) -> None:
        self._bound.pop(connection_id, None)
        self.client.delete_item(
            TableName=self.table_name, Key={_PK: {"S": f"conn#{connection_id}"}}
        )

    def revoke(self, user_id: str) -> None:
        """Sign ``user_id`` out everywhere: tokens issued until now no longer count."""
        self._revoke(user_id, "SET #v = :v, #ttl = :ttl", "before", {"N": str(int(self._clock()))})

    def sign_out(self, identity: Identity) -> None:
        """Refuse every token of ``identity``'s sign-in (its ``token_id``) from now on; a
        token without one signs its user out everywhere (:meth:`revoke`)."""
        if not identity.token_id:
            self.revoke(identity.user_id)
            return
        self._revoke(
            identity.user_id, "ADD #v :v SET #ttl = :ttl", "sign_ins", {"SS": [identity.token_id]}
        )

    def revoked(self, identity: Identity) -> bool:
        """Whether ``identity``'s token was issued at or before its user's last revocation,
        or its sign-in was signed out (one read: both live in the user's item)."""
        item = self._get(f"revoked#{identity.user_id}")
        if item is None:
            return False
        before = item.get("before")
        signed_out = item.get("sign_ins", {}).get("SS", ())
        return (before is not None and identity.issued_at <= float(before["N"])) or bool(
            identity.token_id and identity.token_id in signed_out
        )

    def _revoke(self, user_id: str, expression: str, attribute: str, value: Any) -> None:
        """Update ``revoked#{user_id}``'s ``attribute`` (``#v``) with ``expression``, keeping
        the rest; the item lives :data:`REVOCATION_SECONDS` from now (longer than any token
        issued before it)."""
        self.client.update_item(
            TableName=self.table_name,
            Key={_PK: {"S": f"revoked#{user_id}"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#v": attribute, "#ttl": _TTL},
            ExpressionAttributeValues={
                ":v": value,
                ":ttl": {"N": str(int(self._clock()) + REVOCATION_SECONDS)},
            },
        )

    def request_stop(self, user_id: str, request_id: str) -> None:
        self._put(f"stop#{user_id}#{request_id}", STOP_SECONDS)

    def stop_requested(self, user_id: str, request_id: str) -> bool:
        return self._get(f"stop#{user_id}#{request_id}") is not None

    # -- abuse limits ------------------------------------------------------------------

    def take(self, key: str, bucket: Bucket) -> Decision:
        """Take one token from the bucket ``rate#{key}``, shared by every invocation: read,
        compute (:func:`chatkit.ratelimit.take`), write back only if nobody wrote since."""
        name = f"rate#{key}"
        for _ in range(_TAKE_ATTEMPTS):
            now = self._clock()
            item = self._get(name)
            level = Level(float(item["tokens"]["N"]), float(item["at"]["N"])) if item else None
            decision = take(bucket, level, now)
            if not decision.allowed:
                return decision
            unchanged = "#at = :at" if item else "attribute_not_exists(#at) OR #ttl <= :now"
            if self._put_if(
                name,
                math.ceil(bucket.seconds_to_full) + 60,
                unchanged,
                {":now": {"N": str(int(now))}, ":at": item["at"] if item else None},
                tokens={"N": repr(decision.level.tokens)},
                at={"N": repr(decision.level.at)},
            ):
                return decision
        return Decision(False, Level(0.0, self._clock()), 1.0)  # contended: back off a bit

    def acquire_lease(
        self, user_id: str, request_id: str, *, slots: int, seconds: int
    ) -> int | None:
        """Claim one of ``user_id``'s ``slots`` generation slots for ``request_id`` until
        released or ``seconds`` pass (a crashed Lambda never releases); None if all are
        held. The same request id may take its own slot again (a redelivery)."""
        now = str(int(self._clock()))
        for slot in range(slots):
            if self._put_if(
                f"gen#{user_id}#{slot}",
                seconds,
                "attribute_not_exists(#ttl) OR #ttl <= :now OR request_id = :rid",
                {":now": {"N": now}, ":rid": {"S": request_id}},
                request_id={"S": request_id},
            ):
                return slot
        return None

    def release_lease(self, user_id: str, slot: int, request_id: str) -> None:
        """Free ``slot`` if ``request_id`` still holds it (an expired lease may have passed
        to another request meanwhile)."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.delete_item(
                TableName=self.table_name,
                Key={_PK: {"S": f"gen#{user_id}#{slot}"}},
                ConditionExpression="request_id = :rid",
                ExpressionAttributeValues={":rid": {"S": request_id}},
            )

    def count_turn(self, user_id: str, seconds: int) -> int:
        """Add one to ``user_id``'s turn counter; returns the new count. The counter only
        ever grows (a reset or TTL does not lower it): see :meth:`set_turn_count`."""
        response = self.client.update_item(
            TableName=self.table_name,
            Key={_PK: {"S": f"turns#{user_id}"}},
            UpdateExpression="ADD #n :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#n": "count", "#ttl": _TTL},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":ttl": {"N": str(int(self._clock()) + seconds)},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["count"]["N"])

    def set_turn_count(self, user_id: str, count: int, seconds: int) -> None:
        """Correct the counter from a real count of the user's stored turns."""
        self._put(f"turns#{user_id}", seconds, count={"N": str(count)})

    # -- items ----------------------------------------------------------------------

    def _put_if(
        self, key: str, seconds: int, condition: str, values: dict[str, Any], **attrs: Any
    ) -> bool:
        """Conditional put of ``key``; ``#ttl``, ``#at`` and those of ``values`` that the
        ``condition`` uses are passed (DynamoDB refuses unused ones)."""
        names = {n: a for n, a in (("#ttl", _TTL), ("#at", "at")) if n in condition}
        values = {n: v for n, v in values.items() if n in condition}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._item(key, seconds, attrs),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _item(self, key: str, seconds: int, attrs: dict[str, Any]) -> dict[str, Any]:
        item = {_PK: {"S": key}, _TTL: {"N": str(int(self._clock()) + seconds)}}
        item.update(attrs)
        return item

    def _put(self, key: str, seconds: int, **values: Any) -> None:
        typed = {k: v if isinstance(v, dict) else {"S": v} for k, v in values.items()}
        self.client.put_item(TableName=self.table_name, Item=self._item(key, seconds, typed))

    def _get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={_PK: {"S": key}}, ConsistentRead=True
        ).get("Item")
        if not item or int(item[_TTL]["N"]) <= self._clock():
            return None
        return item
