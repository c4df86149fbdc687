"""`chatkit workshop clean`: a dry run first, then only the roster's data goes."""

from __future__ import annotations

import pytest

from chatkit.aws_clients import dynamodb_client
from chatkit.cli import main
from chatkit.history import HistoryStore, Turn
from chatkit.local.dynamodb import create_tables
from chatkit.schema import HISTORY_TABLE
from chatkit.workshop.clean import owner_of


def partitions(settings) -> dict[str, int]:
    items = dynamodb_client(settings).scan(TableName=settings.table_name)["Items"]
    counts: dict[str, int] = {}
    for item in items:
        user = item[HISTORY_TABLE.partition_key]["S"]
        counts[user] = counts.get(user, 0) + 1
    return counts


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("user_id\nminsu\nminsu-2\njiwoo\n", encoding="utf-8")
    return path


def test_owner_is_the_longest_matching_user_id():
    users = ["minsu", "minsu-2"]
    assert owner_of("minsu", users) == "minsu"
    assert owner_of("minsu-ttl", users) == "minsu"
    assert owner_of("minsu-2-big", users) == "minsu-2"
    assert owner_of("minsuk", users) is None
    assert owner_of("outsider", users) is None


def test_dry_run_lists_then_yes_removes_only_the_roster(monkeypatch, settings, roster, capsys):
    store = HistoryStore.from_settings(settings)
    for user in ("minsu", "minsu", "minsu-ttl", "minsu-2", "jiwoo", "outsider", "minsuk"):
        request_id = f"r-{len(store.recent(user))}"
        claim = store.claim(user, request_id)
        store.save(Turn(user, request_id, "질문", "답변", created_at=claim.created_at))
    monkeypatch.setenv("CHATKIT_DYNAMODB_ENDPOINT", settings.dynamodb_endpoint)
    monkeypatch.setenv("CHATKIT_TABLE", settings.table_name)
    before = partitions(settings)

    assert main(["workshop", "clean", "--roster", str(roster)]) == 0
    out = capsys.readouterr().out
    assert partitions(settings) == before  # a dry run removes nothing
    rows = {
        line.split()[0]: line for line in out.splitlines() if line.startswith(("minsu", "jiwoo"))
    }
    assert "minsu 4, minsu-ttl 2" in rows["minsu"] and "minsu-2 2" in rows["minsu-2"]
    total = sum(before[u] for u in ("minsu", "minsu-ttl", "minsu-2", "jiwoo"))
    assert f"아이템 (items) {total}, 테이블 (tables) 0, 스택 (stacks) 0" in out
    assert "dry run: nothing removed; add --yes" in out
    assert "CloudFormation" not in out  # offline: no stacks to look for

    assert main(["workshop", "clean", "--roster", str(roster), "--yes"]) == 0
    assert "removed" in capsys.readouterr().out
    assert partitions(settings) == {"outsider": before["outsider"], "minsuk": before["minsuk"]}


def test_own_tables_of_a_table_prefix_are_deleted(monkeypatch, settings, roster, capsys):
    client = dynamodb_client(settings)
    for user in ("minsu", "jiwoo", "other"):
        create_tables(
            client,
            settings.with_(table_name=f"t1-{user}-history", state_table_name=f"t1-{user}-state"),
        )
    monkeypatch.setenv("CHATKIT_DYNAMODB_ENDPOINT", settings.dynamodb_endpoint)
    argv = ["workshop", "clean", "--roster", str(roster), "--table-prefix", "t1-"]
    assert main(argv) == 0
    assert "t1-minsu-history, t1-minsu-state" in capsys.readouterr().out
    assert main([*argv, "--yes"]) == 0
    pages = client.get_paginator("list_tables").paginate()  # the session has many tables
    left = {t for page in pages for t in page["TableNames"] if t.startswith("t1-")}
    assert left == {"t1-other-history", "t1-other-state"}


def test_offline_without_a_shared_database_has_nothing_to_clean(monkeypatch, roster, capsys):
    monkeypatch.delenv("CHATKIT_DYNAMODB_ENDPOINT", raising=False)
    assert main(["workshop", "clean", "--roster", str(roster), "--yes"]) == 0
    assert "no history to clean" in capsys.readouterr().out


def test_a_bad_roster_cleans_nothing(tmp_path, capsys):
    path = tmp_path / "roster.csv"
    path.write_text("user_id\nminsu\nMINSU\n", encoding="utf-8")
    assert main(["workshop", "clean", "--roster", str(path), "--yes"]) == 2
    assert "row 3, column user_id: 'MINSU' duplicates row 2" in capsys.readouterr().err


@pytest.fixture(scope="module")
def stand_in_aws():
    """A stand-in AWS account (moto server) with CloudFormation."""
    from chatkit.deploy.moto_aws import MotoAws

    with MotoAws() as fake:
        yield fake


def test_attendee_stacks_are_destroyed_with_the_deploy_package(stand_in_aws, roster, capsys):
    cfn = stand_in_aws.aws().client("cloudformation")
    topic = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
    for user in ("minsu", "jiwoo", "other"):
        cfn.create_stack(StackName=f"ws-{user}", TemplateBody=topic)
    argv = ["workshop", "clean", "--roster", str(roster), "--stack-prefix", "ws-"]
    argv += ["--endpoint-url", stand_in_aws.url, "--region", "ap-northeast-2"]  # a rehearsal

    assert main(argv) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if " – " in line}
    assert rows["minsu"].rstrip().endswith("ws-minsu") and rows["jiwoo"].rstrip().endswith(
        "ws-jiwoo"
    )
    assert rows["minsu-2"].rstrip().endswith("–")  # no stack of theirs
    assert {s["StackName"] for s in cfn.describe_stacks()["Stacks"]} >= {"ws-minsu", "ws-jiwoo"}

    assert main([*argv, "--yes"]) == 0
    assert "스택 (stacks) 2" in capsys.readouterr().out
    live = {
        s["StackName"]
        for s in cfn.describe_stacks()["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }
    assert "ws-other" in live and not {"ws-minsu", "ws-jiwoo"} & live


def test_a_user_id_that_cannot_name_a_stack_is_bad_input(stand_in_aws, tmp_path, capsys):
    path = tmp_path / "roster.csv"
    path.write_text("user_id\nminsu\nkim_1\n", encoding="utf-8")
    argv = ["workshop", "clean", "--roster", str(path), "--endpoint-url", stand_in_aws.url]
    assert main([*argv, "--yes"]) == 2
    assert (
        "row 3, column user_id: 'chatkit-kim_1' cannot be a stack name" in capsys.readouterr().err
    )
