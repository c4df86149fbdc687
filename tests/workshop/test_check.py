"""`chatkit workshop check`, offline (the demo model streams without delay)."""

from __future__ import annotations

import re

from chatkit.cli import main
from chatkit.workshop.notebooks import discover_notebooks


def test_check_runs_the_chosen_notebooks_offline(class_db, capsys):
    """The instructor's check over two notebooks (nbval and tests/notebooks already run every
    notebook: running all nine here again only cost CI a minute)."""
    status = main(["workshop", "check", "--mode", "offline", "--notebooks", "00,02"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(r"\d\d_\w+ ", line)]
    chosen = [nb.name for nb in discover_notebooks() if nb.name[:2] in ("00", "02")]
    assert [row[0] for row in rows] == chosen == ["00_setup", "02_memory"], out
    assert all(row[1] == "ok" for row in rows), out
    assert status == 0 and "all" in out and "notebooks passed, mode offline" in out
