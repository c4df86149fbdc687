"""``deploy`` / ``destroy`` with real boto3 against moto's server standing in for an AWS
account. moto creates the tables, roles, functions (without running them), log groups and
buckets; it skips API Gateway v2, CloudFront, Secrets Manager and bucket policies — those
are checked in the template tests and run for real in the zip-in-gateway smoke test."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from chatkit.cli import main
from chatkit.deploy import template as template_module
from chatkit.deploy.aws import Aws
from chatkit.deploy.buckets import (
    artifacts_bucket_name,
    empty_bucket,
    ensure_artifacts_bucket,
)
from chatkit.deploy.errors import DeployError
from chatkit.deploy.progress import describe_stack
from chatkit.deploy.stack import (
    INLINE_TEMPLATE_MAX,
    StackConfig,
    base_model_id,
    deploy,
    destroy,
    template_source,
)
from chatkit.deploy.template import template_text
from chatkit.errors import error_texts

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
    prefix, _, value = script.decode().partition(" = ")
    assert prefix == "window.CHATKIT_CONFIG"
    return json.loads(value.removesuffix(";\n"))


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
    served = served_config(aws, name)
    assert served["auth"] == "cognito" and served["errors"] == error_texts()  # every code

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


def test_cli_deploys_the_real_zip_and_destroys_it(
    moto_aws, lambda_bundle, name, capsys, monkeypatch
):
    """``chatkit deploy`` / ``smoke`` / ``destroy`` as typed, against the stand-in (the
    model check reaches the Bedrock emulator through the standard endpoint variable)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", moto_aws.bedrock.url)
    common = ["--stack", name, "--region", REGION, "--endpoint-url", moto_aws.url]
    assert main(["deploy", *common, "--yes"]) == 0
    out = capsys.readouterr().out
    assert lambda_bundle.sha256 in out and "비용 (what it costs)" in out
    assert "모델 호출 확인 (model check)" in out
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


# -- the stack as AWS really behaves (issue 13 A) and the deployer's first model call ------


def published(aws, name):
    """{function logical id: (versions published, the version the stack's API calls)}."""
    ids, lam = resource_ids(aws, name), aws.client("lambda")
    found = {}
    for logical_id, physical in ids.items():
        if logical_id.endswith("Function"):
            versions = lam.list_versions_by_function(FunctionName=physical)["Versions"]
            numbers = sorted(int(v["Version"]) for v in versions if v["Version"] != "$LATEST")
            called = ids[logical_id.removesuffix("Function") + "Version"].rsplit(":", 1)[1]
            found[logical_id] = (numbers, int(called))
    return found


@pytest.mark.parametrize("change", [{"ttl_days": 7}, {"model_id": "apac.anthropic.claude-x-v1:0"}])
def test_an_update_of_one_parameter_publishes_a_new_version_of_every_function(
    aws, name, tiny_bundle, change
):
    """The same zip, one parameter changed: every version is replaced (its ReleaseId
    changed), so every function must change too, or Lambda refuses to publish ("A version
    for this Lambda function exists") and the stack rolls back. moto does not refuse: it
    hands back the old version, which is what this test catches."""
    lines: list[str] = []
    quick(aws, name, tiny_bundle, lines)
    before = published(aws, name)
    assert set(before) >= {"ConnectFunction", "DefaultFunction", "HistoryFunction"}
    assert all(called == numbers[-1] for numbers, called in before.values())
    assert quick(aws, name, tiny_bundle, lines, **change).status == "updated"
    after = published(aws, name)
    for function, (numbers, called) in after.items():
        old_called = before[function][1]
        assert called > old_called and called == numbers[-1], (function, before, after)
    stack = describe_stack(aws.client("cloudformation"), name)
    release = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["ReleaseId"]
    for function in after:
        variables = function_config(aws, name, function)["Environment"]["Variables"]
        assert variables["CHATKIT_RELEASE"] == release, function
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


def recorded_calls(aws, services):
    """Every operation the deploy's clients for ``services`` make, in order."""
    calls: list[str] = []
    for service in services:
        aws.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.append(model.name)
        )
    return calls


def test_deploy_calls_the_model_once_with_the_deployers_credentials_before_the_stack(
    aws, name, tiny_bundle, moto_aws
):
    calls = recorded_calls(aws, ("bedrock-runtime", "cloudformation"))
    seen = len(moto_aws.bedrock.requests)
    lines: list[str] = []
    assert quick(aws, name, tiny_bundle, lines).status == "created"
    requests = moto_aws.bedrock.requests[seen:]
    assert [(r.operation, r.model_id) for r in requests] == [("Converse", StackConfig.model_id)]
    assert requests[0].body["inferenceConfig"]["maxTokens"] <= 16  # a few tokens
    assert calls[0] == "Converse" and calls.count("Converse") == 1
    assert calls.index("CreateChangeSet") > 0
    assert any("모델 호출 확인 (model check)" in line for line in lines)
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


