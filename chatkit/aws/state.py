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
    state.open_connection("minsu", "conn-2", cap=10)              # True: under the cap

A frame on a connection is charged and checked in one ``TransactWriteItems`` — both rate
buckets, the revocation mark; for a chat also the turn counter, a generation lease and the
history claim — so a chat reaches the model after at most two round trips: the binding's
read (none when this container saw the connection before) and that transaction::

    limits = Limits(Bucket.per_minute(30, 30), Bucket.per_minute(60, 60))
    state.charge("conn-1", identity, limits).refused                 # None: go ahead
    ask = Generation("r1", slots=1, lease_seconds=360, max_turns=20_000,
                     turn_seconds=30 * 86400, claim=history.claim_put("minsu", "r1"))
    verdict = state.admit("conn-1", identity, limits, ask)   # .slot held, or .refused
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..auth import Identity
from ..ratelimit import Bucket, idle, take
from ..schema import STATE_TABLE

__all__ = ["Generation", "Limits", "StateStore", "Verdict"]

_PK, _TTL = STATE_TABLE.partition_key, STATE_TABLE.ttl_attribute
#: API Gateway closes a WebSocket after 2 hours; bindings never need to outlive that.
CONNECTION_SECONDS = 2 * 3600
STOP_SECONDS = 3600
#: A revocation must outlive every token issued before it: Cognito access tokens live at
#: most a day, demo tokens 12 hours.
REVOCATION_SECONDS = 2 * 86400
_CACHE_SIZE = 1024
#: Optimistic-concurrency attempts (a connection's open list; an admission whose guess of
#: a bucket's state was wrong or that met a conflicting transaction) before giving up.
_TAKE_ATTEMPTS = 5
#: Cancellation reasons worth another attempt (DynamoDB's codes, not a condition's).
_TRANSIENT = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


@dataclass(frozen=True)
class Limits:
    """The rate buckets a frame is charged to: its connection's and its user's."""

    connection: Bucket
    user: Bucket


@dataclass(frozen=True)
class Generation:
    """What a chat asks for besides the charge: one of ``slots`` generation leases for
    ``request_id``, a turn under ``max_turns``, and the history ``claim`` (a conditional
    put, :meth:`chatkit.history.HistoryStore.claim_put`)."""

    request_id: str
    slots: int
    lease_seconds: int
    max_turns: int
    turn_seconds: int
    claim: dict[str, Any]


@dataclass
class Verdict:
    """How an admission ended. ``refused``: ``gone`` (no binding), ``rate_limited`` (with
    ``retry_after`` seconds), ``revoked``, ``history_full`` (the counter is at the cap:
    nothing charged, recount), ``busy`` (charged). Else ``slot`` is the lease now held —
    or ``taken`` is the marker of an earlier claim of the request id (charged, no lease)."""

    refused: str | None = None
    retry_after: float = 0.0
    slot: int | None = None
    taken: dict[str, Any] | None = None


