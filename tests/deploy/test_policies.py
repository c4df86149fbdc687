"""Least privilege in infra/template.yaml: no wildcard data actions or resources, the
management API scoped to this WebSocket API's stage, Bedrock scoped to the model or
inference profile — and enough: every AWS call the handlers make (recorded while they
serve a real chat through the local gateway) is allowed by their function's role."""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import botocore.client
import pytest
import websockets
from aws_iam import transaction_items
from handler_client import handler_env

from chatkit.deploy.smoke import Endpoints, _http, run_smoke
from chatkit.deploy.template import load_template, render
from chatkit.local._invoker import AUTHORIZER, DEFAULT_ROUTES, aws_handlers
from chatkit.local.gateway import Gateway

R = load_template()["Resources"]
ROLE_OF_ROUTE = {
    "$connect": "ConnectRole",
    "$disconnect": "DisconnectRole",
    "$default": "DefaultRole",
    "GET /history": "HistoryRole",
    "POST /login": "LoginRole",
    AUTHORIZER: "AuthorizeRole",
}
PROFILE_ARN = (
    "arn:${AWS::Partition}:bedrock:${BedrockRegion}:${AWS::AccountId}:inference-profile/${ModelId}"
)


def branches(value: Any) -> list[Any]:
    """Both outcomes of an ``Fn::If`` (``AWS::NoValue`` dropped), else the value."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [v for v in value["Fn::If"][1:] if v != {"Ref": "AWS::NoValue"}]
    return [value]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: str) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies, each ``Fn::If`` branch separately."""
    found = []
    for policy in R[role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            for outcome in branches(statement):
                for resource in branches(outcome["Resource"]):
                    found.append({**outcome, "Resource": listed(resource)})
    return found


def all_roles() -> list[str]:
    return sorted(n for n, r in R.items() if r["Type"] == "AWS::IAM::Role")


def test_every_function_has_its_own_role():
    functions = [r for r in R.values() if r["Type"] == "AWS::Lambda::Function"]
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions]
    assert sorted(roles) == all_roles() == sorted(ROLE_OF_ROUTE.values())


@pytest.mark.parametrize("role", all_roles())
def test_no_wildcard_actions_or_resources(role):
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        for action in listed(statement["Action"]):
            assert "*" not in action, (role, action)
        for resource in statement["Resource"]:
            text = json.dumps(resource)
            assert resource != "*" and '"*"' not in text, (role, resource)
            if "*" in text:  # only the two scoped patterns below may contain a wildcard
                assert text.endswith('/@connections/*"}') or "foundation-model" in text, text


@pytest.mark.parametrize("role", all_roles())
def test_roles_write_logs_only_to_their_function_log_group(role):
    (function,) = [
        r
        for r in R.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}
    ]
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    logs = [s for s in statements(role) if any(a.startswith("logs:") for a in listed(s["Action"]))]
    assert logs and all(s["Resource"] == [{"Fn::GetAtt": [log_group, "Arn"]}] for s in logs)


def test_manage_connections_is_scoped_to_posting_and_closing_on_this_api_stage():
    granted = [
        (role, s)
        for role in all_roles()
        for s in statements(role)
        if "execute-api:ManageConnections" in listed(s["Action"])
    ]
    assert [role for role, _ in granted] == ["DefaultRole"]
    ((_, statement),) = granted
    assert statement["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
            f"${{WebSocketApi}}/${{StageName}}/{method}/@connections/*"
        }
        for method in ("POST", "DELETE")  # send frames; close a signed-out connection
    ]


def test_the_authorizer_may_only_read_the_state_table():
    """It verifies tokens with the pool's public keys (no AWS call) and reads the
    revocation mark ``revoked#{user_id}``: one GetItem, nothing else."""
    data = [s for s in statements("AuthorizeRole") if s["Sid"] != "Logs"]
    assert [(s["Action"], s["Resource"]) for s in data] == [
        ("dynamodb:GetItem", [{"Fn::GetAtt": ["StateTable", "Arn"]}])
    ]


