"""The web client (chatkit/web) in real headless Chromium against `chatkit serve`.

The server is the real local API Gateway with the real Lambda handlers and the offline
stack (demo model, local DynamoDB), started as a subprocess like a user would. Streaming
speed is set per message with demo directives (``!rate``, ``!long``).
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from browser_kit import free_port
from web_pages import (
    USERS_SHOWN,
    Server,
    _user,
    answer,
    ask,
    assert_streams,
    bubble_text,
    json_request,
    session_token,
    sign_in,
    wait_connected,
    wait_done,
)

from chatkit.errors import error_texts
from chatkit.webconfig import WebConfig

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[3]
WEB = REPO / "chatkit" / "web"
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")


# ---- tests -----------------------------------------------------------------------------


def test_web_js_never_parses_html() -> None:
    scripts = sorted(WEB.glob("*.js"))
    assert scripts, "no JavaScript in chatkit/web"
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        for forbidden in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ):
            assert forbidden not in source, f"{script.name} uses {forbidden}"


def test_index_html_basics() -> None:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in html and '<meta charset="utf-8">' in html
    assert 'name="viewport"' in html
    # config.js (relative, so it works under CloudFront) loads before the client.
    assert html.index('src="config.js"') < html.index('src="chat.js"')
    assert "cdn" not in html.lower() and "//" not in re.sub(r"<!--.*?-->", "", html, flags=re.S)


def test_login_stream_grows_and_footer(server: Server, open_page: Any, artifacts: Path):
    page = open_page(server)
    assert "데모 로그인" in page.inner_text("#login-screen")
    assert "Demo sign-in" in page.inner_text("#login-screen")
    user = _user()
    sign_in(page, user)
    page.wait_for_selector("#empty-hint")  # empty history
    assert page.locator(".msg.user").count() == 0
    assert page.get_attribute("#transcript", "role") == "log"
    assert page.get_attribute("#transcript", "aria-live") == "polite"

    rid = ask(page, "!rate 30 서울 여행 추천해줘")
    assert_streams(page, rid)
    assert page.locator("#empty-hint").count() == 0
    assert answer(page, rid).get_attribute("data-status") == "completed"
    footer = answer(page, rid).locator(".footer").inner_text()
    assert re.search(r"첫 토큰 first token \d+(\.\d)? m?s", footer), footer
    assert "전체 total" in footer and re.search(r"tokens \d+→\d+", footer), footer
    assert page.locator(".typing").count() == 0

    text = bubble_text(page, rid)
    assert text.startswith("[데모 모델") and "서울" in text
    stored = server.history(session_token(page))
    assert [t["request_id"] for t in stored] == [rid]
    assert stored[0]["answer"] == text  # deltas in seq order reproduce the answer exactly
    assert page.locator(".msg.user .bubble").inner_text() == "!rate 30 서울 여행 추천해줘"
    page.screenshot(path=str(artifacts / "web-chat.png"))


def test_history_after_reload_and_load_older(server: Server, open_page: Any):
    user = _user()
    token = server.login(user)
    from websockets.sync.client import connect

    questions = [f"!rate 0 질문 {i:02d}" for i in range(23)]
    with connect(f"ws://127.0.0.1:{server.port}/ws?token={token}") as ws:
        for number, question in enumerate(questions):
            ws.send(json.dumps({"type": "chat", "request_id": f"h-{number}", "text": question}))
            while json.loads(ws.recv(timeout=10))["type"] not in ("end", "error"):
                pass
    assert len(server.history(token)) == 23

    page = open_page(server)
    sign_in(page, user)
    page.wait_for_function(USERS_SHOWN, arg=20)
    users = page.locator(".msg.user .bubble")
    assert users.first.inner_text() == questions[3] and users.last.inner_text() == questions[22]
    assert page.is_visible("#load-older")
    # A page reload keeps the sign-in (sessionStorage) and shows the history again.
    page.reload()
    wait_connected(page)
    page.wait_for_function(USERS_SHOWN, arg=20)
    assert page.locator(".msg.assistant[data-status=completed]").count() == 20

    # "Load older" from the top: 3 more turns, and what was on screen stays put.
    page.eval_on_selector("#transcript", "t => { t.scrollTop = 0; }")
    anchor = page.locator('.msg.user[data-request-id="h-3"]')
    top_before = anchor.bounding_box()["y"]
    page.click("#load-older")
    page.wait_for_function(USERS_SHOWN, arg=23)
    assert users.first.inner_text() == questions[0]
    assert abs(anchor.bounding_box()["y"] - top_before) <= 2
    assert page.is_hidden("#load-older")  # no more pages
    ids = page.eval_on_selector_all(".msg.user", "els => els.map(e => e.dataset.requestId)")
    assert ids == [f"h-{n}" for n in range(23)]


def test_stop_marks_interrupted(server: Server, open_page: Any):
    page = open_page(server)
    sign_in(page, _user())
    rid = ask(page, "!rate 10 !long 2000 부산 이야기 해줘")
    page.wait_for_function(
        'rid => document.querySelector(`.msg.assistant[data-request-id="${rid}"] .bubble`)'
        ".textContent.length > 15",
        arg=rid,
    )
    assert page.is_visible("#stop-button") and page.is_disabled("#send-button")
    page.click("#stop-button")
    assert wait_done(page, rid, timeout=10_000) == "interrupted"
    assert "중단됨 (Stopped)" in answer(page, rid).locator(".status-line").inner_text()
    stopped_text = bubble_text(page, rid)
    assert 15 < len(stopped_text) < 1000
    page.wait_for_timeout(1500)
    assert bubble_text(page, rid) == stopped_text  # no longer growing
    assert page.is_hidden("#stop-button") and page.is_enabled("#send-button")

    (turn,) = server.history(session_token(page))
    assert turn["request_id"] == rid and turn["status"] == "interrupted"
    assert turn["answer"] == stopped_text


def test_error_texts_are_the_servers_live_and_from_history(server: Server, open_page: Any):
    """The web client keeps no copy of the error texts: a failed answer shows the error
    frame's message; after a reload the stored turn, which keeps only its code, shows the
    text config.js carries (chatkit/errors.py), not one of the client's own."""
    page = open_page(server)
    sign_in(page, _user())
    rid = ask(page, "!rate 0 !fail-after 2 서울 이야기")
    assert wait_done(page, rid) == "error"
    live = answer(page, rid).locator(".status-line").inner_text()
    (turn,) = server.history(session_token(page))
    assert turn["request_id"] == rid and turn["status"] == "error"
    served = error_texts()[turn["error_code"]]
    assert live.startswith(served)  # the frame's message (the server may add a hint)

    page.reload()
    wait_connected(page)
    page.wait_for_function(USERS_SHOWN, arg=1)
    assert answer(page, rid).get_attribute("data-status") == "error"
    assert answer(page, rid).locator(".status-line").inner_text() == served


