"""``deploy`` / ``destroy`` with real boto3 against moto's server standing in for an AWS
account. moto creates the tables, roles, functions (without running them), log groups and
buckets; it skips API Gateway v2, CloudFront, Secrets Manager and bucket policies — those
are checked in the template tests and run for real in the zip-in-gateway smoke test."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from chatkit.cli import main
from chatkit.deploy.buckets import artifacts_bucket_name, read_config_js
from chatkit.deploy.progress import describe_stack
from chatkit.deploy.stack import StackConfig, base_model_id, deploy, destroy

# moto warns once per resource type its CloudFormation skips (listed in the docstring)
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::")


#: Not the offline stack's region: moto keeps one in-process state for every server, and the
#: stacks' tables should not show up next to the other tests' tables.
REGION = "ap-northeast-1"


@pytest.fixture
def aws(moto_aws):
    return moto_aws.aws(REGION)


@pytest.fixture
def name():
    return f"t-{uuid.uuid4().hex[:10]}"


def quick(aws, name, bundle, lines, **config):
    """deploy with a fast poll, the log collected in ``lines``."""
    return deploy(aws, StackConfig(name, **config), bundle, log=lines.append, poll_seconds=0.05)


def resource_ids(aws, name):
    pages = aws.client("cloudformation").get_paginator("list_stack_resources")
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in pages.paginate(StackName=name)
        for r in page["StackResourceSummaries"]
        if r.get("PhysicalResourceId")
    }


def function_config(aws, name, logical_id):
    physical = resource_ids(aws, name)[logical_id]
    return aws.client("lambda").get_function_configuration(FunctionName=physical)


def uploaded(aws, prefix):
    """Keys under ``prefix`` in the artifacts bucket (none if there is no bucket)."""
    if not bucket_exists(aws, artifacts_bucket_name(aws)):
        return []
    listed = aws.client("s3").list_objects_v2(Bucket=artifacts_bucket_name(aws), Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def bucket_exists(aws, bucket):
    try:
        aws.client("s3").head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def test_deploy_creates_the_stack_then_finds_it_up_to_date(aws, name, tiny_bundle):
    lines: list[str] = []
    assert quick(aws, name, tiny_bundle, lines, ttl_days=30).status == "created"
    log = "\n".join(lines)
    assert "비용 (what it costs)" in log and "AWS::DynamoDB::Table" in log  # plan first
    assert log.index("비용") < log.index("CREATE_IN_PROGRESS")
    ids = resource_ids(aws, name)
    table = aws.client("dynamodb").describe_table(TableName=ids["HistoryTable"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    default = function_config(aws, name, "DefaultFunction")
    assert default["Runtime"] == "python3.12" and default["Architectures"] == ["x86_64"]
    assert default["Handler"] == "chatkit.aws.handlers.ws_default"
    variables = default["Environment"]["Variables"]
    assert variables["CHATKIT_TABLE"] == ids["HistoryTable"]
    assert variables["CHATKIT_STATE_TABLE"] == ids["StateTable"]
    assert str(variables["CHATKIT_TTL_DAYS"]) == "30"  # moto keeps Number parameters as int
    assert uploaded(aws, f"{name}/") == [f"{name}/lambda/{tiny_bundle.sha256}.zip"]
    site = aws.client("s3").list_objects_v2(Bucket=ids["WebBucket"])
    assert {o["Key"] for o in site["Contents"]} >= {"index.html", "chat.js", "config.js"}

    lines.clear()
    again = quick(aws, name, tiny_bundle, lines, ttl_days=30)
    assert again.status == "unchanged" and any("up to date" in line for line in lines)
    assert not any("UPDATE_IN_PROGRESS" in line for line in lines)

    assert quick(aws, name, tiny_bundle, lines, ttl_days=7, snapstart=False).status == "updated"
    variables = function_config(aws, name, "DefaultFunction")["Environment"]["Variables"]
    assert str(variables["CHATKIT_TTL_DAYS"]) == "7"
    stack = describe_stack(aws.client("cloudformation"), name)
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["SnapStart"] == "Disabled" and parameters["BedrockRegion"] == aws.region
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


def served_config(aws, name):
    """The ``window.CHATKIT_CONFIG`` the stack's web bucket serves."""
    bucket = resource_ids(aws, name)["WebBucket"]
    script = aws.client("s3").get_object(Bucket=bucket, Key="config.js")["Body"].read()
    return read_config_js(script.decode())