def test_bedrock_is_streaming_only_and_scoped_to_the_model_or_profile():
    bedrock = {
        role: [
            s
            for s in statements(role)
            if any(a.startswith("bedrock:") for a in listed(s["Action"]))
        ]
        for role in all_roles()
    }
    assert {role for role, found in bedrock.items() if found} == {"DefaultRole"}
    found = bedrock["DefaultRole"]
    assert {a for s in found for a in listed(s["Action"])} == {
        "bedrock:InvokeModelWithResponseStream"
    }
    resources = [(json.dumps(s["Resource"]), s.get("Condition")) for s in found]
    profile = {"Fn::Sub": PROFILE_ARN}
    assert (json.dumps([profile]), None) in resources  # profile id: the profile …
    assert (  # … and its model in any destination region, only through that profile
        json.dumps(
            [{"Fn::Sub": "arn:${AWS::Partition}:bedrock:*::foundation-model/${BaseModelId}"}]
        ),
        {"ArnEquals": {"bedrock:InferenceProfileArn": profile}},
    ) in resources
    bare_model = "arn:${AWS::Partition}:bedrock:${BedrockRegion}::foundation-model/${ModelId}"
    assert (json.dumps([{"Fn::Sub": bare_model}]), None) in resources  # bare model id


# -- the roles are enough for what the handlers really do -------------------------------

_route: contextvars.ContextVar[str | None] = contextvars.ContextVar("route", default=None)


def _iam_action(service: str, operation: str) -> str:
    if service == "dynamodb":
        return f"dynamodb:{operation}"
    if service == "bedrock-runtime":
        return {"ConverseStream": "bedrock:InvokeModelWithResponseStream"}.get(
            operation, f"bedrock:{operation}"
        )
    if service == "apigatewaymanagementapi":
        return f"execute-api:ManageConnections:{operation}"
    return f"{service}:{operation}"


def _authorized_as(client: Any, operation: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
    """(IAM action, table name or None) that AWS checks for one API call."""
    items = transaction_items(operation, params)
    if items is not None:
        return items
    service = client.meta.service_model.service_name
    return [(_iam_action(service, operation), params.get("TableName"))]


async def send_stop(endpoints: Endpoints) -> None:
    """A ``stop`` (the only message that writes to the state table from ``$default``)."""
    login = _http(endpoints.http_url + "/login", body={"user_id": "stopper"})
    async with websockets.connect(f"{endpoints.ws_url}?token={login['token']}", proxy=None) as ws:
        await ws.send(json.dumps({"type": "stop", "request_id": "r-stop"}))
        await ws.send(json.dumps({"type": "ping"}))  # answered after the stop was read
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}