def test_the_question_box_takes_the_servers_limit(open_page: Any, tmp_path: Path):
    """The limit comes from the served config.js (the backend's Settings), not the page:
    a server with a limit of its own gets a question box of that size."""
    env = {"CHATKIT_MAX_QUESTION_CHARS": "120"}
    small = Server(free_port(), secrets.token_hex(16), tmp_path / "serve.log", env).start()
    try:
        with urllib.request.urlopen(f"{small.url}/config.js", timeout=10) as response:
            assert WebConfig.from_js(response.read().decode()).max_question_chars == 120
        page = open_page(small)
        sign_in(page, _user())
        assert page.eval_on_selector("#input", "box => box.maxLength") == 120
    finally:
        small.stop()


def test_xss_payload_stays_text(server: Server, open_page: Any):
    page = open_page(server)
    sign_in(page, _user())
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    rid = ask(page, "!rate 0 " + payload)
    assert wait_done(page, rid) == "completed"
    assert page.locator(".msg.user .bubble").text_content() == "!rate 0 " + payload
    reply = bubble_text(page, rid)
    assert "<img" in reply  # the demo model quotes the question back; it stays text

    def check() -> None:
        assert page.locator("#transcript img, #transcript script").count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"

    check()
    page.reload()  # history rendering takes the same care
    wait_connected(page)
    page.wait_for_selector(f'.msg.assistant[data-request-id="{rid}"]')
    assert bubble_text(page, rid) == reply
    check()


