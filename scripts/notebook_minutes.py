"""Minutes a learner needs per notebook: a model of reading, writing and waiting.

For each notebook ``notebooks/0*.ipynb`` it counts what a learner

- **reads**: markdown as Korean syllables plus the ASCII words (names, code) around them
  (the English translation — italic lines, Hangul-free parentheses — is counted apart: a
  Korean-first learner skips it); code lines, except the ``# 확인 (check)`` assert cells,
  which are run and glanced at, and lines already read in an earlier notebook;
- **writes**: the lines the solution (``notebooks/solutions/``) adds to each exercise cell;
- **waits for**: the kernel's execution time per cell, from an executed copy (nbclient
  records it in each cell's ``metadata.execution``), plus a glance at each output;

and converts them with the rates in ``RATES`` (sources there). Reading a section whose
heading is marked ``선택 (optional)`` is counted apart: such a section can just be run.
Execution seconds are kept in ``scripts/notebook_minutes.json``; ``--run`` executes the
notebooks (offline, the solutions for 01–06) and rewrites it::

    .venv/bin/python scripts/notebook_minutes.py          # the table, from the stored timings
    .venv/bin/python scripts/notebook_minutes.py --run    # execute first (a few minutes)

It is a model, not a class timed with learners; docs/workshop.md says so next to the table.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TIMINGS = Path(__file__).with_suffix(".json")

#: Rates of the model. Sources:
#: - Korean: Song, Kim, Hyung (2016), J. Korean Ophthalmol. Soc. 57(4):642 — adults read
#:   silently 202.3 words/min, on sentences of 18.9 letters in 6.5 words: ≈ 588 syllables/min.
#: - English: Brysbaert (2019), "How many words do we read per minute?", J. Memory and
#:   Language 109:104047 — silent reading of English non-fiction, 238 words/min.
#: - Code: 500 lines/hour, the preparation rate for reviewing application code (Humphrey
#:   1989, quoted in McConnell, Code Complete, 2nd ed., ch. 21).
#: - Our assumptions (no published rate fits): 1 minute per line written in an exercise
#:   (think, type, run), 2 minutes per exercise (read the task, run the check, read a hint),
#:   5 s to run a code cell and glance at its output, 20 s more for a figure.
RATES = {
    "korean_syllables_per_min": 202.3 * 18.9 / 6.5,
    "english_words_per_min": 238.0,
    "code_lines_per_min": 500 / 60,
    "write_min_per_line": 1.0,
    "exercise_min": 2.0,
    "cell_s": 5.0,
    "figure_s": 20.0,
}
#: A heading with this mark starts an optional section: run it, reading it is extra.
OPTIONAL = "선택 (optional)"

HANGUL = re.compile(r"[\uac00-\ud7a3]")
ITALIC = re.compile(r"(?<![\w*`])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])", re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]+`")
PAREN = re.compile(r"\(([^()]*)\)")
WORD = re.compile(r"[A-Za-z0-9]")
FIGURE_MIME = ("image/svg+xml", "image/png")


def _translation(text: str, pattern: re.Pattern) -> bool:
    """Hangul-free English; a parenthesis of names only (``(`x`)``) is not a translation."""
    plain = text.replace("`x`", "") if pattern is PAREN else text
    return bool(WORD.search(plain)) and not HANGUL.search(text)


def _words(text: str) -> int:
    return sum(1 for token in HANGUL.sub(" ", text).split() if WORD.search(token))


def split_markdown(text: str) -> dict[str, int]:
    """Korean syllables, other words read with them, and words of the English translation.

    >>> split_markdown("## 1. 설정 (Settings)\\n\\n`Settings` 하나 *One object.*")
    {'korean': 4, 'words': 2, 'english': 3}
    """
    english, text = 0, CODE_SPAN.sub("`x`", text)  # a name in backticks reads as one word
    for pattern in (ITALIC, PAREN):
        found = [m for m in pattern.finditer(text) if _translation(m.group(1), pattern)]
        english += sum(_words(m.group(1)) for m in found)
        for m in reversed(found):
            text = text[: m.start()] + text[m.end() :]
    return {"korean": len(HANGUL.findall(text)), "words": _words(text), "english": english}


def _lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if line.strip()]


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def written_lines(blank: str, solved: str) -> int:
    """Lines the solution adds to the exercise stub.

    >>> written_lines("x = None  # TODO", "x = 1\\ny = 2")
    2
    """
    diff = difflib.ndiff(_lines(blank), _lines(solved))
    return sum(1 for line in diff if line.startswith("+ "))


def _optional(cell: dict, state: dict[int, bool]) -> bool:
    """Track the headings: a section is optional when its heading or a parent's is marked."""
    for line in _source(cell).splitlines() if cell["cell_type"] == "markdown" else []:
        level = len(line) - len(line.lstrip("#"))
        if 1 < level <= 3 and line[level:].startswith(" "):
            state.update(
                {level: OPTIONAL in line, **{deeper: False for deeper in range(level + 1, 4)}}
            )
    return any(state.values())


