"""Running the exercise notebooks in a real kernel (offline), shared by the notebook tests.

The solution notebooks are left out of nbval collection (notebooks/solutions/conftest.py):
tests/notebooks runs them, strict, twice in one kernel.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1] / "notebooks"
SOLUTIONS = ROOT / "solutions"


def _build_module():
    spec = importlib.util.spec_from_file_location("solutions_build", SOLUTIONS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_module()
NAMES = sorted(BUILD.solutions())


def execute(notebook) -> None:
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()


def run_twice(path: Path) -> list[list[str]]:
    """Execute the notebook, then all its cells again in the same kernel; the printed
    output of each ``check`` cell, per run."""
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    notebook.cells = [*cells, *copy.deepcopy(cells)]
    execute(notebook)
    runs = []
    for half in (notebook.cells[: len(cells)], notebook.cells[len(cells) :]):
        runs.append(
            [
                "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
                for cell in half
                if "check" in cell.metadata.get("tags", [])
            ]
        )
    return runs