def test_reconnects_after_server_restart(open_page: Any, tmp_path: Path):
    restartable = Server(free_port(), secrets.token_hex(16), tmp_path / "serve.log").start()
    try:
        page = open_page(restartable)
        sign_in(page, _user())
        rid = ask(page, "!rate 0 안녕")
        assert wait_done(page, rid) == "completed"

        restartable.stop()
        page.wait_for_selector("#notice:not([hidden])")
        assert "다시 연결하는 중" in page.inner_text("#notice")
        assert "Reconnecting" in page.inner_text("#notice")
        assert page.is_disabled("#send-button")
        assert page.is_visible("#chat-screen")  # still signed in

        restartable.start()  # same port, same secret: the token stays valid
        wait_connected(page, timeout=45_000)
        assert page.locator(".msg.user").count() == 1  # nothing on screen was lost
        rid = ask(page, "!rate 0 부산 맛집 알려줘")
        assert wait_done(page, rid) == "completed"
        assert "부산" in bubble_text(page, rid)
    finally:
        restartable.stop()


def test_gateway_restart_mid_answer_keeps_it_interrupted_and_memory(
    open_page: Any, stack: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
):
    """The in-process gateway (real handlers, the session's offline stack, whose DynamoDB
    outlives the gateway) is stopped while an answer streams and a new one takes its port."""
    from chatkit.local.gateway import Gateway

    env = {
        **stack.env,
        "CHATKIT_TABLE": settings.table_name,
        "CHATKIT_STATE_TABLE": settings.state_table_name,
        "CHATKIT_AUTH_SECRET": secrets.token_hex(16),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    gateway = Gateway(port=port).start()
    try:
        page = open_page(gateway)
        sign_in(page, _user())
        rid = ask(page, "!rate 0 내 이름은 민수야")
        assert wait_done(page, rid) == "completed"
        rid = ask(page, "!rate 20 !long 3000 서울 이야기 해줘")
        page.wait_for_function(
            'rid => document.querySelector(`.msg.assistant[data-request-id="${rid}"] .bubble`)'
            ".textContent.length > 20",
            arg=rid,
        )
        gateway.stop()
        gateway = Gateway(port=port).start()

        assert wait_done(page, rid, timeout=10_000) == "interrupted"
        assert "연결이 끊겨" in answer(page, rid).locator(".status-line").inner_text()
        shown = bubble_text(page, rid)
        assert 20 < len(shown) < 3000
        wait_connected(page, timeout=30_000)  # by itself: no click, no reload
        recall = ask(page, "!rate 0 내 이름이 뭐야?")
        assert wait_done(page, recall) == "completed"
        assert "민수" in bubble_text(page, recall)

        token = session_token(page)
        turns = json_request(f"{gateway.url}/history?limit=10", token=token)["items"]
        assert [t["status"] for t in turns] == ["completed", "interrupted", "completed"]
        assert turns[1]["request_id"] == rid and turns[1]["answer"].startswith(shown)
    finally:
        gateway.stop()


def test_expired_or_foreign_token_returns_to_login(server: Server, open_page: Any):
    page = open_page(server)
    sign_in(page, _user())
    # A token the server never issued (as after a secret change): the handshake is refused.
    page.evaluate(
        """() => {
            const s = JSON.parse(sessionStorage.getItem('chatkit.session'));
            s.token = 'demo1.eyJzdWIiOiAieCIsICJleHAiOiA5OTk5OTk5OTk5fQ.bad';
            sessionStorage.setItem('chatkit.session', JSON.stringify(s));
        }"""
    )
    page.reload()
    page.wait_for_selector("#login-screen:not([hidden])")
    assert "만료" in page.inner_text("#login-error")
    assert page.evaluate("sessionStorage.getItem('chatkit.session')") is None


def test_korean_ime_enter_while_composing(server: Server, open_page: Any):
    page = open_page(server)
    sign_in(page, _user())
    page.focus("#input")
    cdp = page.context.new_cdp_session(page)

    def compose(text: str) -> None:
        cdp.send(
            "Input.imeSetComposition",
            {"text": text, "selectionStart": len(text), "selectionEnd": len(text)},
        )

    def commit(text: str) -> None:
        cdp.send("Input.insertText", {"text": text})

    # 2-beolsik, jamo by jamo: ㅅ 서 성(tentative ㅇ) → ㅜ commits 서; 우 울 → space commits
    # 울; ㅇ 여 엫(tentative ㅎ) → ㅐ commits 여; 해 행 — still composing.
    for step in ("ㅅ", "서", "성"):
        compose(step)
    commit("서")
    for step in ("우", "울"):
        compose(step)
    commit("울")
    commit(" ")
    for step in ("ㅇ", "여", "엫"):
        compose(step)
    commit("여")
    for step in ("해", "행"):
        compose(step)
    assert page.input_value("#input") == "서울 여행"

    # Enter while the composition is open belongs to the IME: not a send.
    result = page.evaluate(
        """() => {
            const ta = document.getElementById('input');
            const ev = new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter',
                keyCode: 229, isComposing: true, bubbles: true, cancelable: true});
            ta.dispatchEvent(ev);
            return {prevented: ev.defaultPrevented, composing: ev.isComposing};
        }"""
    )
    assert result == {"prevented": False, "composing": True}
    page.wait_for_timeout(300)
    assert page.locator(".msg.user").count() == 0
    assert page.input_value("#input") == "서울 여행"

    commit("행")  # the IME finishes the last syllable
    assert page.input_value("#input") == "서울 여행"
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.user")
    assert page.locator(".msg.user .bubble").all_inner_texts() == ["서울 여행"]
    assert page.input_value("#input") == ""
    rid = page.locator(".msg.assistant").last.get_attribute("data-request-id")
    assert wait_done(page, rid) == "completed"
    page.wait_for_timeout(300)
    assert page.input_value("#input") == ""  # the syllable did not come back
    assert page.locator(".msg.user").count() == 1
    turns = server.history(session_token(page))
    assert [t["question"] for t in turns] == ["서울 여행"]  # one chat request, full text


def test_a_deployed_config_keeps_its_absolute_endpoints(server: Server, chromium: Any):
    """On AWS, config.js names the APIs with absolute URLs (another host than the page's):
    they are used as they are, not resolved against the page. Here the page is served under
    ``/site/`` (as CloudFront might, through a route) and the APIs are this gateway's root.
    (Chromium's local-network checks refuse a routed page's socket to loopback: the test
    checks the address it dialled, not the connection.)"""
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    ws_url = server.url.replace("http", "ws") + "/ws"
    config = {"wsUrl": ws_url, "httpUrl": server.url}
    site = server.url + "/site/"

    def from_web_dir(route: Any) -> None:
        name = route.request.url.removeprefix(site).split("?")[0] or "index.html"
        if name == "config.js":
            body = f"window.CHATKIT_CONFIG = {json.dumps(config)};"
        else:
            body = (WEB / name).read_text(encoding="utf-8")
        kind = {"js": "application/javascript", "css": "text/css"}.get(name.rsplit(".")[-1])
        route.fulfill(body=body, content_type=kind or "text/html")

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.route(site + "**", from_web_dir)
        page.goto(site)
        page.fill("#user-id", _user())
        with page.expect_websocket() as dialled:
            page.click("#login-button")
        assert dialled.value.url.startswith(ws_url + "?token=demo1.")
        page.wait_for_selector("#chat-screen:not([hidden])")
    finally:
        context.close()
    assert server.url + "/login" in requests
    assert not [r for r in requests if r.startswith(site) and "login" in r]


# Each character of a bubble's text: [character, x relative to the bubble, y relative to it].
GLYPHS = """(bubble) => {
    const text = bubble.firstChild, box = bubble.getBoundingClientRect(), out = [];
    for (let i = 0; i < text.data.length; i++) {
        const range = document.createRange();
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        const r = range.getBoundingClientRect();
        out.push([text.data[i], Math.round(r.x - box.x), Math.round(r.y - box.y)]);
    }
    return out;
}"""


def test_bidi_controls_stay_inside_their_bubble(server: Server, open_page: Any):
    """13 C.7: every bubble is ``dir="auto"`` with ``unicode-bidi: plaintext``: a Hebrew
    message reads right to left, and a U+202E RIGHT-TO-LEFT OVERRIDE reorders nothing but
    the rest of its own line — not its next line, not the next message."""
    page = open_page(server)
    sign_in(page, _user())
    plain = "!rate 0 abc 가나 def"
    with_rlo = "!rate 0 abc \u202e가나 def\n다음 줄 xyz"
    asked = []
    for text in (plain, with_rlo, plain, "שלום עולם"):  # no directive: Hebrew comes first
        asked.append(ask(page, text))
        assert wait_done(page, asked[-1]) == "completed"

    for style in page.eval_on_selector_all(
        ".bubble", "els => els.map(e => [e.dir, getComputedStyle(e).unicodeBidi])"
    ):
        assert style == ["auto", "plaintext"], style
    users = page.locator(".msg.user .bubble")
    hebrew = users.nth(3).evaluate("e => getComputedStyle(e).direction")
    assert hebrew == "rtl"  # dir="auto": the direction of its own text
    assert users.nth(0).evaluate("e => getComputedStyle(e).direction") == "ltr"

    before, override, after = (users.nth(i).evaluate(GLYPHS) for i in range(3))
    assert after == before  # the message after the override is laid out exactly as before it
    xs = [x for _, x, _ in before]
    assert xs == sorted(xs)  # left to right, in logical order
    line_one = [g for g in override if g[2] == override[0][2] and g[0] != "\n"]
    line_two = [g for g in override if g[2] != override[0][2] and g[0] != "\n"]
    assert "".join(c for c, _, _ in line_two) == "다음 줄 xyz"
    xs = [x for _, x, _ in line_two]
    assert xs == sorted(xs)  # the override ended with its line
    rlo = [c for c, _, _ in line_one].index("\u202e")
    flipped = [x for _, x, _ in line_one[rlo + 1 :]]
    assert flipped == sorted(flipped, reverse=True)  # what follows U+202E on its line: reversed
    # The answer's footer (after the bubble that echoes the override) reads normally.
    footer = answer(page, asked[1]).locator(".footer")
    assert footer.inner_text().startswith("첫 토큰 first token")


def test_phone_width(server: Server, open_page: Any, artifacts: Path):
    width, height = 375, 740
    page = open_page(
        server,
        viewport={"width": width, "height": height},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    sign_in(page, _user())
    rid = ask(page, "!rate 0 제주 여행 코스 추천해줘")
    assert wait_done(page, rid) == "completed"
    for selector in ("#input", "#send-button", "#logout-button", ".msg.assistant .bubble"):
        box = page.locator(selector).bounding_box()
        assert box is not None and page.is_visible(selector), selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    page.screenshot(path=str(artifacts / "web-chat-phone.png"))


def test_a_second_browser_sees_only_its_own_history(server: Server, open_page: Any):
    first, second = open_page(server), open_page(server)  # two contexts: two browsers
    sign_in(first, _user())
    rid = ask(first, "!rate 0 <b>민수의</b> 비밀 질문")
    assert wait_done(first, rid) == "completed"
    sign_in(second, _user())
    second.wait_for_selector("#empty-hint")
    rid_b = ask(second, "!rate 0 지우의 질문")
    assert wait_done(second, rid_b) == "completed"
    first.reload()
    wait_connected(first)
    first.wait_for_selector(f'.msg.assistant[data-request-id="{rid}"]')
    for page, own, other in ((first, "민수의", "지우의"), (second, "지우의", "민수의")):
        transcript = page.inner_text("#transcript")
        assert own in transcript and other not in transcript
    assert [t["request_id"] for t in server.history(session_token(second))] == [rid_b]
