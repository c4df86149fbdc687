"""The web client signing in with Amazon Cognito (``CHATKIT_AUTH=cognito``), in real Chromium.

`chatkit serve` runs the real handlers in Cognito mode against the offline stack; the user
pool is moto's cognito-idp in the stack's moto server (``chatkit.local.cognito``), which the
page calls directly with ``fetch`` as it would call Cognito. moto does not check SRP proofs
(any password passes ``USER_SRP_AUTH``): ``tests/unit/test_srp_js.py`` checks the math.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any

import pytest
from conftest import free_port
from test_web_client import Server, ask, bubble_text, wait_done

from chatkit.aws.state import StateStore
from chatkit.aws_clients import cognito_client, dynamodb_client
from chatkit.cognito import sign_out_everywhere
from chatkit.local.cognito import create_user_pool

pytestmark = pytest.mark.browser

WRONG = "아이디 또는 비밀번호가 올바르지 않습니다. (Incorrect username or password.)"
EXPIRED = "로그인이 만료되었습니다. 다시 로그인하세요."
RENEWED = "로그인을 갱신하고 다시 연결했습니다."
TARGET = "AWSCognitoIdentityProviderService."


@pytest.fixture(scope="module")
def cognito(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(server, settings, pool): `chatkit serve` in Cognito mode on the session's offline stack."""
    pool = create_user_pool(stack.dynamodb_url, stack.settings.region)
    settings = stack.settings.with_(
        auth="cognito",
        cognito_user_pool_id=pool.pool_id,
        cognito_client_id=pool.client_id,
        cognito_endpoint=stack.dynamodb_url,
    )
    log = tmp_path_factory.mktemp("serve-cognito") / "serve.log"
    server = Server(free_port(), secrets.token_hex(16), log, {**stack.env, **pool.env}).start()
    yield server, settings, pool
    server.stop()


@pytest.fixture
def page(chromium: Any, cognito: Any) -> Any:
    """A fresh page on the Cognito server; uncaught JS errors fail the test. ``page.cognito``
    lists the calls it made to Cognito, ``(action, body)``; ``page.sockets`` the WebSocket
    URLs it opened. Its clock runs normally until a test moves it (``page.clock``)."""
    server, settings, _ = cognito
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.cognito = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def record(request: Any) -> None:
        target = request.headers.get("x-amz-target", "")
        if request.url.startswith(settings.cognito_endpoint) and target.startswith(TARGET):
            page.cognito.append((target[len(TARGET) :], json.loads(request.post_data)))

    page.on("request", record)
    page.sockets = []
    page.on("websocket", lambda ws: page.sockets.append(ws.url))
    page.clock.install()
    page.goto(server.url + "/")
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def new_user(pool: Any) -> tuple[str, str, str]:
    """(username, password, sub) of a new confirmed user."""
    username, password = f"minsu-{uuid.uuid4().hex[:8]}", "Seoul-trip-2026!"
    return username, password, pool.add_user(username, password)


def sign_in(page: Any, username: str, password: str) -> None:
    page.fill("#user-id", username)
    page.fill("#password", password)
    page.click("#login-button")


def wait_ready(page: Any) -> None:
    """The chat screen with an open socket (a notice may be showing)."""
    page.wait_for_function(
        "!document.getElementById('chat-screen').hidden"
        " && !document.getElementById('send-button').disabled"
    )


def stored_session(page: Any) -> dict[str, Any]:
    return json.loads(page.evaluate("sessionStorage.getItem('chatkit.session')") or "null")


