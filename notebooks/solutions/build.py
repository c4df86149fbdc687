"""Make notebooks/solutions/NN_*.ipynb from the blank notebooks and solutions.py.

Each ``# %% <notebook> <name>`` block of solutions.py replaces the exercise cell tagged
``exercise`` and ``<name>`` (tags survive nbstripout, which renumbers cell ids); the
parameters cell gets ``strict = True``. One source, so the two never drift::

    .venv/bin/python notebooks/solutions/build.py          # writes the solution notebooks
    .venv/bin/python notebooks/solutions/build.py --check  # exit 1 if they are out of date
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLANKS = HERE.parent
MARK = re.compile(r"^# %% (\S+) (\S+)$", re.MULTILINE)


def solutions(text: str | None = None) -> dict[str, dict[str, str]]:
    """``{notebook: {exercise name: source}}`` from solutions.py."""
    text = text if text is not None else (HERE / "solutions.py").read_text(encoding="utf-8")
    found: dict[str, dict[str, str]] = {}
    marks = list(MARK.finditer(text))
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        body = text[mark.end() : after.start() if after else len(text)].strip("\n")
        found.setdefault(mark.group(1), {})[mark.group(2)] = body
    return found


def solved(notebook: dict, answers: dict[str, str]) -> dict:
    """A copy of ``notebook`` with its exercise cells answered and ``strict = True``."""
    notebook = json.loads(json.dumps(notebook))
    missing = set(answers)
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags:
            source = re.sub(r"(?m)^strict = False", "strict = True", "".join(cell["source"]))
            cell["source"] = source.splitlines(keepends=True)
        names = [tag for tag in tags if tag in answers] if "exercise" in tags else []
        for name in names:
            cell["source"] = answers[name].splitlines(keepends=True)
            missing.discard(name)
    if missing:
        raise SystemExit(f"no exercise cell tagged {sorted(missing)}")
    return notebook


def render(notebook: dict) -> str:
    """As nbformat (and nbstripout) write it: sorted keys, one-space indent."""
    return json.dumps(notebook, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def build() -> dict[Path, str]:
    """Solution notebook path → its text."""
    out = {}
    for name, answers in solutions().items():
        blank = json.loads((BLANKS / f"{name}.ipynb").read_text(encoding="utf-8"))
        out[HERE / f"{name}.ipynb"] = render(solved(blank, answers))
    return out


def main(argv: list[str]) -> int:
    stale = []
    for path, text in build().items():
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run notebooks/solutions/build.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
