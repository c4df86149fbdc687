"""The web client's sign-out button in real Chromium against ``chatkit serve``: afterwards
the token the page held opens no socket and reads no history (issue 13 A.4)."""

from __future__ import annotations

import time
import urllib.error
from typing import Any

import pytest
import websockets.sync.client
from web_pages import Server, _user, ask, session_token, sign_in, wait_done


def _history_status(served: Server, token: str) -> int:
    try:
        served.history(token)
    except urllib.error.HTTPError as refused:
        return refused.code
    return 200


def test_signing_out_ends_the_token_the_page_held(server: Server, open_page: Any):
    page = open_page(server)
    sign_in(page, _user())
    wait_done(page, ask(page, "!rate 0 안녕하세요"))
    token = session_token(page)
    assert _history_status(server, token) == 200
    page.click("#logout-button")
    page.wait_for_selector("#login-screen:not([hidden])")
    deadline = time.monotonic() + 15  # the sign-out frame is handled after the click returns
    while _history_status(server, token) != 401:
        assert time.monotonic() < deadline, "the old token still reads /history"
        time.sleep(0.1)
    ws_url = server.url.replace("http", "ws", 1) + f"/ws?token={token}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        websockets.sync.client.connect(ws_url, proxy=None, open_timeout=10).close()
    assert refused.value.response.status_code == 401