def sign_in_of_functions(aws, name):
    """Each function's CHATKIT_AUTH, by logical id."""
    return {
        logical_id: function_config(aws, name, logical_id)["Environment"]["Variables"].get(
            "CHATKIT_AUTH"
        )
        for logical_id in resource_ids(aws, name)
        if logical_id.endswith("Function")
    }


def test_cognito_sign_in_replaces_the_demo_login_and_back(aws, name, tiny_bundle):
    """moto's CloudFormation skips ``AWS::Cognito::*`` (no pool is made, references to it
    resolve to nothing, so the pool ids are checked in the template tests), but it creates
    the authorizer's function and role and follows the ``AuthMode`` conditions on creation.
    On update it adds resources but keeps those whose condition turned false
    (CloudFormation deletes them), so the way back checks additions and changes only."""
    lines: list[str] = []
    assert quick(aws, name, tiny_bundle, lines, auth="cognito").status == "created"
    log = "\n".join(lines)
    assert "로그인 (sign-in) cognito" in log and "AWS::Cognito::UserPool" in log  # the plan
    assert "10,000 MAU" in log  # the cost note's user pool line
    assert sign_in_of_functions(aws, name) == dict.fromkeys(
        (
            "ConnectFunction",
            "DisconnectFunction",
            "DefaultFunction",
            "HistoryFunction",
            "AuthorizeFunction",
        ),
        "cognito",
    )
    authorize = function_config(aws, name, "AuthorizeFunction")
    assert authorize["Handler"] == "chatkit.aws.handlers.ws_authorize"
    assert authorize["Role"].endswith("/" + resource_ids(aws, name)["AuthorizeRole"])
    assert served_config(aws, name)["auth"] == "cognito"

    lines.clear()
    assert quick(aws, name, tiny_bundle, lines).status == "updated"
    functions = sign_in_of_functions(aws, name)
    assert functions["LoginFunction"] == "demo" and set(functions.values()) == {"demo"}
    assert served_config(aws, name)["auth"] == "demo"
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


def test_destroy_empties_a_versioned_non_empty_bucket_and_is_idempotent(aws, name, tiny_bundle):
    lines: list[str] = []
    quick(aws, name, tiny_bundle, lines)
    bucket = resource_ids(aws, name)["WebBucket"]
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key="notes/업로드.txt", Body=body)
    s3.delete_object(Bucket=bucket, Key="notes/업로드.txt")  # leaves a delete marker
    versions = s3.list_object_versions(Bucket=bucket)
    assert len(versions["Versions"]) >= 2 and versions["DeleteMarkers"]

    assert destroy(aws, name, log=lines.append, poll_seconds=0.05) is True
    assert describe_stack(aws.client("cloudformation"), name) is None
    assert not bucket_exists(aws, bucket)
    assert not bucket_exists(aws, artifacts_bucket_name(aws))
    lines.clear()
    assert destroy(aws, name, log=lines.append, poll_seconds=0.05) is False
    assert any("nothing to delete" in line for line in lines)


