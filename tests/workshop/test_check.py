"""`chatkit workshop check` over every notebook of the repository, offline (CI runs it
once; the demo model streams without delay)."""

from __future__ import annotations

import re

from chatkit.cli import main
from chatkit.workshop.notebooks import discover_notebooks


def test_check_passes_over_every_notebook_offline(class_db, capsys):
    status = main(["workshop", "check", "--mode", "offline"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(r"\d\d_\w+ ", line)]
    assert [row[0] for row in rows] == [nb.name for nb in discover_notebooks()], out
    assert all(row[1] == "ok" for row in rows), out
    assert status == 0 and "all" in out and "notebooks passed, mode offline" in out
