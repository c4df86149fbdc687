from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatkit.auth import MAX_USER_ID_CHARS, DemoTokens, validate_user_id
from chatkit.config import Settings
from chatkit.errors import ChatError
from chatkit.session import ChatSession


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_issue_and_verify_round_trip_korean_user():
    tokens = DemoTokens("secret")
    token, identity = tokens.issue("민수")
    assert tokens.verify(token).user_id == "민수" == identity.user_id


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: t.replace("demo1.", "demo2."),  # version
        lambda t: "",
        lambda t: None,
        lambda t: "a.b",
    ],
)
def test_tampered_tokens_are_unauthorized(mangle):
    tokens = DemoTokens("secret")
    token, _ = tokens.issue("alice")
    with pytest.raises(ChatError) as info:
        tokens.verify(mangle(token))
    assert info.value.code.value == "unauthorized"


def test_a_token_for_alice_cannot_be_edited_into_bob():
    tokens = DemoTokens("secret")
    alice, _ = tokens.issue("alice")
    bob, _ = tokens.issue("bob")
    forged = ".".join([alice.split(".")[0], bob.split(".")[1], alice.split(".")[2]])
    with pytest.raises(ChatError):
        tokens.verify(forged)


def test_other_secret_rejects():
    token, _ = DemoTokens("one").issue("alice")
    with pytest.raises(ChatError):
        DemoTokens("two").verify(token)


def test_expired_token_is_refused_with_a_hint():
    clock = Clock()
    tokens = DemoTokens("secret", ttl=60, clock=clock)
    token, _ = tokens.issue("alice")
    clock.now += 61
    with pytest.raises(ChatError, match="만료"):
        tokens.verify(token)


@pytest.mark.parametrize("bad", ["", "   ", "#admin", "a" * 65, "tab\there", None, 42])
def test_user_ids_are_validated(bad):
    with pytest.raises(ChatError):
        validate_user_id(bad)


def test_user_id_is_nfc():
    assert validate_user_id("\u1100\u1161") == "가"


def test_issued_at_is_floored_so_a_revocation_later_that_second_covers_the_token():
    clock = Clock()
    clock.now = 1_000_000.6
    _, identity = DemoTokens("secret", clock=clock).issue("alice")
    # chatkit revoke stores int(now) as `before` and refuses iat <= before (JWT iat is floored too)
    assert identity.issued_at == 1_000_000


def _signed(tokens: DemoTokens, payload: str) -> str:
    """A demo token carrying exactly ``payload`` (JSON text), signed with the real secret."""
    from chatkit.auth import _b64

    body = _b64(payload.encode())
    return f"demo1.{body}.{tokens._sign(body)}"


@pytest.mark.parametrize(
    "claims",
    [
        '"exp": NaN, "iat": 1000000',
        '"exp": Infinity, "iat": 1000000',
        '"exp": 1e999, "iat": 1000000',
        '"exp": 1000060.5, "iat": 1000000',
        '"exp": "1000060", "iat": 1000000',
        '"exp": true, "iat": 1000000',
        '"exp": 1000060',  # no iat
        '"exp": 99999999999, "iat": 99999999000',  # issued in the future: outlives revocations
        '"exp": 99999999999, "iat": 1000000',  # valid for millennia
        '"exp": 1000060, "iat": -5',
    ],
)
def test_signed_tokens_with_insane_times_are_refused(claims):
    tokens = DemoTokens("secret", clock=Clock())
    with pytest.raises(ChatError) as info:
        tokens.verify(_signed(tokens, '{"sub": "alice", ' + claims + "}"))
    assert info.value.code.value == "unauthorized"


def test_sane_integer_times_are_accepted_and_tokens_name_their_sign_in():
    tokens = DemoTokens("secret", clock=Clock())
    identity = tokens.verify(_signed(tokens, '{"sub": "alice", "exp": 1000060, "iat": 1000000}'))
    assert (identity.expires_at, identity.issued_at, identity.token_id) == (1000060, 1000000, "")
    token, issued = tokens.issue("alice")
    _, second = tokens.issue("alice")
    assert tokens.verify(token).token_id == issued.token_id != second.token_id != ""


@pytest.mark.parametrize("user_id", ["a" * (MAX_USER_ID_CHARS + 1), "#admin", "tab\there"])
async def test_the_session_refuses_the_user_ids_sign_in_refuses(user_id):
    with pytest.raises(ChatError) as sign_in:
        validate_user_id(user_id)
    session = ChatSession(Settings(), model=object(), history=object())  # refused before use
    events = [e async for e in session.astream(user_id, "안녕", "r1")]
    assert [(e.type, e.code, e.message) for e in events] == [
        ("error", "bad_request", sign_in.value.message)
    ]


def test_the_longest_user_id_is_accepted_and_its_maximum_has_one_home():
    assert validate_user_id("가" * MAX_USER_ID_CHARS) == "가" * MAX_USER_ID_CHARS
    root = Path(__file__).resolve().parents[2]
    defined = [
        str(path.relative_to(root))
        for path in sorted(root.glob("chatkit/**/*.py"))
        if re.search(r"^MAX_USER_ID_CHARS\s*=", path.read_text(encoding="utf-8"), re.M)
    ]
    assert defined == ["chatkit/auth.py"]
