"""scripts/notebook_minutes.py: what it counts as read, written and optional."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "notebook_minutes.py"
spec = importlib.util.spec_from_file_location("notebook_minutes", SCRIPT)
minutes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(minutes)


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def code(text, *tags):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": [text]}


def test_the_english_translation_is_counted_apart():
    parts = minutes.split_markdown(
        "## 설정 (Settings)\n\n- `ChatSession`이 **한 곳** (`astream`)\n\n*One place, **once**.*"
    )
    assert parts == {"korean": 5, "words": 2, "english": 4}  # Settings, One place once


def test_written_lines_are_the_lines_the_solution_adds_or_changes():
    stub = "def f(x):\n    # TODO\n    return None\n"
    assert minutes.written_lines(stub, "def f(x):\n    y = x + 1\n    return y\n") == 2
    assert minutes.written_lines(stub, stub) == 0


def test_optional_sections_and_lines_read_before_are_not_core_reading():
    notebook = {
        "cells": [
            markdown("## 1. 핵심 (core)"),
            code("a = 1\nb = 2"),
            code("ex = None", "exercise", "ex-one"),
            code("# 확인 (check)\nassert a == 1"),
            markdown("## 2. 더 보기 (more) · 선택 (optional)"),
            code("c = 3"),
            markdown("### 안쪽 (inside)"),
            code("d = 4"),
            markdown("## 3. 다시 핵심 (core again)"),
            code("e = 5"),
        ]
    }
    solution = {"cells": [code("ex = 1\nex += 1", "exercise", "ex-one")]}
    seen = {"b = 2"}
    counts = minutes.count(notebook, solution, seen)
    assert counts["core"]["code"] == 3  # a = 1, the exercise stub, e = 5
    assert (counts["core"]["written"], counts["core"]["exercises"]) == (2, 1)
    assert counts["optional"]["code"] == 2  # c = 3 and d = 4 under the optional heading
    assert "a = 1" in seen
    again = minutes.count(notebook, solution, seen)
    assert again["core"]["code"] == 1  # only the exercise stub is read again
    assert minutes.reading(again["core"]) < minutes.reading(counts["core"])


def test_every_notebook_has_stored_execution_times():
    timings = minutes.load(minutes.TIMINGS)
    assert set(timings) == {path.stem for path in minutes.paths()}
    assert all(run["cells"] > 0 and run["wait_s"] > 0 for run in timings.values())
