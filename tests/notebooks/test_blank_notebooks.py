"""The blank exercise notebooks in a real kernel (offline), each run twice in one kernel:
no error on either run and every ``check`` cell prints a hint (``✗``); the solution
notebooks are what ``notebooks/solutions/build.py`` makes from the blanks."""

from __future__ import annotations

import nbformat
import pytest
from teach_runs import BUILD, NAMES, ROOT, execute, run_twice


def test_there_are_exercises_and_checks():
    for name in NAMES:
        notebook = nbformat.read(ROOT / f"{name}.ipynb", as_version=4)
        tags = [tag for cell in notebook.cells for tag in cell.metadata.get("tags", [])]
        assert tags.count("exercise") >= 2 and tags.count("check") >= 2, name
        assert set(BUILD.solutions()[name]) <= set(tags), "every solution names its exercise tag"


def test_solution_notebooks_are_built_from_the_blanks():
    stale = [p.name for p, text in BUILD.build().items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"run notebooks/solutions/build.py: {stale}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_blank_notebook_twice_prints_hints(name):
    for printed in run_twice(ROOT / f"{name}.ipynb"):
        assert printed and all("✗" in out for out in printed), printed


@pytest.mark.slow
def test_panel_checks_pass_after_the_learner_chats():
    """06 invites chatting in both panels: extra turns before the checks change nothing."""
    notebook = nbformat.read(ROOT / "06_chat_panel.ipynb", as_version=4)
    check = next(
        index
        for index, cell in enumerate(notebook.cells)
        if cell.source.startswith("# 확인 (check) — 패널을 코드로")
    )
    chat = nbformat.v4.new_code_cell(
        'question_box.value = "!rate 0 한 번 더"\n'
        "send_button.click()\n"
        "await current['task']\n"
        'await panel.send("!rate 0 패널에서도 한 번")'
    )
    notebook.cells.insert(check, chat)
    execute(notebook)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["00_setup", "07_deploy", "08_cleanup"])
def test_the_other_notebooks_run_twice_in_one_kernel(name):
    """Re-running every cell (a learner's habit) after a whole run raises nothing."""
    run_twice(ROOT / f"{name}.ipynb")
