"""Shared helpers for browser tests: Debian Chromium driven by playwright (no downloads).

Playwright's own browser download cannot reach its host from these machines, so the
tests use Debian's ``chromium`` (``make browsers`` installs it with ``fonts-noto-cjk``)
and skip, saying why, only where it is missing.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps trying to reach outside hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parents[2] / "artifacts"


def free_port() -> int:
    """A free TCP port on loopback (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
