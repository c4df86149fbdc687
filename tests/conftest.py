"""Shared fixtures. Every test runs offline: no AWS credentials in the environment and
sockets may only connect to loopback (enforced below, proven in tests/unit/test_offline.py).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid

import pytest

#: Fixtures shared by several test folders: ``serve`` (the real backend on loopback),
#: ``api`` and ``backend`` (the handlers in-process).
pytest_plugins = ("backend_client", "handler_client")


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


#: Test folders whose tests get a marker of the same name (``make test-fast`` leaves them out).
FOLDER_MARKERS = ("browser", "infra", "workshop", "setup", "rehearsal", "sdk")


def _mark_by_folder(items: list[pytest.Item]) -> None:
    """``tests/<folder>/…`` → ``pytest.mark.<folder>``; notebooks under nbval → ``notebook``."""
    for item in items:
        parts = item.path.parts
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        elif "tests" in parts and parts[parts.index("tests") + 1] in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, parts[parts.index("tests") + 1]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _mark_by_folder(items)
    if config.getoption("--run-aws"):
        return
    skip = pytest.mark.skip(reason="needs a real AWS account: pytest -m aws --run-aws")
    for item in items:
        if "aws" in item.keywords:
            item.add_marker(skip)
