"""Repository rules that CI enforces: clean notebooks, a valid CloudFormation template."""

from __future__ import annotations

import importlib.util
import json
import re
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


def _minutes_model():
    spec = importlib.util.spec_from_file_location(
        "notebook_minutes", ROOT / "scripts" / "notebook_minutes.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_minutes_agree_with_the_workshop_guide():
    """Each notebook states the minutes of docs/workshop.md's table, the guide's total is
    their sum, and the reading/writing/running model (scripts/notebook_minutes.py, with its
    stored execution times) stays within 8 minutes of each: a notebook that grows or
    shrinks must have its minutes stated again."""
    guide = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
    in_guide = {
        name: int(m) for name, m in re.findall(r"^\| (0\d_\w+) \|.*\| (\d+)분 \|$", guide, re.M)
    }
    stated = {}
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        stated[path.stem] = int(re.search(r"\*\*시간\*\*: 약 (\d+)분", first).group(1))
    assert stated == in_guide
    assert re.findall(r"합계 \(total\)\*\*: (\d+)분", guide) == [str(sum(stated.values()))]
    assert sum(stated.values()) <= 120, "00→08 must fit the 2-hour class (issue 14)"
    module = _minutes_model()
    model = module.model(module.load(module.TIMINGS))
    far = {
        name: round(row["minutes"])
        for name, row in model.items()
        if abs(row["minutes"] - stated[name]) > 8
    }
    assert not far, f"model minutes {far} vs stated {stated}: run scripts/notebook_minutes.py"
