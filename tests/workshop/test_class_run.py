"""`chatkit workshop run` for a three-attendee class, offline, two workers: executed
notebooks per attendee, a report listing all three, history isolation in the one shared
database, resuming, and bad input that runs nothing."""

from __future__ import annotations

import re

import pytest

from chatkit.aws_clients import dynamodb_client
from chatkit.cli import main
from chatkit.config import DEFAULT_MODEL_ID
from chatkit.history import HistoryStore
from chatkit.schema import HISTORY_TABLE

APAC = "apac.anthropic.claude-haiku-4-5-20251001-v1:0"
USERS = ["minsu", "jiwoo", "seoyeon"]
#: 00 is the quickest notebook; 04 stores turns under users derived from the attendee's
#: user id (``<user_id>-s<run>`` for its main session, fresh on every run).
NOTEBOOKS = ["00_setup", "04_chat_session"]
#: Notebook 04's main session leaves five turns in offline mode (its check cell asserts it).
TURNS_OF_04 = 5


@pytest.fixture(scope="module")
def class_run(class_db, tmp_path_factory):
    """One class run shared by the tests of this module (it takes a while)."""
    folder = tmp_path_factory.mktemp("class")
    roster = folder / "roster.csv"
    roster.write_text(f"user_id,model_id\nminsu,\njiwoo,{APAC}\nseoyeon,\n", encoding="utf-8")
    out = folder / "runs"
    argv = ["workshop", "run", "--roster", str(roster), "--out", str(out)]
    status = main([*argv, "--notebooks", "00,04", "--workers", "2"])
    return status, argv, out


def test_every_attendee_gets_executed_notebooks_and_passes(class_run, printed):
    status, _, out = class_run
    assert status == 0
    for user in USERS:
        for name in NOTEBOOKS:
            text = printed(out / user / f"{name}.ipynb")
            assert f"user_id  = {user}\n" in text  # the parameter reached the kernel
            assert "dynamodb = http://127.0.0.1:" in text


def test_the_report_lists_all_three(class_run):
    _, _, out = class_run
    md = (out / "report.md").read_text(encoding="utf-8")
    rows = [line for line in md.splitlines() if line.startswith("| ") and "✓" in line]
    assert [row.split(" | ")[0][2:] for row in rows] == USERS
    assert all(row.count("✓") == len(NOTEBOOKS) for row in rows)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert all(f"<tr><th>{user}</th>" in page for user in USERS)
    assert page.count("<title>") == 1 + len(USERS) * len(NOTEBOOKS)  # page + chart bars


def test_each_attendees_history_holds_only_their_own_turns(class_run, class_db, printed):
    _, _, out = class_run
    history = HistoryStore.from_settings(class_db)
    items = dynamodb_client(class_db).scan(TableName=class_db.table_name)["Items"]
    partitions = {item[HISTORY_TABLE.partition_key]["S"] for item in items}
    for user in USERS:
        sessions = [p for p in partitions if re.fullmatch(rf"{user}-s[0-9a-f]{{6}}", p)]
        assert len(sessions) == 1, sessions  # one run of 04, under this attendee's id
        turns = history.recent(sessions[0])
        assert len(turns) == TURNS_OF_04, [t.question for t in turns]
        # provenance: the turns' request ids were printed by *this* attendee's notebook 04
        own = printed(out / user / "04_chat_session.ipynb")
        others = "".join(printed(out / u / "04_chat_session.ipynb") for u in USERS if u != user)
        first = min(turns, key=lambda t: t.created_at)
        assert first.request_id in own and first.request_id not in others
        expected_model = APAC if user == "jiwoo" else DEFAULT_MODEL_ID
        assert {t.model_id for t in turns} == {expected_model}
    # nothing in the shared table belongs to anyone else (e.g. a notebook's default user)
    assert all(any(p == u or p.startswith(u + "-") for u in USERS) for p in partitions), partitions


def test_a_rerun_skips_finished_attendees_and_runs_the_rest(class_run, capsys):
    _, argv, out = class_run
    executed = {u: (out / u / "00_setup.ipynb").stat().st_mtime_ns for u in USERS}
    capsys.readouterr()
    assert main([*argv, "--notebooks", "00,04"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("skip")] == [
        f"skip {u} (done)" for u in USERS
    ]
    assert executed == {u: (out / u / "00_setup.ipynb").stat().st_mtime_ns for u in USERS}

    (out / "seoyeon" / "result.json").unlink()  # as if seoyeon's run had been interrupted
    assert main([*argv, "--notebooks", "00"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("skip")] == [
        "skip minsu (done)",
        "skip jiwoo (done)",
    ]
    assert (out / "seoyeon" / "00_setup.ipynb").stat().st_mtime_ns > executed["seoyeon"]
    assert (out / "minsu" / "00_setup.ipynb").stat().st_mtime_ns == executed["minsu"]


@pytest.mark.parametrize(
    ("roster", "notebooks", "message"),
    [
        ("user_id\nminsu\nminsu\n", "00", "row 3, column user_id: 'minsu' duplicates row 2"),
        ("user_id,mode\nminsu,offline\njiwoo,cloud\n", "00", "row 3, column mode: 'cloud'"),
        ("name\nminsu\n", "00", "row 1 (header): missing column user_id"),
        ('user_id\nminsu\n"jiwoo\n', "00", "malformed CSV"),
        ("user_id\nminsu\n", "00,42", "unknown notebook '42'"),
        ("user_id\nminsu\n", "00 --kernel no-such-kernel", "no kernel named 'no-such-kernel'"),
        ("user_id\nminsu\nkim_1\n", "00,07", "row 3, column user_id: 'chatkit-kim_1' cannot be"),
    ],
)
def test_bad_input_runs_nothing(tmp_path, capsys, roster, notebooks, message):
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8")
    out = tmp_path / "runs"
    status = main(
        [
            "workshop",
            "run",
            "--roster",
            str(path),
            "--out",
            str(out),
            "--notebooks",
            *notebooks.split(),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "nothing was run" in err and message in err
    assert re.search(r"[가-힣]", err)  # Korean alongside
    assert not out.exists()
