"""%%chat and %chat in an in-process IPython shell (outputs captured, as papermill stores
them: the final display holds the whole answer as plain text)."""

from __future__ import annotations

import pytest
from chatkit_widgets.magic import format_history, transcript_markdown
from chatkit_widgets.testing import parse_html
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from chatkit.history import Turn


@pytest.fixture
def ip(session):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "chatkit_widgets")
    shell.user_ns["session"] = session
    return shell


def chat(ip, line: str, cell: str):
    with capture_output() as captured:
        ip.run_cell_magic("chat", line, cell)
    return captured.outputs


def test_cell_magic_streams_then_shows_the_whole_answer(ip, session):
    outputs = chat(ip, "-s session -u minsu", "!rate 100 !long 600 서울 이야기")
    final = outputs[-1].data
    stored = session.history.page("minsu", limit=1).items[0]
    assert stored.status == "completed" and stored.question == "!rate 100 !long 600 서울 이야기"
    assert final["text/plain"].startswith(stored.answer)
    assert "첫 토큰" in final["text/plain"] and "토큰" in final["text/plain"]
    assert "서울" in parse_html(final["text/html"]).text
    # ~300 tokens in ~3 s: a few coalesced updates, not one per token.
    assert 3 <= len(outputs) <= 3 / 0.25 + 4


def test_no_stream_shows_the_answer_once(ip):
    outputs = chat(ip, "-s session -u u --no-stream", "!rate 0 부산 맛집")
    assert len(outputs) == 1 and "부산" in outputs[0].data["text/plain"]


def test_hostile_question_is_text_in_the_output(ip):
    attack = "<img src=x onerror=alert(1)>"
    html = chat(ip, "-s session -u u", f"!rate 0 {attack}")[-1].data["text/html"]
    parsed = parse_html(html)
    assert attack in parsed.text and "img" not in [tag for tag, _ in parsed.elements]


def test_default_session_and_model_option(ip, stack):
    outputs = chat(ip, "-u u -m demo.model-x", "!rate 0 안녕")
    assert "demo.model-x" in outputs[-1].data["text/plain"]  # the demo answer names its model


def test_errors_are_shown_not_raised(ip, settings):
    from chatkit.session import ChatSession

    ip.user_ns["impatient"] = ChatSession(settings.with_(max_attempts=1))
    text = chat(ip, "-s impatient -u u", "!throttle 안녕")[-1].data["text/plain"]
    assert "요청이 많아" in text


def test_history_export_and_reset(ip, session, tmp_path, capsys):
    for n, (question, answer) in enumerate([("서울 여행?", "경복궁이요."), ("<b>굵게</b>", "네.")]):
        created = f"2026-01-01T00:00:0{n}.000Z"
        session.history.save(Turn("u", f"r{n}", question, answer, created_at=created))
    ip.run_line_magic("chat", "-s session -u u history")
    shown = capsys.readouterr().out
    assert shown.index("서울 여행?") < shown.index("<b>굵게</b>")

    path = tmp_path / "chat.md"
    ip.run_line_magic("chat", f"-s session -u u export {path}")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# chatkit 대화") and "> 서울 여행?" in text and "경복궁이요." in text

    ip.run_line_magic("chat", "-s session -u u reset")
    assert "2턴" in capsys.readouterr().out
    assert session.history.page("u").items == []


@pytest.mark.parametrize(
    ("line", "cell"),
    [
        ("-s session history", "질문"),
        ("-s nothing_here -u u", "질문"),
        ("-s session -m other", "질문"),
        ("-s session bogus", None),
        ("-s session export", None),
    ],
)
def test_usage_errors(ip, line, cell):
    with pytest.raises(UsageError):
        if cell is None:
            ip.run_line_magic("chat", line)
        else:
            ip.run_cell_magic("chat", line, cell)


def test_plain_formats():
    turns = [
        Turn("u", "r1", "질문", "답", created_at="2026-01-01T00:00:00.000Z"),
        Turn("u", "r2", "또", "부분", status="interrupted", created_at="2026-01-01T00:00:01.000Z"),
    ]
    assert format_history([]) == "(기록 없음 · no history)"
    assert format_history(turns).endswith("🤖 부분 (interrupted)")
    assert "*(interrupted)*" in transcript_markdown("u", turns)
