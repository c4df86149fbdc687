"""Fixtures for the headless widget tests: no browser, no kernel (ipywidgets' dummy comm)."""

from __future__ import annotations

import pytest
from chatkit_widgets.testing import CommRecorder


@pytest.fixture
def recorder():
    """Records the comm messages of every widget created during the test."""
    with CommRecorder() as active:
        yield active
