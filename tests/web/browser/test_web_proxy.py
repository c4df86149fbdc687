"""The web client opened the way a SageMaker Studio attendee opens it: through a real
jupyter-server-proxy inside a real JupyterLab, at ``<lab>/proxy/<port>/`` (issue 12 item 6).

`chatkit serve` runs as if started from a Jupyter terminal (``JUPYTER_SERVER_URL``), and the
address it prints for the attendee is the one the browser opens. Every request of the page
must go through the proxy's path prefix (relative URLs): the sign-in, the history, the
WebSocket. What jupyter-server-proxy forwards (``test_proxy_forwards_…``): the
browser's own ``Host`` and ``Origin`` (here the lab's loopback address, which the
gateway's DNS-rebinding guard accepts; on Studio the Studio host) and Jupyter's credentials.
"""

from __future__ import annotations

import http.server
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from browser_kit import free_port, start_jupyterlab
from web_pages import Server, ask, assert_streams, bubble_text, sign_in, wait_connected

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("jupyter_server_proxy", reason="jupyter-server-proxy is not installed")

TOKEN = "chatkit-proxy-test"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root, config = tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-config")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHATKIT_"))}
    # Remote access on: requests may name the lab by another Host (still bound to loopback).
    remote = "--ServerApp.allow_remote_access=True"
    with start_jupyterlab(root, config, TOKEN, env, remote) as base:
        yield base


@pytest.fixture(scope="module")
def proxied(lab: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``chatkit serve`` started from "a terminal of this lab", and the URL it printed."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {"JUPYTER_SERVER_URL": lab + "/"}
    running = Server(free_port(), secrets.token_hex(16), log, env).start()
    line = running.printed("(open in your browser): ")
    yield running, line.split("(open in your browser): ", 1)[1]
    running.stop()


def test_serve_prints_the_lab_proxy_url(lab: str, proxied: Any):
    server, url = proxied
    assert url == f"{lab}/proxy/{server.port}/"


def test_web_client_through_jupyter_server_proxy(chromium: Any, lab: str, proxied: Any):
    server, url = proxied
    context = chromium.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    sockets: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        page.goto(url + f"?token={TOKEN}")  # Jupyter signs the browser in (a cookie)
        user = f"민수-{uuid.uuid4().hex[:8]}"
        sign_in(page, user)
        rid = ask(page, "!rate 30 서울 여행 추천해줘")
        assert_streams(page, rid)
        text = bubble_text(page, rid)
        assert text.startswith("[데모 모델") and "서울" in text

        page.reload()  # the session survives; the history comes back through the proxy
        wait_connected(page)
        page.wait_for_selector(f'.msg.assistant[data-request-id="{rid}"][data-status=completed]')
        assert bubble_text(page, rid) == text
        assert page.locator(".msg.user .bubble").inner_text() == "!rate 30 서울 여행 추천해줘"
    finally:
        context.close()
    assert not errors, errors
    # Relative URLs: everything went through the proxy's prefix, nothing to the port itself.
    prefix = f"{lab}/proxy/{server.port}/"
    assert requests and all(r.startswith(prefix) for r in requests), requests
    for path in ("config.js", "chat.js", "login", "history?limit=20"):
        assert prefix + path in requests, path
    ws_prefix = "ws" + prefix.removeprefix("http") + "ws?token="
    assert len(sockets) >= 2 and all(s.startswith(ws_prefix) for s in sockets), sockets
    (turn,) = server.history(server.login(user))
    assert turn["request_id"] == rid and turn["answer"] == text


def test_proxy_forwards_the_browsers_host_origin_and_credentials(lab: str):
    """What the gateway sees behind jupyter-server-proxy (a header echo on a free port)."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    try:
        port = echo.server_address[1]
        origin = lab
        request = urllib.request.Request(
            f"{lab}/proxy/{port}/history?limit=1",
            headers={"Authorization": f"token {TOKEN}", "Origin": origin},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            seen = json.load(response)
    finally:
        echo.shutdown()
        echo.server_close()
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert seen["path"] == "/history?limit=1"  # the prefix is gone, the query kept
    assert headers["host"] == lab.removeprefix("http://")  # the browser's Host, not the port's
    assert headers["origin"] == origin
    assert headers["x-forwarded-prefix"] == f"/proxy/{port}"
    assert headers["authorization"] == f"token {TOKEN}"  # Jupyter's own credentials too


def test_the_gateway_guard_accepts_the_labs_own_name_only(lab: str, tmp_path):
    """A lab reached by a name (``lab.test``): the proxy forwards that ``Host``; the gateway
    refuses foreign names (421, DNS rebinding) but `chatkit serve` allowed the name of the
    Jupyter server it runs under."""
    lab_port = lab.rsplit(":", 1)[1]
    env = {"JUPYTER_SERVER_URL": f"http://lab.test:{lab_port}/"}
    server = Server(free_port(), secrets.token_hex(16), tmp_path / "serve.log", env).start()
    try:
        line = server.printed("(open in your browser): ")
        assert line.endswith(f"http://lab.test:{lab_port}/proxy/{server.port}/")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def status(host: str) -> int:
            request = urllib.request.Request(
                f"{lab}/proxy/{server.port}/config.js",
                headers={"Host": f"{host}:{lab_port}", "Authorization": f"token {TOKEN}"},
            )
            try:
                with opener.open(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert status("lab.test") == 200
        assert status("127.0.0.1") == 200
        assert status("rebound.example") == 421
    finally:
        server.stop()
