"""What a class run leaves per attendee: ``<out>/<user_id>/result.json``.

The file is written atomically when the attendee's notebooks have all run; it is the
attendee's *done marker* when every notebook passed (a rerun skips them)::

    >>> r = AttendeeResult("minsu", [NotebookResult("00_setup", "ok", 3.2)])
    >>> r.done(["00_setup"]), r.done(["00_setup", "03_dynamodb_history"])
    (True, False)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["RESULT_FILE", "AttendeeResult", "NotebookResult", "load_result"]

RESULT_FILE = "result.json"


@dataclass
class NotebookResult:
    """One executed notebook. ``cell`` is the failing cell's 1-based position in the
    source notebook (None: it passed, or the failure was outside a cell of it)."""

    notebook: str
    status: str  # "ok" | "failed"
    seconds: float
    cell: int | None = None
    error: str = ""
    output: str = ""  # the executed notebook, relative to the run's output directory

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class AttendeeResult:
    user_id: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    mode: str = "offline"

    @property
    def ok(self) -> bool:
        return all(nb.ok for nb in self.notebooks)

    @property
    def seconds(self) -> float:
        return sum(nb.seconds for nb in self.notebooks)

    def covers(self, names: Iterable[str]) -> bool:
        """True when each of ``names`` ran (passed or not)."""
        return set(names) <= {nb.notebook for nb in self.notebooks}

    def done(self, names: Iterable[str]) -> bool:
        """Finished for a run of ``names``: each of them ran and every notebook passed."""
        return self.ok and self.covers(names)

    def save(self, directory: Path) -> None:
        """Write ``result.json`` atomically (a killed run never leaves half a marker)."""
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{RESULT_FILE}.partial"
        partial.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(partial, directory / RESULT_FILE)


def load_result(directory: Path) -> AttendeeResult | None:
    """The saved result in ``directory``, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((directory / RESULT_FILE).read_text(encoding="utf-8"))
        notebooks = [NotebookResult(**nb) for nb in data.pop("notebooks")]
        return AttendeeResult(notebooks=notebooks, **data)
    except (OSError, ValueError, TypeError, KeyError):
        return None