async def chat_after_revocation(endpoints: Endpoints, settings: Any) -> None:
    """A chat on a connection whose user was revoked meanwhile: refused and closed (the
    only message after which ``$default`` deletes a connection)."""
    from chatkit.aws.state import StateStore
    from chatkit.aws_clients import dynamodb_client

    login = _http(endpoints.http_url + "/login", body={"user_id": "revoked-user"})
    async with websockets.connect(f"{endpoints.ws_url}?token={login['token']}", proxy=None) as ws:
        await asyncio.sleep(1.1)  # the revocation mark has whole seconds: after the token
        StateStore(settings.state_table_name, dynamodb_client(settings)).revoke("revoked-user")
        await ws.send(json.dumps({"type": "chat", "request_id": "r-revoked", "text": "안녕"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["code"] == "unauthorized"
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)


@pytest.fixture
def recorded_calls(monkeypatch, settings):
    """(route → {(IAM action, table logical id or None)}) of every boto3 call the handlers
    make while one user signs in, chats, stops, reads history and disconnects."""
    calls: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    tables = {settings.table_name: "HistoryTable", settings.state_table_name: "StateTable"}
    real_call = botocore.client.BaseClient._make_api_call

    def spy(client: Any, operation: str, params: dict[str, Any]) -> Any:
        route = _route.get()
        if route is not None:
            for action, table in _authorized_as(client, operation, params):
                calls[route].add((action, tables.get(table)))
        return real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)

    def traced(route: str, handler: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> Any:
            token = _route.set(route)
            try:
                return handler(event, context)
            finally:
                _route.reset(token)

        return run

    handlers = {route: traced(route, aws_handlers()[route]) for route in DEFAULT_ROUTES}
    for name, value in handler_env(settings).items():
        monkeypatch.setenv(name, value)
    with Gateway(handlers, port=0, web_root=None) as gateway:
        from chatkit.aws import handlers as module

        module.cold_start()
        endpoints = Endpoints.local(gateway.url)
        result = asyncio.run(run_smoke(endpoints))
        asyncio.run(send_stop(endpoints))
        asyncio.run(chat_after_revocation(endpoints, settings))
    module.cold_start()
    assert result.ok, result.summary()
    return calls


def allowed(role: str) -> set[tuple[str, str | None]]:
    granted = set()
    for statement in statements(role):
        for action in listed(statement["Action"]):
            for resource in statement["Resource"]:
                table = (
                    resource.get("Fn::GetAtt", [None])[0] if isinstance(resource, dict) else None
                )
                granted.add((action, table if table in ("HistoryTable", "StateTable") else None))
    return granted


def test_each_role_allows_every_call_its_handler_makes(recorded_calls):
    assert set(recorded_calls) == {"$connect", "$disconnect", "$default", "GET /history"}
    for route, calls in recorded_calls.items():
        role = ROLE_OF_ROUTE[route]
        needed = {
            ("execute-api:ManageConnections", None) if a.startswith("execute-api:") else (a, t)
            for a, t in calls
        }
        assert needed <= allowed(role), (route, needed - allowed(role))
    # the management API is used to post and to close: the methods the policy allows
    used = {a for a, _ in recorded_calls["$default"] if a.startswith("execute-api:")}
    assert used == {
        "execute-api:ManageConnections:PostToConnection",
        "execute-api:ManageConnections:DeleteConnection",
    }
    method = {"PostToConnection": "POST", "DeleteConnection": "DELETE"}
    granted = json.dumps(
        [s["Resource"] for s in statements("DefaultRole") if s["Sid"] == "PostToConnections"]
    )
    for action in used:
        assert f"/{method[action.rsplit(':', 1)[1]]}/@connections/*" in granted, action


def test_the_auth_secret_read_at_init_is_allowed_to_exactly_the_functions_given_it(
    monkeypatch, settings, stored_secret
):
    """The backend's init reads the secret named by ``CHATKIT_AUTH_SECRET_ARN`` (moto's
    Secrets Manager here): that one call, and each role whose function gets the ARN allows
    it on that secret — no other role may read it."""
    from chatkit.aws import handlers

    value, secret_env = stored_secret
    arn = secret_env[handlers.SECRET_ARN_VARIABLE]
    calls: list[tuple[str, Any]] = []
    real_call = botocore.client.BaseClient._make_api_call

    def spy(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        calls.append((_iam_action(service, operation), params.get("SecretId")))
        return real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    for name, setting in (handler_env(settings) | secret_env).items():
        monkeypatch.setenv(name, setting)
    handlers.cold_start()
    try:
        assert handlers.backend().settings.auth_secret == value
        handlers.backend()  # warm: not read again
    finally:
        handlers.cold_start()
    assert calls == [("secretsmanager:GetSecretValue", arn)]
    given = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in R.values()
        if f["Type"] == "AWS::Lambda::Function"
        and handlers.SECRET_ARN_VARIABLE in f["Properties"]["Environment"]["Variables"]
    }
    assert given == {"ConnectRole", "HistoryRole", "LoginRole"}
    for role in all_roles():
        readable = [
            s["Resource"]
            for s in statements(role)
            if "secretsmanager:GetSecretValue" in listed(s["Action"])
        ]
        assert readable == ([[{"Ref": "AuthSecret"}]] if role in given else []), role


# -- the permissions boundary of a workshop's stacks (infra/attendee-boundary.json) --------

BOUNDARY = json.loads(
    (Path(__file__).resolve().parents[2] / "infra" / "attendee-boundary.json").read_text()
)
STACK, REGION, ACCOUNT = "chatkit-minsu", "ap-northeast-2", "123456789012"
BASE_MODEL = load_template()["Parameters"]["BaseModelId"]["Default"]
#: Each way a stack's roles differ: sign-in mode × inference profile or bare model id.
SHAPES = [
    {"AuthMode": auth, "ModelId": model, "BaseModelId": BASE_MODEL}
    for auth in ("demo", "cognito")
    for model in (load_template()["Parameters"]["ModelId"]["Default"], BASE_MODEL)
]


def arn_in_stack(value: Any, shape: dict[str, str], resources: dict[str, Any]) -> str:
    """The ARN a role's ``Resource`` names in attendee minsu's ``STACK`` of this ``shape``
    (generated names get a suffix)."""
    if "Fn::Sub" in value:
        values = {
            **shape,
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "BedrockRegion": REGION,
            "WebSocketApi": "a1b2c3d4e5",
            "StageName": "prod",
        }
        return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], value["Fn::Sub"])
    name = value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"]
    kind, props = resources[name]["Type"], resources[name]["Properties"]
    if kind == "AWS::DynamoDB::Table":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-{name}-1A2B3C4D"
    if kind == "AWS::Logs::LogGroup":
        group = arn_in_stack(props["LogGroupName"], shape, resources)
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    if kind == "AWS::SecretsManager::Secret":
        secret = arn_in_stack(props["Name"], shape, resources)
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}-AbC123"
    raise AssertionError(f"teach arn_in_stack {kind} ({name})")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s['AuthMode']}-{s['ModelId']}")