class _DenyingBedrock(BaseHTTPRequestHandler):
    """Answers every call as Bedrock does for a caller without model access."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps(
            {"message": "You don't have access to the model with the specified model ID."}
        )
        self.send_response(403)
        self.send_header("x-amzn-ErrorType", "AccessDeniedException")
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_a_model_access_failure_stops_the_deploy_before_any_stack_call(moto_aws, name, tiny_bundle):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DenyingBedrock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        aws = Aws(
            REGION,
            endpoint_url=moto_aws.url,
            credentials={"aws_access_key_id": "x", "aws_secret_access_key": "x"},
            endpoints={"bedrock-runtime": f"http://127.0.0.1:{server.server_address[1]}"},
        )
        calls = recorded_calls(aws, ("bedrock-runtime", "cloudformation", "s3"))
        with pytest.raises(DeployError) as raised:
            quick(aws, name, tiny_bundle, [])
    finally:
        server.shutdown()
        server.server_close()
    message = str(raised.value)
    assert "model_access" in message and "aws-marketplace:Subscribe" in message
    assert "스택을 바꾸기 전에 멈췄습니다" in message and "use-case form" in message
    assert calls == ["Converse"]  # no stack call, no upload
    assert describe_stack(aws.client("cloudformation"), name) is None


def test_a_change_set_that_never_gets_ready_ends_at_the_deadline(aws, name, tiny_bundle, moto_aws):
    with moto_aws.slow_change_sets(), pytest.raises(DeployError, match="not ready within"):
        deploy(
            aws,
            StackConfig(name),
            tiny_bundle,
            log=print,
            poll_seconds=0.05,
            change_set_timeout=0.2,
        )
    stack = describe_stack(aws.client("cloudformation"), name)
    assert stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"  # nothing changed
    destroy(aws, name, log=print, poll_seconds=0.05)


def test_a_template_near_the_inline_limit_is_sent_through_s3(
    aws, name, tiny_bundle, tmp_path, monkeypatch
):
    text = template_text()
    bucket = ensure_artifacts_bucket(aws, print)
    assert "TemplateBody" in template_source(aws, bucket, name, text)  # today's size
    padded = tmp_path / "template.yaml"
    padding = "# " + "패딩 padding " * 10
    lines_needed = (INLINE_TEMPLATE_MAX - len(text.encode())) // len(padding.encode()) + 2
    padded.write_text(text + "\n" + "\n".join([padding] * lines_needed) + "\n", encoding="utf-8")
    assert len(padded.read_bytes()) > INLINE_TEMPLATE_MAX
    monkeypatch.setattr(template_module, "TEMPLATE_PATH", padded)
    lines: list[str] = []
    assert quick(aws, name, tiny_bundle, lines).status == "created"
    assert any("template uploaded" in line for line in lines)
    (key,) = uploaded(aws, f"{name}/template/")
    stored = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert stored == padded.read_bytes()
    destroy(aws, name, log=lines.append, poll_seconds=0.05)
    assert not uploaded(aws, f"{name}/")


def test_emptying_a_bucket_reports_objects_s3_refuses_to_delete(aws):
    bucket = f"locked-{uuid.uuid4().hex[:10]}"
    s3 = aws.client("s3")
    s3.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    s3.put_object(Bucket=bucket, Key="free.txt", Body=b"1")
    s3.put_object(Bucket=bucket, Key="보관/held.txt", Body=b"2")
    s3.put_object_legal_hold(Bucket=bucket, Key="보관/held.txt", LegalHold={"Status": "ON"})
    with pytest.raises(DeployError) as raised:
        empty_bucket(aws, bucket)
    message = str(raised.value)
    assert "보관/held.txt" in message and "AccessDenied" in message and "1" in message
    assert "free.txt" not in message
    s3.put_object_legal_hold(Bucket=bucket, Key="보관/held.txt", LegalHold={"Status": "OFF"})
    assert empty_bucket(aws, bucket) == 1  # the rest of it, now that S3 lets go


def chat_reservation(aws, name):
    function = resource_ids(aws, name)["DefaultFunction"]
    answer = aws.client("lambda").get_function_concurrency(FunctionName=function)
    return answer.get("ReservedConcurrentExecutions")


def test_the_chat_function_is_capped_unless_the_account_cannot_spare_it(
    aws, name, tiny_bundle, monkeypatch
):
    """ChatConcurrency (20) reserves the chat function's concurrency — a model-cost guard.
    Lambda keeps 100 of the account's executions unreserved: an account of 120 can spare
    20 (and still can on an update, where the function's own 20 count as free); a new
    account of 10 cannot, so the stack is deployed unreserved, with a note."""
    lines: list[str] = []
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "120")
    quick(aws, name, tiny_bundle, lines)
    assert chat_reservation(aws, name) == 20
    assert quick(aws, name, tiny_bundle, lines, ttl_days=9).status == "updated"
    assert chat_reservation(aws, name) == 20
    assert not any("cannot spare" in line for line in lines)
    destroy(aws, name, log=lines.append, poll_seconds=0.05)

    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "10")
    quick(aws, name, tiny_bundle, lines)
    assert chat_reservation(aws, name) is None
    assert any("cannot spare 20" in line for line in lines)
    destroy(aws, name, log=lines.append, poll_seconds=0.05)


def test_the_account_s_workshop_boundary_is_found_without_being_named(
    aws, name, tiny_bundle, monkeypatch
):
    """An attendee never types the boundary's ARN: deploy finds the account's
    ``chatkit-attendee-boundary`` policy (infra/studio-domain.yaml makes it) and puts every
    role inside it; an account without one gets none."""
    monkeypatch.delenv("CHATKIT_PERMISSIONS_BOUNDARY", raising=False)
    iam = aws.client("iam")
    boundary = iam.create_policy(
        PolicyName="chatkit-attendee-boundary",
        PolicyDocument=(Path(__file__).parents[2] / "infra/attendee-boundary.json").read_text(),
    )["Policy"]["Arn"]
    try:
        quick(aws, name, tiny_bundle, [])
        roles = [
            r["PhysicalResourceId"]
            for r in aws.client("cloudformation").list_stack_resources(StackName=name)[
                "StackResourceSummaries"
            ]
            if r["ResourceType"] == "AWS::IAM::Role"
        ]
        assert roles
        for role in roles:
            assert (
                iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
                == boundary
            )
    finally:
        destroy(aws, name, log=lambda line: None, poll_seconds=0.05)
        iam.delete_policy(PolicyArn=boundary)
