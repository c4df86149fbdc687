"""The web client's test kit: ``chatkit serve`` as a subprocess (:class:`Server`) and the
page helpers every browser test of the web client uses (sign in, ask, wait for the end).
Imported by name; the fixtures built on it (``server``, ``open_page``) are in conftest.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
READY = re.compile(r"chatkit serving on (http://\S+?)/?$")


# ---- the server under test -------------------------------------------------------------


class Server:
    """``python -m chatkit serve`` in a subprocess (offline, fixed auth secret); ``env`` adds
    to (or overrides) its environment, e.g. Cognito settings."""

    def __init__(
        self, port: int, secret: str, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.port, self.secret, self.log_path = port, secret, log_path
        self.env = dict(env or {})
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHATKIT_"))}
        env.update(
            CHATKIT_MODE="offline",
            CHATKIT_DEMO_RATE="40",
            CHATKIT_AUTH_SECRET=self.secret,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatkit", "serve", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        ready = threading.Event()
        self.lines: list[str] = []  # what it printed

        def drain(stream: Any) -> None:  # read stdout to the end so the pipe never fills
            for line in stream:
                self.lines.append(line.rstrip("\n"))
                if READY.search(line.strip()):
                    ready.set()

        threading.Thread(target=drain, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chatkit serve did not start:\n{self.log_path.read_text()}")
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def printed(self, marker: str, timeout: float = 10.0) -> str:
        """The first line it printed containing ``marker`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while not (found := [line for line in self.lines if marker in line]):
            if time.monotonic() > deadline:
                raise AssertionError(f"{marker!r} not printed: {self.lines}")
            time.sleep(0.05)
        return found[0]

    # HTTP helpers: the same routes the page uses.
    def login(self, user_id: str) -> str:
        return json_request(f"{self.url}/login", {"user_id": user_id})["token"]

    def history(self, token: str, limit: int = 100) -> list[dict[str, Any]]:
        return json_request(f"{self.url}/history?limit={limit}", token=token)["items"]


def json_request(url: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# ---- page helpers ----------------------------------------------------------------------


def _user() -> str:
    return f"민수-{uuid.uuid4().hex[:8]}"


def sign_in(page: Any, user_id: str) -> None:
    page.fill("#user-id", user_id)
    page.click("#login-button")
    wait_connected(page)
    assert page.inner_text("#user-label") == user_id


def wait_connected(page: Any, timeout: float = 15_000) -> None:
    page.wait_for_function(  # a function, not an expression: the page's CSP forbids eval
        "() => !document.getElementById('chat-screen').hidden"
        " && !document.getElementById('send-button').disabled"
        " && document.getElementById('notice').hidden",
        timeout=timeout,
    )


def session_token(page: Any) -> str:
    return json.loads(page.evaluate("sessionStorage.getItem('chatkit.session')"))["token"]


def ask(page: Any, text: str) -> str:
    """Type ``text``, press Enter; returns the new answer's request id."""
    before = page.locator(".msg.assistant").count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    more = "n => document.querySelectorAll('.msg.assistant').length > n"
    page.wait_for_function(more, arg=before)
    return page.locator(".msg.assistant").last.get_attribute("data-request-id")


def answer(page: Any, request_id: str) -> Any:
    return page.locator(f'.msg.assistant[data-request-id="{request_id}"]')


def wait_done(page: Any, request_id: str, timeout: float = 20_000) -> str:
    page.wait_for_function(
        'rid => { const m = document.querySelector(`.msg.assistant[data-request-id="${rid}"]`);'
        " return m && m.dataset.status !== 'streaming'; }",
        arg=request_id,
        timeout=timeout,
    )
    return answer(page, request_id).get_attribute("data-status")


USERS_SHOWN = "n => document.querySelectorAll('.msg.user').length === n"


def bubble_text(page: Any, request_id: str) -> str:
    return answer(page, request_id).locator(".bubble").text_content()


def assert_streams(page: Any, request_id: str) -> None:
    """Samples the answer's bubble every 100 ms until it ends: it grows, never shrinks."""
    samples = page.evaluate(
        """async rid => {
            const msg = document.querySelector(`.msg.assistant[data-request-id="${rid}"]`);
            const lengths = [];
            const t0 = performance.now();
            while (msg.dataset.status === 'streaming' && performance.now() - t0 < 20000) {
                lengths.push(msg.querySelector('.bubble').textContent.length);
                await new Promise(r => setTimeout(r, 100));
            }
            return lengths;
        }""",
        request_id,
    )
    assert samples == sorted(samples), f"text shrank while streaming: {samples}"
    growing = sorted(set(n for n in samples if n > 0))
    assert len(growing) >= 3, f"answer did not stream visibly: {samples}"
