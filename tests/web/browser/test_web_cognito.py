"""The web client signing in with Amazon Cognito (``CHATKIT_AUTH=cognito``), in real Chromium.

`chatkit serve` runs the real handlers in Cognito mode against the offline stack; the user
pool is moto's cognito-idp in the stack's moto server (``chatkit.local.cognito``), which the
page calls directly with ``fetch`` as it would call Cognito. moto does not check SRP proofs
(any password passes ``USER_SRP_AUTH``), so where a wrong password must fail, the page's two
SRP calls are answered by ``tests/srp_server.py`` (Cognito's side, from the SRP formulas),
which hands out moto's real tokens only for a valid proof; ``tests/web/test_srp_js.py``
checks the math itself. The last test is the demo-mode counterpart of a refused token.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from browser_kit import free_port
from srp_server import SrpServer
from web_pages import Server, ask, bubble_text, wait_done
from web_pages import sign_in as demo_sign_in

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


@pytest.fixture(scope="module")
def demo_server(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`chatkit serve` in demo mode on the session's offline stack (its state table is ours)."""
    log = tmp_path_factory.mktemp("serve-demo") / "serve.log"
    server = Server(free_port(), secrets.token_hex(16), log, dict(stack.env)).start()
    yield server
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


def check_srp(page: Any, pool: Any, username: str, password: str, sub: str) -> list[bool]:
    """Routes the page's SRP sign-in calls to an SRP-checking stand-in (moto checks nothing):
    a valid proof gets moto's real tokens, an invalid one NotAuthorizedException. Returns the
    verdicts, one per proof."""
    verdicts: list[bool] = []
    pending: dict[str, Any] = {}
    cors = {"Access-Control-Allow-Origin": "*"}

    def answer(route: Any) -> None:
        action = route.request.headers.get("x-amz-target", "")[len(TARGET) :]
        body = json.loads(route.request.post_data or "{}")
        if action == "InitiateAuth" and body.get("AuthFlow") == "USER_SRP_AUTH":
            pending["server"] = SrpServer(pool.pool_id, sub, password)
            pending["A"] = body["AuthParameters"]["SRP_A"]
            reply = {
                "ChallengeName": "PASSWORD_VERIFIER",
                "Session": "srp-check",
                "ChallengeParameters": pending["server"].challenge(username),
            }
            route.fulfill(json=reply, headers=cors)
        elif action == "RespondToAuthChallenge" and body.get("Session") == "srp-check":
            verdicts.append(pending["server"].accepts(pending["A"], body["ChallengeResponses"]))
            if verdicts[-1]:
                tokens = {"AuthenticationResult": pool.sign_in(username, password)}
                route.fulfill(json=tokens, headers=cors)
            else:
                refusal = {"__type": "NotAuthorizedException", "message": "Incorrect password."}
                route.fulfill(status=400, json=refusal, headers=cors)
        else:
            route.continue_()

    page.route(lambda url: url.startswith(pool.endpoint), answer)
    return verdicts


def login_error(page: Any, text: str) -> None:
    page.wait_for_function(
        "text => document.getElementById('login-error').textContent.includes(text)", arg=text
    )


def sign_in(page: Any, username: str, password: str) -> None:
    page.fill("#user-id", username)
    page.fill("#password", password)
    page.click("#login-button")


def wait_ready(page: Any) -> None:
    """The chat screen with an open socket (a notice may be showing)."""
    page.wait_for_function(  # a function, not an expression: the page's CSP forbids eval
        "() => !document.getElementById('chat-screen').hidden"
        " && !document.getElementById('send-button').disabled"
    )


def stored_session(page: Any) -> dict[str, Any]:
    return json.loads(page.evaluate("sessionStorage.getItem('chatkit.session')") or "null")


