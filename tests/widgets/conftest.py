"""Fixtures for the headless widget tests: no browser, no kernel (ipywidgets' dummy comm)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from chatkit_widgets.testing import CommRecorder


@pytest.fixture
def recorder():
    """Records the comm messages of every widget created during the test."""
    with CommRecorder() as active:
        yield active


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait (on the running loop) until ``condition()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
