"""The notebooks' one-call mode setup: the mode from CHATKIT_MODE unless a parameter says
otherwise, one offline stack however often the cell runs, and in aws mode the attendee's
own tables made before they are needed, checked by the doctor, and removed by 08's call —
against real local endpoints through the standard AWS endpoint settings."""

from __future__ import annotations

import os
import uuid

import pytest

from chatkit.config import Settings
from chatkit.doctor import format_checks, run_checks
from chatkit.workshop.notebook import remove_tables, setup, tables_left


@pytest.fixture
def environ():
    """setup() changes os.environ as a notebook cell would: restore it afterwards."""
    saved = dict(os.environ)
    yield os.environ
    os.environ.clear()
    os.environ.update(saved)


def test_offline_mode_comes_from_the_environment_and_starts_one_stack(environ):
    environ["CHATKIT_MODE"] = "offline"
    lines = []
    settings, stack, user_id = setup("", "", "", 0.0, log=lines.append)
    try:
        assert settings.mode == "offline" and user_id == "learner-01"
        assert settings.bedrock_endpoint == stack.bedrock_url == environ["CHATKIT_BEDROCK_ENDPOINT"]
        again, same, _ = setup("", "", "", 0.0, stack=stack, log=lines.append)  # a re-run
        assert same is stack and again == settings
        assert lines[0] == "mode     = offline" and lines.count("mode     = offline") == 2
    finally:
        stack.stop()


def test_a_parameter_wins_over_the_environment(environ):
    environ["CHATKIT_MODE"] = "aws"
    settings, stack, _ = setup("offline", "me", "", 0.0, log=lambda line: None)
    try:
        assert settings.mode == environ["CHATKIT_MODE"] == "offline"
    finally:
        stack.stop()
    with pytest.raises(ValueError, match="offline or aws"):
        setup("cloud", log=lambda line: None)


def test_aws_mode_names_and_makes_the_attendees_tables(environ, stack):
    attendee = f"Tester {uuid.uuid4().hex[:6]}"
    for name in [n for n in environ if n.startswith(("AWS_", "CHATKIT_"))]:
        del environ[name]
    environ.update(
        {
            "AWS_ACCESS_KEY_ID": "standard-key",
            "AWS_SECRET_ACCESS_KEY": "standard-secret",
            "AWS_REGION": "sa-east-1",  # a region the other tests leave alone
            "AWS_ENDPOINT_URL": stack.dynamodb_url,  # moto stands in for the account
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stack.bedrock_url,
            "AWS_ENDPOINT_URL_BEDROCK": stack.bedrock_url,
            "AWS_CONFIG_FILE": os.devnull,
            "CHATKIT_ATTENDEE": attendee,
        }
    )
    lines = []
    settings, running, user_id = setup("aws", "", "", log=lines.append)
    name = settings.attendee
    assert running is None and user_id == name and name.startswith("tester-")
    assert (settings.table_name, settings.state_table_name) == (
        f"chatkit-{name}-history",
        f"chatkit-{name}-state",
    )
    assert f"tables   = chatkit-{name}-history, chatkit-{name}-state (만듦 created: " in lines[-1]
    assert f"dynamodb = {stack.dynamodb_url}" in lines  # the standard setting, honoured
    assert tables_left(settings) == [settings.table_name, settings.state_table_name]

    lines.clear()
    setup("aws", "", "", log=lines.append)  # the next notebook: nothing to make
    assert "만듦" not in lines[-1]

    checks = {check.name: check for check in run_checks(settings)}
    failed = [check for check in checks.values() if not check.ok]
    assert not failed, format_checks(failed)
    assert {"credentials", "inference profile", "state table", "cloudformation"} <= set(checks)
    assert "not deployed yet" in checks["cloudformation"].detail
    assert "데모 모델" in checks["model"].detail  # the model answered the caller's own call

    assert remove_tables(settings) == [settings.table_name, settings.state_table_name]
    assert tables_left(settings) == [] and remove_tables(settings) == []
    missing = {check.name: check for check in run_checks(settings)}["history table"]
    assert not missing.ok and "노트북 00" in missing.hint and "notebook 00" in missing.hint


def test_the_doctor_names_the_attendee_like_the_notebooks_do(environ, stack):
    """``chatkit doctor`` in a terminal (no CHATKIT_ATTENDEE, not in Studio): the IAM caller
    names the tables it checks, as setup() names them in the notebooks."""
    for name in [n for n in environ if n.startswith(("AWS_", "CHATKIT_"))]:
        del environ[name]
    environ.update(
        {
            "AWS_ACCESS_KEY_ID": "standard-key",
            "AWS_SECRET_ACCESS_KEY": "standard-secret",
            "AWS_REGION": "sa-east-1",
            "AWS_ENDPOINT_URL": stack.dynamodb_url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stack.bedrock_url,
            "AWS_ENDPOINT_URL_BEDROCK": stack.bedrock_url,
            "AWS_CONFIG_FILE": os.devnull,
            "CHATKIT_MODE": "aws",
        }
    )
    plain = Settings.from_env()
    assert plain.attendee is None and plain.table_name == "chatkit-history"
    checks = {check.name: check for check in run_checks(plain)}
    caller = checks["credentials"].detail.rsplit(" as ", 1)[1].split(" · ")[0].rsplit("/", 1)[-1]
    assert f"attendee {caller}" in checks["credentials"].detail
    missing = checks["history table"]  # the attendee's table, not the shared default
    assert not missing.ok and f"chatkit-{caller}-history" in missing.detail, missing
    settings, _, user_id = setup("aws", log=lambda line: None)
    assert user_id == caller and settings.table_name == f"chatkit-{caller}-history"
    checks = {check.name: check for check in run_checks(Settings.from_env().with_(attendee=None))}
    assert checks["history table"].ok, checks["history table"]
    remove_tables(settings)
