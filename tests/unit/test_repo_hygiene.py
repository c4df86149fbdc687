"""Repository rules that CI enforces: clean notebooks, a valid CloudFormation template."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb.get("metadata", {}), "widget state must not be committed"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{path.name}: run `make strip` before committing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_parameters_and_check_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)
    assert any(c["cell_type"] == "code" and "assert" in "".join(c["source"]) for c in cells)


@pytest.mark.slow
def test_cloudformation_template_passes_cfn_lint():
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint, "cfn-lint is a dev dependency"
    result = subprocess.run(
        [cfn_lint, str(ROOT / "infra" / "template.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_test_modules_have_unique_names():
    """Test folders have no ``__init__.py``: two ``test_x.py`` in one pytest run collide
    ("import file mismatch"), depending on which worker collects them first."""
    root = Path(__file__).resolve().parents[2]
    names = [p.name for p in (root / "tests").rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


@pytest.mark.parametrize(
    "path", sorted((ROOT / "notebooks").glob("0*.ipynb")), ids=lambda p: p.stem
)
def test_each_notebook_opens_with_its_minutes_and_ends_with_a_recap(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = ["".join(cell["source"]) for cell in cells]
    assert "**시간**" in text[0], "the first cell says the minutes"
    assert any(t.startswith("## 정리 (Recap)") for t in text), "a short recap"
    words = ("seed", "원래 글", "얇은 얼굴", "역사로만")  # project-internal words
    assert not [w for w in words for t in text if w in t]
