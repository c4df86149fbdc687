"""The runner on small real notebooks (real papermill, real kernels): failures are
reported with the source cell number and one line, the next notebook still runs, the
offline attach cell joins the class database, and attendees' environments never leak."""

from __future__ import annotations

import re
import shutil

import pytest

from chatkit.aws_clients import dynamodb_client
from chatkit.cli import main
from chatkit.workshop.notebooks import discover_notebooks
from chatkit.workshop.roster import Attendee
from chatkit.workshop.runner import _one_line, run_class

ATTACHED = """import os
assert stack.dynamodb.url == os.environ["CHATKIT_DYNAMODB_ENDPOINT"]
assert stack.emulator.default_rate == demo_rate
print(f"user={user_id} model={os.environ.get('CHATKIT_MODEL_ID', '-')} rate={demo_rate}")
print(f"table={os.environ['CHATKIT_TABLE']}")
print(f"stack={stack_name} region={region} env={os.environ.get('CHATKIT_REGION', '-')}")
print(f"approve={approve} attendee={os.environ['CHATKIT_ATTENDEE']}")"""


@pytest.fixture
def folder(tmp_path, write_notebook):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_attached.ipynb", ATTACHED, "stack.stop()")
    write_notebook(
        folder / "01_fails.ipynb",
        "x = 1",
        "# md: the next cell fails",
        'assert x == 2, "\\n둘이어야 합니다 (must be two)\\nmore detail"',
        "print('never runs')",
    )
    write_notebook(folder / "02_dies.ipynb", "import os\nos._exit(3)")
    write_notebook(folder / "03_after.ipynb", "print('still runs')")
    return folder


def test_check_reports_the_failing_cell_and_runs_the_rest(class_db, folder, capsys, printed):
    status = main(["workshop", "check", "--notebooks-dir", str(folder), "--demo-rate", "0"])
    out = capsys.readouterr().out
    assert status == 1
    rows = {line.split()[0]: line for line in out.splitlines() if re.match(r"\d\d_", line)}
    assert list(rows) == ["00_attached", "01_fails", "02_dies", "03_after"]
    assert " ok " in rows["00_attached"] and " ok " in rows["03_after"]
    assert "FAILED" in rows["01_fails"]
    assert (
        rows["01_fails"].rstrip().endswith("cell 5: AssertionError: 둘이어야 합니다 (must be two)")
    )
    assert "FAILED" in rows["02_dies"] and "cell 3: DeadKernelError" in rows["02_dies"]
    scratch = out.rsplit("executed notebooks): ", 1)[1].strip()
    assert "user=workshop-check model=- rate=0.0" in printed(
        f"{scratch}/workshop-check/00_attached.ipynb"
    )
    # the notebook's stack.stop() left the class database running
    assert dynamodb_client(class_db).describe_table(TableName=class_db.table_name)
    shutil.rmtree(scratch)


def test_attendees_get_their_own_environment_and_tables_and_nothing_leaks(
    class_db, folder, tmp_path, printed
):
    """Two attendees one after the other in the same worker: the second inherits nothing
    of the first (model, region); each gets their own stack name and, with a table prefix,
    their own tables."""
    notebooks = discover_notebooks(folder)[:1]
    attendees = [Attendee("minsu", model_id="apac.model-a", region="us-west-2"), Attendee("jiwoo")]
    results = run_class(
        attendees, notebooks, tmp_path / "runs", workers=1, table_prefix="tp-", progress=False
    )
    assert [r.ok for r in results] == [True, True]
    client = dynamodb_client(class_db)
    for user, model in (("minsu", "apac.model-a"), ("jiwoo", "-")):  # rate: the notebook's own
        text = printed(tmp_path / "runs" / user / "00_attached.ipynb")
        assert f"user={user} model={model} rate=50.0" in text
        assert f"table=tp-{user}-history" in text
        assert client.describe_table(TableName=f"tp-{user}-history")
        assert client.describe_table(TableName=f"tp-{user}-state")
    minsu, jiwoo = (
        printed(tmp_path / "runs" / u / "00_attached.ipynb") for u in ("minsu", "jiwoo")
    )
    assert "stack=chatkit-minsu region=us-west-2 env=us-west-2" in minsu
    assert "approve=True attendee=minsu" in minsu  # deploys without asking, named for minsu
    assert "stack=chatkit-jiwoo region= env=-" in jiwoo


def test_one_line_errors():
    assert _one_line("AssertionError: \n\x1b[31mfirst\x1b[0m\nsecond") == "AssertionError: first"
    assert _one_line("AssertionError: ") == "AssertionError"
    assert _one_line("Kernel died\nwith detail") == "Kernel died"
    assert _one_line("ValueError: " + "가" * 300).endswith("…")
    assert len(_one_line("ValueError: " + "가" * 300)) == 200
