"""The solution notebooks (``strict=True``) run twice in one kernel: every check passes on
both runs. A file of its own so ``pytest -n 2 --dist loadfile`` runs it beside the blanks."""

from __future__ import annotations

import pytest
from teach_runs import NAMES, SOLUTIONS, run_twice


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_twice_passes_strict(name):
    for printed in run_twice(SOLUTIONS / f"{name}.ipynb"):
        assert printed and all("✓" in out and "✗" not in out for out in printed), printed