def test_the_boundary_allows_everything_the_roles_policies_grant(shape):
    """Derived from the template (rendered in each shape): every action of every role's
    statement, on the resource it names in attendee minsu's stack, is inside the
    boundary — a stack deployed with it loses nothing."""
    from rehearsal.rehearsal_policy import allows

    resources = render(load_template(), shape)["Resources"]
    granted = [
        (action, arn_in_stack(resource, shape, resources))
        for role in resources.values()
        if role["Type"] == "AWS::IAM::Role"
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in listed(statement["Action"])
        for resource in listed(statement["Resource"])
    ]
    assert len(granted) > 20
    assert [(a, arn) for a, arn in granted if not allows(BOUNDARY, a, arn)] == []


def test_the_boundary_grants_nothing_on_every_resource_or_outside_the_kit():
    from rehearsal.rehearsal_policy import allows

    for statement in BOUNDARY["Statement"]:
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        assert "*" not in listed(statement["Resource"]), statement["Sid"]
        assert not [a for a in listed(statement["Action"]) if a.endswith("*")], statement["Sid"]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    assert not allows(BOUNDARY, "dynamodb:GetItem", table + "prod-users")
    assert not allows(BOUNDARY, "dynamodb:Scan", table + "chatkit-minsu-HistoryTable-1")
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod-db-AbC123"
    assert not allows(BOUNDARY, "secretsmanager:GetSecretValue", secret)
    assert not allows(BOUNDARY, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/chatkit-x")
    assert not allows(BOUNDARY, "s3:GetObject", "arn:aws:s3:::chatkit-artifacts/x")


def test_chatkit_deploy_gives_every_role_of_the_stack_the_boundary(moto_aws, capsys, monkeypatch):
    """``chatkit deploy --permissions-boundary`` against the stand-in account: each role
    CloudFormation creates carries the boundary (moto records it; it does not evaluate
    boundaries — that is the evaluator's part in tests/deploy/rehearsal)."""
    from chatkit.cli import main

    region, stack = "ap-northeast-1", f"chatkit-b{uuid.uuid4().hex[:8]}"
    iam = moto_aws.aws(region).client("iam")
    arn = iam.create_policy(
        PolicyName=f"chatkit-attendee-boundary-{stack}", PolicyDocument=json.dumps(BOUNDARY)
    )["Policy"]["Arn"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", moto_aws.bedrock.url)
    common = ["--stack", stack, "--region", region, "--endpoint-url", moto_aws.url]
    assert main(["deploy", *common, "--permissions-boundary", arn, "--yes"]) == 0
    cloudformation = moto_aws.aws(region).client("cloudformation")
    resources = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    roles = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::IAM::Role"]
    assert len(roles) == 5  # demo sign-in: no authorizer
    for role in roles:
        boundary = iam.get_role(RoleName=role)["Role"].get("PermissionsBoundary", {})
        assert boundary.get("PermissionsBoundaryArn") == arn, role
    assert main(["destroy", *common, "--yes"]) == 0
    capsys.readouterr()


def test_a_transaction_is_read_as_its_items_actions():
    import doctest

    import aws_iam

    assert doctest.testmod(aws_iam).attempted == 2 and doctest.testmod(aws_iam).failed == 0
