"""Shared fixtures. Every test runs offline: no AWS credentials in the environment and
sockets may only connect to loopback (enforced below, proven in tests/repo/test_offline.py).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from pathlib import Path

import pytest

#: Fixtures shared by several test folders: ``serve`` (the real backend on loopback),
#: ``api`` and ``backend`` (the handlers in-process), and for the two ``browser/`` folders
#: (tests/web/browser, tests/widgets/browser) ``chromium``, ``open_page``, ``server``.
pytest_plugins = ("backend_client", "handler_client", "browser_fixtures")


class NetworkBlocked(OSError):
    """Raised when a test tries to reach a non-loopback address."""


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only connect to loopback, not {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only connect to loopback, not {address!r}")
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    """Offline by default: drop AWS credentials and CHATKIT settings from the environment
    (kernels started by nbval inherit it) and allow sockets to loopback only. With
    ``--run-aws`` the real environment is kept for the opt-in AWS tests."""
    if config.getoption("--run-aws"):
        return
    for name in [n for n in os.environ if n.startswith(("AWS_", "CHATKIT_"))]:
        del os.environ[name]
    os.environ.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "CHATKIT_MODE": "offline",
        }
    )
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def stack():
    """One offline stack for the test session; the demo model streams without delay."""
    from chatkit.local import offline_stack

    with offline_stack(rate=0, set_env=False) as running:
        yield running


def fresh_tables(stack):
    """The offline stack's settings with new, empty tables."""
    from chatkit.aws_clients import dynamodb_client
    from chatkit.local.dynamodb import create_tables

    suffix = uuid.uuid4().hex[:12]
    fresh = stack.settings.with_(table_name=f"test-{suffix}", state_table_name=f"state-{suffix}")
    create_tables(dynamodb_client(fresh), fresh)
    return fresh


@pytest.fixture
def settings(stack):
    """Settings pointing at the offline stack, with fresh tables per test."""
    return fresh_tables(stack)


@pytest.fixture(scope="module")
def module_settings(stack):
    """Settings with fresh tables shared by one module's tests (for what is costly to
    start per test, such as worker processes; its tests use their own user ids)."""
    return fresh_tables(stack)


@pytest.fixture
def history(settings):
    from chatkit.history import HistoryStore

    return HistoryStore.from_settings(settings)


@pytest.fixture
def session(settings):
    from chatkit.session import ChatSession

    return ChatSession(settings)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-aws",
        action="store_true",
        default=False,
        help="run tests marked `aws` against a real AWS account (costs money)",
    )


#: Test folders (tests/ mirrors the package) whose tests get a marker; ``make test-fast``
#: leaves them out. The innermost marked folder wins (tests/deploy/rehearsal → rehearsal).
FOLDER_MARKERS = {
    "browser": "browser",  # tests/web/browser, tests/widgets/browser
    "deploy": "infra",  # tests/deploy: template, packaging, deploys against moto
    "rehearsal": "rehearsal",  # tests/deploy/rehearsal
    "sdk": "sdk",  # tests/local/sdk
    "setup": "setup",
    "workshop": "workshop",
}
TESTS = Path(__file__).resolve().parent


def folder_marker(path: Path) -> str | None:
    """The marker of a test file's innermost marked folder under tests/.

    >>> folder_marker(TESTS / "deploy" / "rehearsal" / "test_aws_mode.py")
    'rehearsal'
    >>> folder_marker(TESTS / "core" / "test_config.py") is None
    True
    """
    if not path.is_relative_to(TESTS):
        return None
    folders = path.relative_to(TESTS).parts[:-1]
    return next((FOLDER_MARKERS[f] for f in reversed(folders) if f in FOLDER_MARKERS), None)


def _mark_by_folder(items: list[pytest.Item]) -> None:
    """Folder markers (``folder_marker``); notebooks under nbval → ``notebook``."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        elif marker := folder_marker(item.path.resolve()):
            item.add_marker(getattr(pytest.mark, marker))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _mark_by_folder(items)
    if config.getoption("--run-aws"):
        return
    skip = pytest.mark.skip(reason="needs a real AWS account: pytest -m aws --run-aws")
    for item in items:
        if item.get_closest_marker("aws"):  # a marker, not the tests/aws folder
            item.add_marker(skip)
