"""Fixtures for the browser tests (tests/web/browser, tests/widgets/browser), loaded through
``pytest_plugins`` in tests/conftest.py: Debian Chromium driven by playwright (no downloads).

Playwright's own browser download cannot reach its host from these machines, so the
tests use Debian's ``chromium`` (``make browsers`` installs it with ``fonts-noto-cjk``)
and skip, saying why, only where it is missing.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from browser_kit import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port
from web_pages import Server


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (playwright ``Browser``), one per test module."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browsers` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts() -> Path:
    """``artifacts/`` at the repository root (git-ignored): screenshots, logs."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    running = Server(free_port(), secrets.token_hex(16), log).start()
    yield running
    running.stop()


@pytest.fixture
def open_page(chromium: Any) -> Any:
    """``open_page(server, **context_options)`` → a fresh page; uncaught JS errors fail."""
    contexts, errors = [], []

    def _open(server: Server, **options: Any) -> Any:
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/")
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