def token_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_sign_in_chat_reload_refresh_sign_out_then_first_sign_in(
    cognito: Any, page: Any, artifacts: Path
) -> None:
    server, settings, pool = cognito
    login = page.locator("#login-screen")
    assert "Amazon Cognito" in login.inner_text() and "데모 로그인" not in login.inner_text()
    page.screenshot(path=str(artifacts / "web-cognito-sign-in.png"))
    username, password, sub = new_user(pool)
    is_cognito = lambda url: url.startswith(pool.endpoint)  # noqa: E731

    # Cognito unreachable.
    page.route(is_cognito, lambda route: route.abort("internetdisconnected"))
    sign_in(page, username, password)
    login_error(page, "로그인 서비스(Cognito)에 연결할 수 없습니다")
    page.unroute(is_cognito)

    # Unknown user (moto): the same words as a wrong password (nobody learns who has one).
    sign_in(page, f"nobody-{uuid.uuid4().hex[:6]}", password)
    login_error(page, WRONG)

    # A wrong password is refused by a server that checks the SRP proof; the right one opens
    # the chat. The password itself is never sent.
    verdicts = check_srp(page, pool, username, password, sub)
    sign_in(page, username, "Seoul-trip-2026?")
    login_error(page, WRONG)
    sign_in(page, username, password)
    wait_ready(page)
    page.unroute_all()
    assert verdicts == [False, True]
    assert page.inner_text("#user-label") == username
    assert page.is_visible(".badge.secure") and page.is_hidden("text=데모 로그인")
    assert password not in json.dumps(page.cognito, ensure_ascii=False)
    session = stored_session(page)
    assert session["user_id"] == username and session["refresh_token"]
    claims = token_claims(session["token"])
    assert claims["token_use"] == "access" and claims["sub"] == sub

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
    page.screenshot(path=str(artifacts / "web-cognito-chat.png"))
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

    # An admin-created user signs in with a temporary password, then must choose a new one.
    newcomer = f"지수-{uuid.uuid4().hex[:6]}"
    cognito_client(settings).admin_create_user(
        UserPoolId=pool.pool_id, Username=newcomer, TemporaryPassword="Temp-pass-1!"
    )
    sign_in(page, newcomer, "Temp-pass-1!")
    page.wait_for_selector("#new-password", state="visible")
    assert page.is_hidden("#password")
    page.fill("#new-password", "New-pass-2026!")
    page.fill("#new-password-again", "New-pass-2026?")
    page.click("#login-button")
    login_error(page, "두 새 비밀번호가 서로 다릅니다")
    page.screenshot(path=str(artifacts / "web-cognito-new-password.png"))
    page.fill("#new-password", "New-pass-2026!")
    page.fill("#new-password-again", "New-pass-2026!")
    page.click("#login-button")
    wait_ready(page)
    assert page.inner_text("#user-label") == newcomer
    assert [action for action, _ in page.cognito][-3:] == [
        "InitiateAuth",
        "RespondToAuthChallenge",
        "RespondToAuthChallenge",
    ]
    assert page.cognito[-1][1]["ChallengeResponses"]["NEW_PASSWORD"] == "New-pass-2026!"


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
    page.wait_for_function(
        "text => document.getElementById('notice').textContent.includes(text)", arg=RENEWED
    )
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


def test_demo_mode_refused_token_signs_in_again_keeping_the_question(
    stack: Any,
    demo_server: Any,
    open_page: Any,
) -> None:
    page = open_page(demo_server)
    user = f"민수-{uuid.uuid4().hex[:8]}"
    demo_sign_in(page, user)
    StateStore(stack.settings.state_table_name, dynamodb_client(stack.settings)).revoke(user)
    time.sleep(1.1)
    question = "!rate 0 제주도 날씨 어때?"
    page.fill("#input", question)
    page.press("#input", "Enter")
    page.wait_for_selector("#login-screen", state="visible")
    assert EXPIRED in page.inner_text("#login-error")
    demo_sign_in(page, user)
    assert page.input_value("#input") == question
    page.press("#input", "Enter")
    rid = page.locator(".msg.assistant").last.get_attribute("data-request-id")
    assert wait_done(page, rid) == "completed"
    token = json.loads(page.evaluate("sessionStorage.getItem('chatkit.session')"))["token"]
    assert [t["question"] for t in demo_server.history(token)] == [question]
