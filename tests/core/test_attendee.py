"""The attendee's name: sanitized from CHATKIT_ATTENDEE, the Studio user profile, or the
IAM caller (a real STS call to the local moto server)."""

from __future__ import annotations

import json

import boto3
import pytest

from chatkit.attendee import caller_name, resolve_attendee, sanitize


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("minsu", "minsu"),
        ("Kim Minsu", "kim-minsu"),
        ("kim.minsu@example.com", "kim-minsu"),
        ("--2024_Jiwoo__Lee--", "jiwoo-lee"),
        ("Ｍｉｎｓｕ", "minsu"),  # full-width letters (NFKC)
        ("a" * 40, "a" * 24),
    ],
)
def test_names_become_what_every_aws_name_accepts(raw, name):
    assert sanitize(raw) == name


def test_a_name_with_nothing_usable_gets_a_stable_hash():
    assert sanitize("김민수") == sanitize("김민수") != sanitize("이지우")
    assert sanitize("김민수").startswith("u") and len(sanitize("김민수")) == 9


def test_the_order_env_then_studio_then_sts(tmp_path):
    metadata = tmp_path / "resource-metadata.json"
    calls = []

    def sts():
        calls.append(1)
        return "from-sts"

    assert resolve_attendee({}, metadata=metadata, sts=sts) is None  # offline: no STS call
    assert resolve_attendee({}, aws=True, metadata=metadata, sts=sts) == "from-sts"
    metadata.write_text(
        json.dumps({"DomainId": "d-1", "UserProfileName": "Jiwoo", "SpaceName": "s"})
    )
    assert resolve_attendee({}, aws=True, metadata=metadata, sts=sts) == "jiwoo"
    metadata.write_text(json.dumps({"UserProfileName": "", "SpaceName": "minsu-space"}))
    assert resolve_attendee({}, aws=True, metadata=metadata, sts=sts) == "minsu-space"
    env = {"CHATKIT_ATTENDEE": "Explicit"}
    assert resolve_attendee(env, aws=True, metadata=metadata, sts=sts) == "explicit"
    metadata.write_text("not json")
    assert resolve_attendee({}, aws=True, metadata=metadata, sts=sts) == "from-sts"
    assert len(calls) == 2


def test_the_iam_caller_names_the_attendee(stack):
    """STS GetCallerIdentity on a real endpoint (the offline stack's moto server)."""
    sts = boto3.client(
        "sts",
        region_name="ap-northeast-2",
        endpoint_url=stack.dynamodb_url,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
    )
    arn = sts.get_caller_identity()["Arn"]
    assert resolve_attendee({}, aws=True, sts=lambda: caller_name(arn)) == sanitize(
        arn.rsplit("/", 1)[-1]
    )
    assert caller_name("arn:aws:sts::1:assumed-role/AmazonSageMaker-ExecutionRole/SageMaker") == (
        "SageMaker"
    )


def test_a_session_name_every_attendee_shares_names_no_one(tmp_path):
    missing = tmp_path / "none.json"
    assert resolve_attendee({}, aws=True, metadata=missing, sts=lambda: "SageMaker") is None