def token_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_sign_in_new_password_chat_reload_and_sign_out(cognito: Any, page: Any) -> None:
    server, settings, pool = cognito
    login = page.locator("#login-screen")
    assert "Amazon Cognito" in login.inner_text() and "데모 로그인" not in login.inner_text()

    # Unknown user: the same words as a wrong password (nobody learns who has an account).
    sign_in(page, f"nobody-{uuid.uuid4().hex[:6]}", "whatever-1A!")
    page.wait_for_function(f"document.getElementById('login-error').textContent === {WRONG!r}")

    # An admin-created user signs in with a temporary password, then must choose a new one.
    username = f"지수-{uuid.uuid4().hex[:6]}"
    cognito_client(settings).admin_create_user(
        UserPoolId=pool.pool_id, Username=username, TemporaryPassword="Temp-pass-1!"
    )
    sign_in(page, username, "Temp-pass-1!")
    page.wait_for_selector("#new-password", state="visible")
    assert page.is_hidden("#password")
    page.fill("#new-password", "New-pass-2026!")
    page.fill("#new-password-again", "New-pass-2026?")
    page.click("#login-button")
    page.wait_for_function(
        "document.getElementById('login-error').textContent.includes('다릅니다')"
    )
    page.fill("#new-password", "New-pass-2026!")
    page.fill("#new-password-again", "New-pass-2026!")
    page.click("#login-button")
    wait_ready(page)
    assert page.inner_text("#user-label") == username
    assert page.is_visible(".badge.secure") and page.is_hidden("text=데모 로그인")
    actions = [action for action, _ in page.cognito]
    assert actions[-3:] == ["InitiateAuth", "RespondToAuthChallenge", "RespondToAuthChallenge"]
    assert "Temp-pass-1!" not in json.dumps(page.cognito[-2][1])  # SRP: a proof, not the password

    session = stored_session(page)
    assert session["user_id"] == username and session["refresh_token"]
    claims = token_claims(session["token"])
    assert claims["token_use"] == "access" and claims["client_id"] == pool.client_id

    # A Korean question streams in and is stored under the user's sub.
    rid = ask(page, "!rate 40 서울 여행 추천해줘")
    page.wait_for_function(
        "rid => { const m = document.querySelector(`.msg.assistant[data-request-id='${rid}']`);"
        " return m.dataset.status === 'streaming' && m.textContent.length > 0; }",
        arg=rid,
    )
    assert wait_done(page, rid) == "completed"
    text = bubble_text(page, rid)
    assert text.startswith("[데모 모델") and "서울" in text
    (turn,) = server.history(session["token"])
    assert turn["request_id"] == rid and turn["answer"] == text

    # A reload keeps the session and shows the history.
    page.reload()
    wait_ready(page)
    page.wait_for_selector(f".msg.assistant[data-request-id='{rid}'][data-status=completed]")
    assert stored_session(page) == session

    # Five minutes before the access token expires the client refreshes it and moves to a
    # socket opened with the new token (the old one would be refused at expiry).
    page.clock.fast_forward("55:30")
    page.wait_for_function(
        "old => JSON.parse(sessionStorage.getItem('chatkit.session')).token !== old",
        arg=session["token"],
    )
    wait_ready(page)
    refreshed = stored_session(page)
    assert refreshed["refresh_token"] == session["refresh_token"]
    assert page.sockets[-1].endswith("token=" + refreshed["token"])
    rid = ask(page, "!rate 0 고마워요")
    assert wait_done(page, rid) == "completed"

    # Sign-out revokes the refresh token at Cognito, then forgets the session.
    page.click("#logout-button")
    page.wait_for_selector("#login-screen", state="visible")
    revoke = [body for action, body in page.cognito if action == "RevokeToken"]
    assert revoke == [{"Token": session["refresh_token"], "ClientId": pool.client_id}]
    assert stored_session(page) is None
    page.reload()
    page.wait_for_selector("#login-screen", state="visible")


def test_refused_token_refreshes_or_signs_in_again_keeping_the_question(
    cognito: Any, page: Any
) -> None:
    server, settings, pool = cognito
    username, password, sub = new_user(pool)
    sign_in(page, username, password)
    wait_ready(page)
    first = stored_session(page)
    assert token_claims(first["token"])["sub"] == sub
    state = StateStore(settings.state_table_name, dynamodb_client(settings))

    # Tokens issued so far are revoked: the open socket refuses the next question and closes.
    # The client refreshes (a new token, issued after the revocation), reconnects, and puts
    # the question back in the input; nothing was answered or stored.
    state.revoke(sub)
    time.sleep(1.1)  # a token issued in the same second as the revocation is refused too
    question = "!rate 0 부산 맛집 알려줘"
    page.fill("#input", question)
    page.press("#input", "Enter")
    page.wait_for_function(f"document.getElementById('notice').textContent.includes({RENEWED!r})")
    wait_ready(page)
    assert page.input_value("#input") == question
    assert page.locator(".msg.user").count() == 0
    refreshed = stored_session(page)
    assert refreshed["token"] != first["token"]
    assert refreshed["refresh_token"] == first["refresh_token"]
    assert [a for a, _ in page.cognito].count("InitiateAuth") == 2  # sign-in + refresh
    assert server.history(refreshed["token"]) == []
    page.press("#input", "Enter")
    rid = page.locator(".msg.assistant").last.get_attribute("data-request-id")
    assert wait_done(page, rid) == "completed"
    assert [t["question"] for t in server.history(refreshed["token"])] == [question]

    # Revoked at Cognito too (refresh tokens): no refresh, so back to sign-in with the
    # question kept; signing in again sends it.
    state.revoke(sub)
    assert sign_out_everywhere(settings, sub)
    time.sleep(1.1)
    second = "!rate 0 그럼 지하철 요금은?"
    page.fill("#input", second)
    page.press("#input", "Enter")
    page.wait_for_selector("#login-screen", state="visible")
    assert EXPIRED in page.inner_text("#login-error")
    assert stored_session(page) is None
    sign_in(page, username, password)
    wait_ready(page)
    assert page.input_value("#input") == second
    page.press("#input", "Enter")
    rid = page.locator(".msg.assistant").last.get_attribute("data-request-id")
    assert wait_done(page, rid) == "completed"
    questions = [t["question"] for t in server.history(stored_session(page)["token"])]
    assert questions == [second, question]  # newest first, each stored once
