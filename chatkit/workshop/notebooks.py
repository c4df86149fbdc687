"""The workshop notebooks, found by their number prefix (``NN_name.ipynb`` directly in the
notebooks directory; ``notebooks/instructor/`` is not one of them)::

    >>> nbs = discover_notebooks()
    >>> [nb.number for nb in select_notebooks(nbs, "0,03")]
    ['00', '03']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, problem

__all__ = ["Notebook", "default_notebooks_dir", "discover_notebooks", "select_notebooks"]

_NAME = re.compile(r"(\d{2})_\w+\.ipynb")


@dataclass(frozen=True)
class Notebook:
    number: str  # "03"
    path: Path

    @property
    def name(self) -> str:
        """``03_dynamodb_history``"""
        return self.path.stem


def default_notebooks_dir() -> Path:
    """``notebooks/`` of the checkout chatkit runs from (an editable install or the repo)."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def discover_notebooks(directory: str | Path | None = None) -> list[Notebook]:
    """Every ``NN_name.ipynb`` in ``directory``, in number order."""
    directory = Path(directory) if directory else default_notebooks_dir()
    where = (f"노트북 폴더 {directory}", f"notebooks directory {directory}")
    if not directory.is_dir():
        raise InputError([problem(*where, "없습니다", "not found; pass --notebooks-dir")])
    found = sorted(
        (
            Notebook(match.group(1), path)
            for path in directory.iterdir()
            if (match := _NAME.fullmatch(path.name))
        ),
        key=lambda nb: nb.number,
    )
    numbers = [nb.number for nb in found]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        raise InputError(
            [
                problem(
                    *where,
                    f"번호가 겹칩니다: {', '.join(twice)}",
                    f"duplicate numbers: {', '.join(twice)}",
                )
            ]
        )
    if not found:
        raise InputError(
            [problem(*where, "NN_이름.ipynb 노트북이 없습니다", "no NN_name.ipynb notebooks")]
        )
    return found


def select_notebooks(available: list[Notebook], spec: str | None) -> list[Notebook]:
    """The notebooks named by ``spec`` ("00,03,4"; None or "" = all), in number order."""
    if not spec:
        return list(available)
    by_number = {nb.number: nb for nb in available}
    known = ", ".join(by_number)
    chosen, problems = {}, []
    for position, token in enumerate(spec.split(","), start=1):
        token = token.strip()
        where = (f"--notebooks {position}번째 값", f"--notebooks value {position}")
        number = f"{int(token):02d}" if token.isdigit() else None
        if number in by_number:
            chosen[number] = by_number[number]
        else:
            problems.append(
                problem(
                    *where,
                    f"알 수 없는 노트북 {token!r}; 있는 번호: {known}",
                    f"unknown notebook {token!r}; available: {known}",
                )
            )
    if problems:
        raise InputError(problems)
    return [chosen[number] for number in sorted(chosen)]
