"""The class report: ``report.md``, ``report.html`` (a table per attendee and notebook,
durations, failures with their cell, a chart) and ``durations.svg``; plus plain-text
tables for the terminal::

    write_report(Path("runs"), results, ["00_setup", "03_dynamodb_history"])
    print(text_table(["notebook", "status"], [["00_setup", "ok"]]))
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from .results import AttendeeResult, NotebookResult

__all__ = ["durations_svg", "failure_text", "html_table", "text_table", "write_report"]

#: Colour-blind-friendly palette (Okabe–Ito), one colour per notebook.
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_FAILED = "#D00000"


def failure_text(nb: NotebookResult) -> str:
    """``cell 23: AssertionError: …`` (or just the error when no cell is known)."""
    return f"cell {nb.cell}: {nb.error}" if nb.cell else nb.error


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; Hangul counts as two columns so Korean rows line up."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def write_report(out: Path, results: list[AttendeeResult], notebooks: list[str]) -> Path:
    """Write ``report.md``, ``report.html`` and ``durations.svg`` into ``out``; returns
    the path of ``report.html``."""
    out.mkdir(parents=True, exist_ok=True)
    svg = durations_svg(results, notebooks)
    (out / "durations.svg").write_text(svg, encoding="utf-8")
    (out / "report.md").write_text(_markdown(results, notebooks), encoding="utf-8")
    page = out / "report.html"
    page.write_text(_html(results, notebooks, svg), encoding="utf-8")
    return page


def _summary(results: list[AttendeeResult], notebooks: list[str]) -> str:
    passed = sum(r.ok for r in results)
    return (
        f"참가자 {len(results)}명 (attendees) · 통과 {passed} (passed) · "
        f"실패 {len(results) - passed} (failed) · 노트북 (notebooks): {', '.join(notebooks)}"
    )


def _cell(result: AttendeeResult, notebook: str) -> NotebookResult | None:
    return next((nb for nb in result.notebooks if nb.notebook == notebook), None)


def _mark(nb: NotebookResult | None) -> str:
    if nb is None:
        return "–"
    return f"{'✓' if nb.ok else '✗'} {nb.seconds:.1f} s"


def _failures(results: list[AttendeeResult]) -> list[tuple[str, NotebookResult]]:
    return [(r.user_id, nb) for r in results for nb in r.notebooks if not nb.ok]


def _markdown(results: list[AttendeeResult], notebooks: list[str]) -> str:
    def escape(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# 워크숍 실행 보고서 (Workshop run report)",
        "",
        _summary(results, notebooks),
        "",
        "| 참가자 (attendee) | " + " | ".join(notebooks) + " | 합계 (total) |",
        "|---" * (len(notebooks) + 2) + "|",
    ]
    for result in results:
        marks = [_mark(_cell(result, name)) for name in notebooks]
        lines.append(f"| {escape(result.user_id)} | {' | '.join(marks)} | {result.seconds:.1f} s |")
    failures = _failures(results)
    lines += ["", "## 실패 (Failures)", ""]
    lines += [
        f"- **{escape(user)}** · `{nb.notebook}` · {escape(failure_text(nb))}"
        + (f" → [{nb.output}]({nb.output})" if nb.output else "")
        for user, nb in failures
    ] or ["없음 (none)"]
    lines += ["", "## 소요 시간 (Durations)", "", "![durations](durations.svg)", ""]
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, "Noto Sans KR", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
td.ok { background: #eaf6ea; } td.failed { background: #fde8e8; } td.missing { color: #888; }
"""


def html_table(results: list[AttendeeResult], notebooks: list[str], *, links: bool = True) -> str:
    """The attendee × notebook table and the failures list as an HTML fragment (failed
    cells carry the error as a tooltip; ``links`` points marks at the executed notebooks)."""
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name in notebooks)
    rows = []
    for result in results:
        cells = []
        for name in notebooks:
            nb = _cell(result, name)
            kind = "missing" if nb is None else ("ok" if nb.ok else "failed")
            mark = e(_mark(nb))
            if links and nb is not None and nb.output:
                mark = f'<a href="{e(nb.output)}">{mark}</a>'
            title = f' title="{e(failure_text(nb))}"' if nb is not None and not nb.ok else ""
            cells.append(f'<td class="{kind}"{title}>{mark}</td>')
        rows.append(
            f"<tr><th>{e(result.user_id)}</th>{''.join(cells)}<td>{result.seconds:.1f} s</td></tr>"
        )
    failures = "".join(
        f"<li><b>{e(user)}</b> · <code>{e(nb.notebook)}</code> · {e(failure_text(nb))}</li>"
        for user, nb in _failures(results)
    )
    return (
        f"<p>{e(_summary(results, notebooks))}</p>"
        f"<table><tr><th>참가자 (attendee)</th>{head}<th>합계 (total)</th></tr>"
        f"{''.join(rows)}</table>"
        f"<h2>실패 (Failures)</h2><ul>{failures or '<li>없음 (none)</li>'}</ul>"
    )


def _html(results: list[AttendeeResult], notebooks: list[str], svg: str) -> str:
    return (
        '<!doctype html>\n<html lang="ko"><head><meta charset="utf-8">'
        "<title>워크숍 실행 보고서 (Workshop run report)</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>워크숍 실행 보고서 (Workshop run report)</h1>"
        f"{html_table(results, notebooks)}"
        f"<h2>소요 시간 (Durations)</h2>{svg}</body></html>\n"
    )


def durations_svg(results: list[AttendeeResult], notebooks: list[str]) -> str:
    """Horizontal stacked bars: one per attendee, one segment per notebook; failed
    segments are outlined in red. Plain SVG, no plotting library."""
    e = html.escape
    label_w, bar_w, bar_h, gap, legend_h = 150, 440, 16, 6, 24
    longest = max((r.seconds for r in results), default=0.0) or 1.0
    height = legend_h + len(results) * (bar_h + gap) + 10
    width = label_w + bar_w + 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12" role="img" aria-label="durations">'
    ]
    x = label_w
    for index, name in enumerate(notebooks):
        colour = _PALETTE[index % len(_PALETTE)]
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="13">{e(name.split("_", 1)[0])}</text>')
        x += 44
    for row, result in enumerate(results):
        y = legend_h + row * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{e(result.user_id)}</text>'
        )
        x = float(label_w)
        for index, name in enumerate(notebooks):
            nb = _cell(result, name)
            if nb is None:
                continue
            w = max(1.0, nb.seconds / longest * bar_w)
            outline = "" if nb.ok else f' stroke="{_FAILED}" stroke-width="2"'
            tip = f"{result.user_id} · {name} · {nb.seconds:.1f} s" + ("" if nb.ok else " · failed")
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{_PALETTE[index % len(_PALETTE)]}"{outline}><title>{e(tip)}</title></rect>'
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 12}">{result.seconds:.1f} s</text>')
    parts.append("</svg>")
    return "\n".join(parts)
