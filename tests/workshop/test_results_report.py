"""result.json (the done marker) and the report files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from chatkit.workshop.report import text_table, write_report
from chatkit.workshop.results import RESULT_FILE, AttendeeResult, NotebookResult, load_result

NOTEBOOKS = ["00_setup", "03_dynamodb_history"]


def results() -> list[AttendeeResult]:
    return [
        AttendeeResult(
            "minsu",
            [
                NotebookResult("00_setup", "ok", 2.5, output="minsu/00_setup.ipynb"),
                NotebookResult("03_dynamodb_history", "ok", 7.5, output="minsu/03.ipynb"),
            ],
        ),
        AttendeeResult(
            "<jiwoo>",
            [
                NotebookResult(
                    "00_setup", "failed", 1.0, 17, "AssertionError: 실패 | <b>", "x/00.ipynb"
                )
            ],
        ),
    ]


def test_result_round_trips_and_is_the_done_marker(tmp_path):
    minsu, jiwoo = results()
    minsu.save(tmp_path / "minsu")
    assert load_result(tmp_path / "minsu") == minsu
    assert minsu.done(NOTEBOOKS) and not minsu.done([*NOTEBOOKS, "04_chat"])
    assert minsu.done(NOTEBOOKS[:1])  # a rerun of fewer notebooks
    assert not jiwoo.ok and not jiwoo.done(["00_setup"])  # a failed attendee runs again
    assert minsu.seconds == 10.0
    assert [p.name for p in (tmp_path / "minsu").iterdir()] == [RESULT_FILE]
    saved = json.loads((tmp_path / "minsu" / RESULT_FILE).read_text(encoding="utf-8"))
    assert saved["notebooks"][0]["notebook"] == "00_setup"


def test_a_missing_or_broken_result_is_not_done(tmp_path):
    assert load_result(tmp_path) is None
    (tmp_path / RESULT_FILE).write_text('{"user_id": "minsu"', encoding="utf-8")
    assert load_result(tmp_path) is None


def test_report_lists_every_attendee_notebook_and_failure(tmp_path):
    write_report(tmp_path, results(), NOTEBOOKS)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| minsu | ✓ 2.5 s | ✓ 7.5 s | 10.0 s |" in md
    assert "| <jiwoo> | ✗ 1.0 s | – | 1.0 s |" in md
    assert "- **<jiwoo>** · `00_setup` · cell 17: AssertionError: 실패 \\| <b> → [x/00.ipynb]" in md
    assert "참가자 2명 (attendees) · 통과 1 (passed) · 실패 1 (failed)" in md
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "&lt;jiwoo&gt;" in page and "<jiwoo>" not in page
    assert "cell 17: AssertionError: 실패 | &lt;b&gt;" in page
    assert '<a href="minsu/00_setup.ipynb">✓ 2.5 s</a>' in page


def test_duration_chart_is_valid_svg_with_one_bar_per_notebook_run(tmp_path):
    write_report(tmp_path, results(), NOTEBOOKS)
    svg = ET.parse(tmp_path / "durations.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in svg.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert [b.find(f"{ns}title").text for b in bars] == [
        "minsu · 00_setup · 2.5 s",
        "minsu · 03_dynamodb_history · 7.5 s",
        "<jiwoo> · 00_setup · 1.0 s · failed",
    ]
    widths = [float(b.get("width")) for b in bars]
    assert widths[1] == 3 * widths[0] and widths[2] < widths[0]
    assert bars[2].get("stroke") and not bars[0].get("stroke")
    html_svg = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html_svg


def test_text_table_lines_up_korean():
    table = text_table(["노트북", "status"], [["00_setup", "ok"], ["한글", "FAILED"]])
    lines = table.splitlines()
    assert lines[0] == "노트북    status"
    assert lines[2] == "00_setup  ok"
    assert lines[3] == "한글      FAILED"
