"""The CloudFront response-headers policy (``WebHeadersPolicy``) in a real browser: the web
client served with the template's headers (its ``!Sub`` values filled as CloudFormation
would) loads and runs without one Content-Security-Policy violation, may reach the stack's
WebSocket API, HTTP API and Cognito, and nothing else. Requests to those AWS hosts are
answered by Playwright routes in the browser: nothing leaves the machine."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from chatkit.deploy.buckets import WEB_ROOT
from chatkit.deploy.stack import web_client_config
from chatkit.deploy.template import load_template

CHROMIUM = Path("/usr/bin/chromium")
REGION = "ap-northeast-2"
FILLED = {"WebSocketApi": "ws0api", "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"}
OUTPUTS = {
    "WebSocketUrl": f"wss://ws0api.execute-api.{REGION}.amazonaws.com/prod",
    "HttpApiUrl": f"https://http0api.execute-api.{REGION}.amazonaws.com",
}
COGNITO = f"https://cognito-idp.{REGION}.amazonaws.com/"
NO_DNS = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def policy_headers() -> dict[str, str]:
    """The headers CloudFront adds, from the template's ``WebHeadersPolicy``."""
    resources = load_template()["Resources"]
    config = resources["WebHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    for name, value in FILLED.items():
        csp = csp.replace("${" + name + "}", value)
    assert "${" not in csp, csp
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
    }


class _Site(SimpleHTTPRequestHandler):
    """The web bucket as CloudFront serves it: the files, config.js, the policy's headers."""

    headers_to_add: ClassVar[dict[str, str]] = {}

    def end_headers(self) -> None:
        for name, value in self.headers_to_add.items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.js":
            body = web_client_config(OUTPUTS, "demo", REGION, log=lambda _: None).to_js()
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site():
    handler = type("Site", (_Site,), {"headers_to_add": policy_headers()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(WEB_ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


_COLLECT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""

_TRY = """async (url) => {
  try { await fetch(url, {method: "POST", body: "{}"}); return "reached"; }
  catch (e) { return "refused"; }
}"""

_OPEN = """(url) => new Promise((done) => {
  const ws = new WebSocket(url);
  ws.onopen = () => { ws.close(); done("reached"); };
  ws.onerror = () => done("refused");
})"""


def test_the_web_client_runs_under_cloudfronts_headers_and_reaches_only_its_apis(site):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browsers`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # no name resolves (sockets the CSP lets through fail locally, never leave)
            args=["--no-sandbox", "--disable-gpu", NO_DNS],
            headless=True,
        )
        try:
            page = browser.new_page()
            page.add_init_script(_COLLECT)
            reached: list[str] = []

            def answer(route):
                reached.append(route.request.url)
                route.fulfill(status=200, content_type="application/json", body="{}")

            page.route("https://**.amazonaws.com/**", answer)
            response = page.goto(site)
            assert response.headers["content-security-policy"].startswith("default-src 'self'")
            page.wait_for_selector("#login-form", state="visible")
            assert page.evaluate("window.__violations") == []  # scripts, styles, config.js

            allowed = [f"{OUTPUTS['HttpApiUrl']}/login", COGNITO]
            refused = ["https://elsewhere.example.com/", f"https://s3.{REGION}.amazonaws.com/x"]
            outcomes = {url: page.evaluate(_TRY, url) for url in allowed + refused}
            assert outcomes == dict.fromkeys(allowed, "reached") | dict.fromkeys(refused, "refused")
            assert reached == allowed  # refused requests never left the page
            # WebSockets (Playwright cannot route one without skipping the CSP): the
            # stack's API is let through (then fails: no name resolves), another is not
            for url in (f"{OUTPUTS['WebSocketUrl']}?token=t", "wss://elsewhere.example.com/"):
                assert page.evaluate(_OPEN, url) == "refused"
            violations = page.evaluate("window.__violations")
            blocked = [v.split()[1] for v in violations]
            assert blocked == [*refused, "wss://elsewhere.example.com/"], violations
            assert all(v.startswith("connect-src") for v in violations)
        finally:
            browser.close()