def count(notebook: dict, solution: dict | None = None, seen: set[str] | None = None) -> dict:
    """What a learner reads and writes in one notebook, ``{"core": …, "optional": …}``.

    A line already in ``seen`` (read in an earlier notebook) is not read again; the lines
    read here are added to it.
    """
    seen = set() if seen is None else seen
    answers = {}
    for cell in (solution or {}).get("cells", []):
        if "exercise" in _tags(cell):
            answers[tuple(_tags(cell))] = _source(cell)
    keys = ("korean", "words", "english", "code", "written", "exercises")
    totals = {part: dict.fromkeys(keys, 0) for part in ("core", "optional")}
    state: dict[int, bool] = {}
    here: set[str] = set()
    for cell in notebook["cells"]:
        part = totals["optional" if _optional(cell, state) else "core"]
        source = _source(cell)
        new = "\n".join(line for line in _lines(source) if line.strip() not in seen)
        here.update(line.strip() for line in _lines(source))
        if cell["cell_type"] == "markdown":
            for key, value in split_markdown(new).items():
                part[key] += value
        elif "exercise" in _tags(cell):
            part["exercises"] += 1
            part["code"] += len(_lines(source))
            part["written"] += written_lines(source, answers.get(tuple(_tags(cell)), source))
        elif not source.startswith("# 확인 (check)"):
            part["code"] += len(_lines(new))
    seen |= here
    return totals


def executed(notebook: dict) -> dict[str, float]:
    """Seconds the kernel worked, code cells and figures, from an executed copy."""
    from datetime import datetime

    seconds, cells, figures = 0.0, 0, 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        cells += 1
        stamps = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
            start, end = (
                datetime.fromisoformat(stamps[key].replace("Z", "+00:00"))
                for key in ("iopub.execute_input", "shell.execute_reply")
            )
            seconds += (end - start).total_seconds()
        figures += sum(
            1
            for out in cell.get("outputs", [])
            if any(m in out.get("data", {}) for m in FIGURE_MIME)
        )
    return {"wait_s": round(seconds, 1), "cells": cells, "figures": figures}


def reading(counts: dict) -> float:
    """Minutes to read and write what ``counts`` holds."""
    read = counts["korean"] / RATES["korean_syllables_per_min"]
    read += counts["words"] / RATES["english_words_per_min"]
    read += counts["code"] / RATES["code_lines_per_min"]
    write = counts["written"] * RATES["write_min_per_line"]
    return read + write + counts["exercises"] * RATES["exercise_min"]


def waiting(run: dict) -> float:
    """Minutes of running cells: the kernel's time plus a glance at each output."""
    seconds = run["wait_s"] + run["cells"] * RATES["cell_s"] + run["figures"] * RATES["figure_s"]
    return seconds / 60


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("0*.ipynb"))


def run_all() -> dict[str, dict]:
    """Execute each notebook offline (the solved one where there is one) in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    for name in [n for n in os.environ if n.startswith(("AWS_", "CHATKIT_"))]:
        del os.environ[name]
    os.environ.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        CHATKIT_MODE="offline",
    )
    found = {}
    for path in paths():
        solved = NOTEBOOKS / "solutions" / path.name
        notebook = nbformat.read(solved if solved.exists() else path, as_version=4)
        resources = {"metadata": {"path": str(NOTEBOOKS)}}
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources=resources).execute()
        found[path.stem] = executed(json.loads(nbformat.writes(notebook)))
        print(path.stem, found[path.stem], file=sys.stderr)
    return found


def model(timings: dict[str, dict]) -> dict[str, dict]:
    """Per notebook: its counts and minutes — ``core`` (everything but the reading of
    optional sections) and ``optional`` (that reading)."""
    seen: set[str] = set()
    found = {}
    for path in paths():
        solved = NOTEBOOKS / "solutions" / path.name
        counts = count(load(path), load(solved) if solved.exists() else None, seen)
        core = reading(counts["core"]) + waiting(timings[path.stem])
        found[path.stem] = {
            **counts,
            "minutes": core,
            "optional_minutes": reading(counts["optional"]),
        }
    return found


def table(timings: dict[str, dict]) -> str:
    """The model as a markdown table."""
    rows = [
        "| notebook | 한글 | words | (English) | code | written | ex. | figures | run s "
        "| min | + optional |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    found = model(timings)
    for stem, row in found.items():
        core, run = row["core"], timings[stem]
        rows.append(
            f"| {stem} | {core['korean']} | {core['words']} | ({core['english']}) "
            f"| {core['code']} | {core['written']} | {core['exercises']} | {run['figures']} "
            f"| {run['wait_s']:.0f} | {row['minutes']:.1f} | {row['optional_minutes']:.1f} |"
        )
    total = sum(row["minutes"] for row in found.values())
    extra = sum(row["optional_minutes"] for row in found.values())
    rows.append(f"| total | | | | | | | | | {total:.1f} | {extra:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="execute the notebooks first")
    args = parser.parse_args(argv)
    if args.run:
        TIMINGS.write_text(json.dumps(run_all(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(table(load(TIMINGS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