class StateStore:
    """Connection bindings and stop flags, each item expiring by TTL."""

    def __init__(
        self, table_name: str, client: Any, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self.client = client
        self._clock = clock
        self._bound: OrderedDict[str, Identity] = OrderedDict()  # warm-container cache
        # Rate buckets' due times as last seen here: lower bounds, for due times only grow.
        self._dues: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def bind(self, connection_id: str, identity: Identity) -> None:
        """Remember who opened ``connection_id`` (and until when their token is valid), in
        the table and here: a container that also runs the connection's frames (``chatkit
        serve``'s workers run every route) then reads no binding before the first chat."""
        self._put(
            f"conn#{connection_id}",
            CONNECTION_SECONDS,
            user_id=identity.user_id,
            token_expires_at={"N": repr(float(identity.expires_at))},
            token_issued_at={"N": repr(float(identity.issued_at))},
            token_id=identity.token_id,
        )
        with self._lock:
            _remember(self._bound, connection_id, identity)

    def identity_of(self, connection_id: str) -> Identity | None:
        """The identity bound at ``$connect`` (cached: a binding never changes)."""
        if (known := self._bound.get(connection_id)) is not None:
            return known
        item = self._get(f"conn#{connection_id}")
        if item is None:
            return None
        identity = Identity(
            item["user_id"]["S"],
            float(item["token_expires_at"]["N"]),
            float(item["token_issued_at"]["N"]),
            item.get("token_id", {}).get("S", ""),
        )
        names = ("due", "user_due")
        for key, name in zip(_keys(connection_id, identity.user_id), names, strict=True):
            self._note(key, _due(item, name))
        with self._lock:
            _remember(self._bound, connection_id, identity)
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

    def charge(self, connection_id: str, identity: Identity, limits: Limits) -> Verdict:
        """Charge one frame to its connection's and its user's rate buckets unless the
        sign-in was revoked or the binding is gone: one transaction, none when this
        container's own record proves the frame rate limited."""
        return self._transact(connection_id, identity, limits, None)

    def admit(
        self, connection_id: str, identity: Identity, limits: Limits, generation: Generation
    ) -> Verdict:
        """:meth:`charge`, and count a turn, take a generation lease and claim the request
        — all or nothing, in the same transaction."""
        return self._transact(connection_id, identity, limits, generation)

    def limited(self, connection_id: str, user_id: str, limits: Limits) -> Verdict:
        """``rate_limited`` if what this container saw of the buckets proves it (due
        times only grow), without a call; else an empty verdict."""
        ms = round(self._clock() * 1000)
        for key, bucket in zip(_keys(connection_id, user_id), _buckets(limits), strict=True):
            decision = take(bucket, self._known(key), ms)
            if not decision.allowed:
                return Verdict("rate_limited", decision.retry_after)
        return Verdict()

    def _transact(
        self, connection_id: str, identity: Identity, limits: Limits, ask: Generation | None
    ) -> Verdict:
        user, slot = identity.user_id, 0
        keys = _keys(connection_id, user)
        for attempt in range(_TAKE_ATTEMPTS):
            if (limited := self.limited(connection_id, user, limits)).refused:
                return limited
            now = self._clock()
            ms = round(now * 1000)
            known = [self._known(key) for key in keys]
            items = [
                self._connection_take(connection_id, user, limits, known, ms),
                self._update(
                    f"rate#user#{user}",
                    *_take(limits.user, known[1], ms),
                    **{_TTL: {"N": str(int(now) + math.ceil(limits.user.seconds_to_full) + 60)}},
                ),
                self._not_revoked(identity, int(now)),
            ]
            if ask is not None:
                items += [self._count_turn(user, ask, int(now)), self._lease(user, ask, slot, now)]
                items.append({"Put": ask.claim})
            try:
                self.client.transact_write_items(TransactItems=items)
            except self.client.exceptions.TransactionCanceledException as err:
                reasons = [_Reason(r) for r in err.response.get("CancellationReasons", [])]
                if any(r.code in _TRANSIENT for r in reasons):
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))  # full jitter
                    continue
                if len(reasons) != len(items) or any(r.code not in _KNOWN for r in reasons):
                    raise
                if reasons[0].failed and reasons[0].value("user_id") != user:
                    self._forget(connection_id)
                    return Verdict("gone")
                if reasons[0].failed or reasons[1].failed:
                    for key, reason in zip(keys, reasons, strict=False):
                        if reason.failed:  # what the bucket holds now, exactly
                            self._note(key, _due(reason.item, "due"), exact=True)
                    continue  # decide again
                if reasons[2].failed:
                    return Verdict("revoked")
                if ask is None:
                    raise  # a charge has nothing else to fail
                if reasons[3].failed:
                    return Verdict("history_full")
                if reasons[4].failed and slot + 1 < ask.slots:
                    slot += 1
                    continue
                refused = Verdict("busy") if reasons[4].failed else Verdict(taken=reasons[5].item)
                charged = self.charge(connection_id, identity, limits)
                return charged if charged.refused else refused
            for key, bucket, due in zip(keys, _buckets(limits), known, strict=True):
                self._note(key, take(bucket, due, ms).due)
            return Verdict(slot=slot if ask else None)
        return Verdict("rate_limited", 1.0)  # contended: back off a bit

    def _connection_take(
        self, connection_id: str, user: str, limits: Limits, known: list[int | None], ms: int
    ) -> dict[str, Any]:
        """The connection's bucket lives on its binding, with what this frame leaves of the
        user's bucket (at least): a container that reads the binding learns both."""
        condition, value, values = _take(limits.connection, known[0], ms)
        return self._update(
            f"conn#{connection_id}",
            f"#user_id = :user AND {condition}",
            value,
            {**values, ":user": {"S": user}},
            user_due={"N": str(take(limits.user, known[1], ms).due)},
        )

    def _update(
        self, key: str, condition: str, value: str, values: dict[str, Any], **also: Any
    ) -> dict[str, Any]:
        """A transaction's update of ``key``'s bucket ``due`` to ``value`` if ``condition``
        (which may name ``#user_id``), setting the attributes ``also`` alongside."""
        names = {f"#{n}": n for n in ("due", *also)}
        if "#user_id" in condition:
            names["#user_id"] = "user_id"
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {_PK: {"S": key}},
                "UpdateExpression": "SET "
                + ", ".join([f"#due = {value}"] + [f"#{n} = :{n}" for n in also]),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values | {f":{n}": v for n, v in also.items()},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _not_revoked(self, identity: Identity, now: int) -> dict[str, Any]:
        """The check that ``identity``'s sign-in was not revoked (:meth:`revoked`)."""
        condition = "(attribute_not_exists(#before) OR #before < :issued)"
        names = {"#ttl": _TTL, "#before": "before"}
        values = {":now": {"N": str(now)}, ":issued": {"N": repr(float(identity.issued_at))}}
        if identity.token_id:
            condition += " AND NOT contains(#sign_ins, :sign_in)"
            names["#sign_ins"], values[":sign_in"] = "sign_ins", {"S": identity.token_id}
        return {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": {_PK: {"S": f"revoked#{identity.user_id}"}},
                "ConditionExpression": f"attribute_not_exists(#ttl) OR #ttl <= :now OR {condition}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _count_turn(self, user_id: str, ask: Generation, now: int) -> dict[str, Any]:
        """One more turn on ``user_id``'s counter unless it is at the cap. The counter only
        grows (a reset or TTL does not lower it): :meth:`set_turn_count` corrects it."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {_PK: {"S": f"turns#{user_id}"}},
                "UpdateExpression": "ADD #n :one SET #ttl = :ttl",
                "ConditionExpression": "attribute_not_exists(#n) OR #n < :cap",
                "ExpressionAttributeNames": {"#n": "count", "#ttl": _TTL},
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":cap": {"N": str(ask.max_turns)},
                    ":ttl": {"N": str(now + ask.turn_seconds)},
                },
            }
        }

    def _lease(self, user_id: str, ask: Generation, slot: int, now: float) -> dict[str, Any]:
        """Generation slot ``slot`` for the request until released or ``lease_seconds``
        pass (a crashed Lambda never releases); the same request id may take its own slot
        again (a redelivery)."""
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": self._item(
                    f"gen#{user_id}#{slot}",
                    ask.lease_seconds,
                    {"request_id": {"S": ask.request_id}},
                ),
                "ConditionExpression": "attribute_not_exists(#ttl) OR #ttl <= :now"
                " OR request_id = :rid",
                "ExpressionAttributeNames": {"#ttl": _TTL},
                "ExpressionAttributeValues": {
                    ":now": {"N": str(int(now))},
                    ":rid": {"S": ask.request_id},
                },
            }
        }

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

    def set_turn_count(self, user_id: str, count: int, seconds: int) -> None:
        """Correct the counter from a real count of the user's stored turns."""
        self._put(f"turns#{user_id}", seconds, count={"N": str(count)})

    # -- this container's records --------------------------------------------------

    def _known(self, key: str) -> int | None:
        with self._lock:
            return self._dues.get(key)

    def _note(self, key: str, due: int | None, *, exact: bool = False) -> None:
        """Remember that bucket ``key`` is due at least at ``due`` (``exact``: at ``due``,
        as a failed condition returned it; None: full)."""
        with self._lock:
            if due is None:
                if exact:
                    self._dues.pop(key, None)
            else:
                _remember(self._dues, key, due if exact else max(due, self._dues.get(key, due)))

    def _forget(self, connection_id: str) -> None:
        with self._lock:
            self._bound.pop(connection_id, None)
            self._dues.pop(f"conn#{connection_id}", None)

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


_FAILED = "ConditionalCheckFailed"
_KNOWN = {"None", _FAILED}


class _Reason:
    """One entry of a cancelled transaction's ``CancellationReasons`` (in item order)."""

    def __init__(self, reason: dict[str, Any]) -> None:
        self.code = reason.get("Code") or "None"
        self.item: dict[str, Any] = reason.get("Item") or {}

    @property
    def failed(self) -> bool:
        return self.code == _FAILED

    def value(self, name: str) -> str | None:
        return self.item.get(name, {}).get("S")


def _keys(connection_id: str, user_id: str) -> tuple[str, str]:
    """The names this container records the connection's and the user's buckets under."""
    return f"conn#{connection_id}", f"user#{user_id}"


def _buckets(limits: Limits) -> tuple[Bucket, Bucket]:
    return limits.connection, limits.user


def _take(bucket: Bucket, due: int | None, now: int) -> tuple[str, str, dict[str, Any]]:
    """The condition, the new ``due`` and their values for taking one token from a bucket
    due at least at ``due``: a full one restarts from now, a busy one moves one interval
    on (:func:`chatkit.ratelimit.idle`). A wrong guess fails the condition, not the limit."""
    if idle(due, now):
        condition, value = "(attribute_not_exists(#due) OR #due <= :now)", ":next"
        values = {":next": {"N": str(now + bucket.interval_ms)}}
    else:
        condition, value = "(#due > :now AND #due <= :limit)", "#due + :step"
        values = {
            ":limit": {"N": str(now + bucket.tolerance_ms)},
            ":step": {"N": str(bucket.interval_ms)},
        }
    return condition, value, {":now": {"N": str(now)}, **values}


def _due(item: dict[str, Any] | None, name: str) -> int | None:
    value = (item or {}).get(name, {}).get("N")
    return int(value) if value is not None else None


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
