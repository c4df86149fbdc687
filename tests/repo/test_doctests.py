"""The ``>>>`` examples in the docstrings of ``chatkit`` and ``chatkit_widgets`` run and are
true — one test per module, the same examples ``pytest --doctest-modules chatkit
widgets/chatkit_widgets`` runs. ``# doctest: +SKIP`` marks the few that need AWS, a
deployed stack or a Lambda runtime."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "chatkit", ROOT / "widgets" / "chatkit_widgets")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[1:] if parts[0] == "widgets" else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module whose source holds an example, found without importing anything.
MODULES = sorted(
    _module_name(path)
    for package in PACKAGES
    for path in package.rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)


def test_the_examples_are_found():
    assert {"chatkit.protocol", "chatkit.memory", "chatkit_widgets.render"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    report: list[str] = []
    runner = doctest.DocTestRunner()
    tests = doctest.DocTestFinder().find(module)
    for test in tests:
        runner.run(test, out=report.append)
    assert tests, f"{name}: no docstring examples found"
    assert runner.failures == 0, "".join(report)