def test_a_failed_first_attempt_is_deleted_and_created_again(aws, name, tiny_bundle, moto_aws):
    lines: list[str] = []
    quick(aws, name, tiny_bundle, lines)
    stack = describe_stack(aws.client("cloudformation"), name)
    moto_aws.set_stack_status(stack["StackId"], "ROLLBACK_COMPLETE")  # as a failed creation
    result = quick(aws, name, tiny_bundle, lines)
    assert result.status == "created"
    assert any("ROLLBACK_COMPLETE" in line and "delete" in line for line in lines)
    recreated = describe_stack(aws.client("cloudformation"), name)
    assert recreated["StackId"] != stack["StackId"]
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


def test_destroy_retries_a_stack_left_delete_failed(aws, name, tiny_bundle, moto_aws):
    lines: list[str] = []
    quick(aws, name, tiny_bundle, lines)
    stack_id = describe_stack(aws.client("cloudformation"), name)["StackId"]
    moto_aws.set_stack_status(stack_id, "DELETE_FAILED")
    assert destroy(aws, name, log=lines.append, poll_seconds=0.05) is True
    assert describe_stack(aws.client("cloudformation"), name) is None


def test_declining_the_change_set_changes_nothing(aws, name, tiny_bundle):
    questions: list[str] = []

    def decline(question: str) -> bool:
        questions.append(question)
        return False

    result = deploy(
        aws, StackConfig(name), tiny_bundle, confirm=decline, log=print, poll_seconds=0.05
    )
    assert result.status == "cancelled" and name in questions[0]
    assert describe_stack(aws.client("cloudformation"), name) is None
    assert not uploaded(aws, f"{name}/"), "the zip uploaded for it is withdrawn too"


def test_a_failed_stack_is_not_deleted_without_asking(aws, name, tiny_bundle, moto_aws):
    lines: list[str] = []
    quick(aws, name, tiny_bundle, lines)
    stack_id = describe_stack(aws.client("cloudformation"), name)["StackId"]
    moto_aws.set_stack_status(stack_id, "DELETE_FAILED")
    questions: list[str] = []
    result = deploy(
        aws,
        StackConfig(name),
        tiny_bundle,
        confirm=lambda q: questions.append(q) or False,
        log=lines.append,
        poll_seconds=0.05,
    )
    assert result.status == "cancelled" and "DELETE_FAILED" in questions[0]
    assert describe_stack(aws.client("cloudformation"), name)["StackId"] == stack_id
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


def test_inference_profile_ids_are_scoped_to_their_foundation_model():
    assert base_model_id("apac.anthropic.claude-sonnet-4-20250514-v1:0") == (
        "anthropic.claude-sonnet-4-20250514-v1:0"
    )
    assert base_model_id("anthropic.claude-3-haiku-20240307-v1:0") == (
        "anthropic.claude-3-haiku-20240307-v1:0"
    )
    with pytest.raises(ValueError, match="stack name"):
        StackConfig("bad name!")


def test_cli_deploys_the_real_zip_and_destroys_it(moto_aws, lambda_bundle, name, capsys):
    """``chatkit deploy`` / ``smoke`` / ``destroy`` as typed, against the stand-in."""
    common = ["--stack", name, "--region", REGION, "--endpoint-url", moto_aws.url]
    assert main(["deploy", *common, "--yes"]) == 0
    out = capsys.readouterr().out
    assert lambda_bundle.sha256 in out and "비용 (what it costs)" in out
    assert f"chatkit smoke --stack {name}" in out
    # moto gives the stack no outputs (no API Gateway): smoke says so and fails
    assert main(["smoke", *common]) == 1
    assert "WebSocketUrl" in capsys.readouterr().err
    assert main(["destroy", *common, "--yes"]) == 0
    assert "삭제 완료 (deleted)" in capsys.readouterr().out
    assert describe_stack(moto_aws.aws(REGION).client("cloudformation"), name) is None


def test_cli_without_credentials_explains_what_to_do(capsys):
    assert main(["destroy", "--stack", "chatkit", "--region", REGION, "--yes"]) == 1
    err = capsys.readouterr().err
    assert "자격 증명" in err and "No AWS credentials" in err
