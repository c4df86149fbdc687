"""infra/template.yaml against the issue's requirements and against the code: routes and
handlers equal DEFAULT_ROUTES, the ping route really answers pong, the functions'
environment is what Settings reads, and the resources have the promised settings — in both
sign-in modes (``AuthMode`` demo and cognito, each rendered as CloudFormation would)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chatkit.aws.handlers import RELEASE_VARIABLE, SECRET_ARN_VARIABLE
from chatkit.config import Settings
from chatkit.deploy.template import load_template, render, template_text
from chatkit.local._invoker import AUTHORIZER, DEFAULT_ROUTES
from chatkit.protocol import PingMessage, parse_client_message

T = load_template()
R = T["Resources"]
HANDLER_MODULE = "chatkit.aws.handlers"
MODES = ("demo", "cognito")
#: The template in each sign-in mode, conditions decided.
RENDERED = {auth: render(T, {"AuthMode": auth}) for auth in MODES}


def of_type(kind: str, resources: dict[str, Any] = R) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def sub_refs(value: Any) -> set[str]:
    """Resources and parameters a ``!Sub`` string refers to (pseudo parameters left out)."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    names = {m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", text)}
    return {name for name in names if not name.startswith("AWS::")}


def function_of_uri(uri: Any, resources: dict[str, Any] = R) -> dict[str, Any]:
    """An integration's or authorizer's URI → the Lambda version it calls → its function."""
    (version,) = {uri["Ref"]} if "Ref" in uri else sub_refs(uri)
    assert resources[version]["Type"] == "AWS::Lambda::Version", version
    return resources[resources[version]["Properties"]["FunctionName"]["Ref"]]


def function_of_integration(integration: dict[str, Any], resources=R) -> dict[str, Any]:
    return function_of_uri(integration["Properties"]["IntegrationUri"], resources)


def routes_of(api: str, resources: dict[str, Any] = R) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RouteKey"]: r
        for r in of_type("AWS::ApiGatewayV2::Route", resources).values()
        if r["Properties"]["ApiId"] == {"Ref": api}
    }


def integration_name(route: dict[str, Any]) -> str:
    (name,) = sub_refs(route["Properties"]["Target"])
    return name


def integration_of(route: dict[str, Any]) -> dict[str, Any]:
    return R[integration_name(route)]


@pytest.mark.parametrize("auth", MODES)
def test_every_route_runs_the_handler_the_local_gateway_runs(auth):
    resources = RENDERED[auth]["Resources"]
    served = {}
    for api in ("WebSocketApi", "HttpApi"):
        for key, route in routes_of(api, resources).items():
            integration = resources[integration_name(route)]
            if integration["Properties"]["IntegrationType"] == "MOCK":
                continue
            assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
            function = function_of_integration(integration, resources)
            served[key] = function["Properties"]["Handler"]
    for authorizer in of_type("AWS::ApiGatewayV2::Authorizer", resources).values():
        if authorizer["Properties"]["AuthorizerType"] == "REQUEST":
            function = function_of_uri(authorizer["Properties"]["AuthorizerUri"], resources)
            served[AUTHORIZER] = function["Properties"]["Handler"]
    expected = {key: f"{HANDLER_MODULE}.{name}" for key, name in DEFAULT_ROUTES.items()}
    del expected[{"demo": AUTHORIZER, "cognito": "POST /login"}[auth]]
    assert served == expected


def test_connect_is_authorized_by_the_cognito_authorizer_only_in_cognito_mode():
    demo = RENDERED["demo"]["Resources"]
    assert routes_of("WebSocketApi", demo)["$connect"]["Properties"]["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in routes_of("WebSocketApi", demo)["$connect"]["Properties"]
    assert not of_type("AWS::ApiGatewayV2::Authorizer", demo)

    resources = RENDERED["cognito"]["Resources"]
    connect = routes_of("WebSocketApi", resources)["$connect"]["Properties"]
    assert (connect["AuthorizationType"], connect["AuthorizerId"]) == (
        "CUSTOM",
        {"Ref": "WebSocketAuthorizer"},
    )
    authorizer = resources["WebSocketAuthorizer"]["Properties"]
    assert authorizer["ApiId"] == {"Ref": "WebSocketApi"}
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    # API Gateway may invoke exactly the version the authorizer calls, for this authorizer
    (permission,) = [
        p
        for p in of_type("AWS::Lambda::Permission", resources).values()
        if "WebSocketAuthorizer" in sub_refs(p["Properties"]["SourceArn"])
    ]
    assert permission["Properties"]["FunctionName"] == {"Ref": "AuthorizeVersion"}
    assert {"AuthorizeVersion"} == sub_refs(authorizer["AuthorizerUri"])
    assert permission["Properties"]["SourceArn"]["Fn::Sub"].endswith(
        ":${WebSocketApi}/authorizers/${WebSocketAuthorizer}"
    )


def test_history_needs_a_cognito_access_token_of_the_app_client_in_cognito_mode():
    demo = RENDERED["demo"]["Resources"]
    assert routes_of("HttpApi", demo)["GET /history"]["Properties"]["AuthorizationType"] == "NONE"

    resources = RENDERED["cognito"]["Resources"]
    history = routes_of("HttpApi", resources)["GET /history"]["Properties"]
    assert (history["AuthorizationType"], history["AuthorizerId"]) == (
        "JWT",
        {"Ref": "HttpJwtAuthorizer"},
    )
    authorizer = resources["HttpJwtAuthorizer"]["Properties"]
    assert authorizer["ApiId"] == {"Ref": "HttpApi"} and authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    jwt = authorizer["JwtConfiguration"]
    assert jwt["Audience"] == [{"Ref": "UserPoolClient"}]  # the client_id claim
    # the issuer is the one the backend verifies (Settings.cognito_issuer)
    pool = Settings(region="eu-west-1", cognito_user_pool_id="eu-west-1_Ab12")
    issuer = jwt["Issuer"]["Fn::Sub"]
    assert (
        issuer.replace("${AWS::Region}", pool.region).replace(
            "${UserPool}", pool.cognito_user_pool_id
        )
        == pool.cognito_issuer
    )


def test_demo_sign_in_exists_only_in_demo_mode():
    demo, cognito = (RENDERED[auth]["Resources"] for auth in MODES)
    assert set(routes_of("HttpApi", demo)) == {"GET /history", "POST /login"}
    assert set(routes_of("HttpApi", cognito)) == {"GET /history"}
    assert not [name for name in cognito if name.startswith("Login")]
    assert not [name for name in demo if name.startswith(("Authorize", "UserPool"))]


def test_user_pool_lets_an_administrator_create_users_who_sign_in_with_srp():
    resources = RENDERED["cognito"]["Resources"]
    pool = resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no self sign-up
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 8
    assert "UsernameAttributes" not in pool  # sign-in with a user name; e-mail optional
    assert pool["DeletionProtection"] == "INACTIVE"  # `chatkit destroy` removes it
    invite = pool["AdminCreateUserConfig"]["InviteMessageTemplate"]
    for message in (invite["EmailMessage"], invite["SMSMessage"]):  # Korean and English
        assert "{username}" in message and "{####}" in message
    client = resources["UserPoolClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "UserPool"} and client["GenerateSecret"] is False
    # the password never leaves the browser: SRP only, no USER_PASSWORD_AUTH
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    validity = {
        kind: (client[f"{kind}Validity"], client["TokenValidityUnits"][kind])
        for kind in ("AccessToken", "RefreshToken")
    }
    assert validity == {"AccessToken": (15, "minutes"), "RefreshToken": (1, "days")}
    assert client["EnableTokenRevocation"] is True
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    outputs = RENDERED["cognito"]["Outputs"]
    assert outputs["UserPoolId"]["Value"] == {"Ref": "UserPool"}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": "UserPoolClient"}
    assert not {"UserPoolId", "UserPoolClientId"} & set(RENDERED["demo"]["Outputs"])
    assert T["Outputs"]["AuthMode"]["Value"] == {"Ref": "AuthMode"}


def test_routes_are_selected_by_the_message_type_and_ping_is_a_mock_route():
    api = R["WebSocketApi"]["Properties"]
    assert (api["ProtocolType"], api["RouteSelectionExpression"]) == (
        "WEBSOCKET",
        "$request.body.type",
    )
    keys = set(routes_of("WebSocketApi"))
    assert keys == {"$connect", "$disconnect", "$default", "ping"}
    # the route key is the "type" of the protocol's ping message
    assert isinstance(parse_client_message(json.dumps({"type": "ping"})), PingMessage)


def test_ping_route_sends_pong_without_a_function():
    route = routes_of("WebSocketApi")["ping"]
    integration = integration_of(route)["Properties"]
    assert integration["IntegrationType"] == "MOCK"
    assert json.loads(integration["RequestTemplates"]["$default"]) == {"statusCode": 200}
    # an integration response turns the mock's 200 into the pong frame …
    (response,) = of_type("AWS::ApiGatewayV2::IntegrationResponse").values()
    response = response["Properties"]
    assert response["IntegrationId"] == {"Ref": integration_name(route)}
    assert response["IntegrationResponseKey"] == "$default"
    assert json.loads(response["ResponseTemplates"]["$default"]) == {"type": "pong"}
    # … and a route response makes the route two-way, so API Gateway sends it back.
    assert route["Properties"]["RouteResponseSelectionExpression"] == "$default"
    (route_response,) = of_type("AWS::ApiGatewayV2::RouteResponse").values()
    assert route_response["Properties"]["RouteId"] == {"Ref": "PingRoute"}
    assert route_response["Properties"]["RouteResponseKey"] == "$default"


@pytest.mark.parametrize("name", sorted(of_type("AWS::Lambda::Function")))
def test_functions_are_python312_x86_with_their_own_log_group(name):
    props = R[name]["Properties"]
    assert props["Runtime"] == "python3.12" and props["Architectures"] == ["x86_64"]
    log_group = R[props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert props["SnapStart"]["Fn::If"][0] == "UseSnapStart"


def test_every_log_group_has_retention():
    for name, group in of_type("AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_default_function_outlives_the_integration_timeout():
    props = R["DefaultFunction"]["Properties"]
    assert props["Timeout"] >= 120 and props["MemorySize"] >= 1024  # 29 s at API Gateway


#: A value for each variable the template sets (the cognito ones as the template resolves).
SAMPLES = {
    "CHATKIT_MODE": "aws",
    "CHATKIT_REGION": "eu-west-1",
    "CHATKIT_BEDROCK_REGION": "us-east-1",
    "CHATKIT_MODEL_ID": "us.anthropic.claude-x-v1:0",
    "CHATKIT_TABLE": "t1",
    "CHATKIT_STATE_TABLE": "t2",
    "CHATKIT_TTL_DAYS": "7",
    "CHATKIT_READ_TIMEOUT": "61",
    "CHATKIT_MAX_ATTEMPTS": "2",
    "CHATKIT_AUTH": "cognito",
    "CHATKIT_COGNITO_USER_POOL_ID": "eu-west-1_Ab12",
    "CHATKIT_COGNITO_CLIENT_ID": "client1",
}
COGNITO_POOL = {name: SAMPLES[name] for name in SAMPLES if name.startswith("CHATKIT_COGNITO_")}


#: Set by the template for chatkit.aws.handlers, not for Settings.
NOT_SETTINGS = {SECRET_ARN_VARIABLE, RELEASE_VARIABLE}


def test_function_environment_is_what_settings_reads():
    """Every variable the template sets changes Settings (no typo silently ignored), except
    the two the handler module itself uses."""
    for function in of_type("AWS::Lambda::Function").values():
        for variable in set(function["Properties"]["Environment"]["Variables"]) - NOT_SETTINGS:
            # cognito sign-in is refused without its pool: compare with the pool set
            context = COGNITO_POOL if variable == "CHATKIT_AUTH" else {}
            base = Settings.from_env({"CHATKIT_MODE": "offline", **context})
            env = {"CHATKIT_MODE": "offline", **context, variable: SAMPLES[variable]}
            assert Settings.from_env(env) != base, variable


@pytest.mark.parametrize("auth", MODES)
def test_every_function_starts_with_the_sign_in_of_its_stack(auth):
    """Each function's environment, with the references resolved, gives Settings of this
    AuthMode (cognito: with the stack's pool and app client, or Settings would refuse)."""
    resolved = {"AuthMode": auth, "UserPool": "eu-west-1_Ab12", "UserPoolClient": "client1"}
    for name, function in of_type("AWS::Lambda::Function", RENDERED[auth]["Resources"]).items():
        variables = function["Properties"]["Environment"]["Variables"]
        env = {
            key: resolved.get(value.get("Ref"), "x") if isinstance(value, dict) else str(value)
            for key, value in variables.items()
        }
        settings = Settings.from_env({**env, "CHATKIT_TTL_DAYS": "7"})
        assert settings.auth == auth, name
        if auth == "cognito":
            assert variables["CHATKIT_COGNITO_USER_POOL_ID"] == {"Ref": "UserPool"}, name
            assert variables["CHATKIT_COGNITO_CLIENT_ID"] == {"Ref": "UserPoolClient"}, name
        else:
            assert not {k for k in variables if k.startswith("CHATKIT_COGNITO_")}, name


def test_ttl_days_and_model_parameters_reach_the_streaming_function():
    variables = R["DefaultFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CHATKIT_TTL_DAYS"] == {"Ref": "TtlDays"}
    assert variables["CHATKIT_MODEL_ID"] == {"Ref": "ModelId"}
    assert variables["CHATKIT_BEDROCK_REGION"] == {"Ref": "BedrockRegion"}
    assert {"ModelId", "BedrockRegion", "StageName", "TtlDays"} <= set(T["Parameters"])


def test_history_table_is_on_demand_with_ttl_and_point_in_time_recovery():
    props = R["HistoryTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"]["Enabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_stages_are_throttled_and_log_access():
    for name in ("WebSocketStage", "HttpStage"):
        props = R[name]["Properties"]
        settings = props["DefaultRouteSettings"]
        assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
        logs = props["AccessLogSettings"]
        if "Fn::If" in logs:  # WebSocket access logs need the account's CloudWatch role
            logs = logs["Fn::If"][1]
        assert R[logs["DestinationArn"]["Fn::GetAtt"][0]]["Type"] == "AWS::Logs::LogGroup"


def test_http_api_allows_only_the_web_clients_origin():
    cors = R["HttpApi"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [{"Fn::Sub": "https://${WebDistribution.DomainName}"}]
    assert "authorization" in cors["AllowHeaders"]  # the bearer token of /history


def test_web_bucket_is_private_and_read_only_by_cloudfront():
    block = R["WebBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"),
        True,
    )
    (origin,) = R["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    statements = R["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1 and allows[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allows[0]["Action"] == "s3:GetObject"
    assert "WebDistribution" in sub_refs(allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"])


def test_outputs_name_every_endpoint():
    assert {"WebUrl", "WebSocketUrl", "ConnectionsUrl", "HttpApiUrl", "HistoryUrl"} <= set(
        T["Outputs"]
    )
    assert T["Outputs"]["TableName"]["Value"] == {"Ref": "HistoryTable"}
    assert T["Outputs"]["WebSocketUrl"]["Value"]["Fn::Sub"].startswith("wss://")


def test_template_fits_in_a_create_change_set_call():
    assert len(template_text().encode()) < 51_200  # TemplateBody limit


# -- the stack as AWS really behaves (issue 13 A) ----------------------------------------


def references(value: Any) -> set[str]:
    """Every parameter and resource ``value`` refers to (``Ref``, ``GetAtt``, ``Sub``)."""
    if isinstance(value, list):
        return set().union(*map(references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref":
            found.add(item)
        elif key == "Fn::GetAtt":
            found.add(item[0])
        elif key == "Fn::Sub":
            text, variables = (item, {}) if isinstance(item, str) else item
            found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= references(variables)
        else:
            found |= references(item)
    return found - {"AWS::NoValue"}


@pytest.mark.parametrize("auth", MODES)
def test_every_version_is_replaced_only_together_with_a_change_of_its_function(auth):
    """Lambda publishes no version of an unchanged function: a replaced
    ``AWS::Lambda::Version`` of a function whose code and configuration did not change
    fails ("A version for this Lambda function exists") and the update rolls back. So
    whatever a version's properties refer to (e.g. ReleaseId in its Description), its
    function's properties refer to as well: when the one changes, so does the other."""
    resources = RENDERED[auth]["Resources"]
    versions = of_type("AWS::Lambda::Version", resources)
    assert len(versions) == len(of_type("AWS::Lambda::Function", resources))
    for name, version in versions.items():
        props = dict(version["Properties"])
        function = resources[props.pop("FunctionName")["Ref"]]
        changing = references(props)
        assert changing, f"{name}: nothing replaces it, so nothing publishes a new version"
        missing = changing - references(function["Properties"])
        assert not missing, f"{name} changes with {missing}, its function does not"


def test_no_secret_sits_in_a_lambda_environment_variable():
    """The functions that sign or verify demo tokens or history cursors get the secret's
    ARN (and may read that one secret); none gets its value."""
    needs = {
        "demo": {"ConnectFunction", "HistoryFunction", "LoginFunction"},
        "cognito": {"HistoryFunction"},  # cursors; tokens are Cognito's
    }
    for auth in MODES:
        resources = RENDERED[auth]["Resources"]
        functions = of_type("AWS::Lambda::Function", resources)
        assert "resolve:secretsmanager" not in json.dumps(functions)
        given = {
            name
            for name, f in functions.items()
            if f["Properties"]["Environment"]["Variables"].get(SECRET_ARN_VARIABLE)
            == {"Ref": "AuthSecret"}
        }
        assert given == needs[auth], auth
        for name, function in functions.items():
            role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
            granted = [
                s
                for p in role["Properties"]["Policies"]
                for s in p["PolicyDocument"]["Statement"]
                if "secretsmanager" in json.dumps(s["Action"])
            ]
            expected = [("secretsmanager:GetSecretValue", {"Ref": "AuthSecret"})]
            assert [(s["Action"], s["Resource"]) for s in granted] == (
                expected if name in given else []
            ), (auth, name)


def test_a_stalled_model_call_ends_with_an_error_frame_before_lambda_kills_the_chat():
    """The model client's whole budget — every attempt waiting its connect and read
    timeouts, plus botocore's longest backoffs — and then storing the turn and posting the
    error frame end inside the chat function's Timeout (else Lambda kills it silently: no
    ``error``/``end`` frame, the generation lease held). Values from the template (the
    function's environment) and the real clients' configuration."""
    from botocore.retries.standard import ExponentialBackoff

    from chatkit.aws_clients import bedrock_runtime_client, management_client
    from chatkit.session import SAVE_RETRY_SECONDS

    props = R["DefaultFunction"]["Properties"]
    variables = props["Environment"]["Variables"]
    env = {k: str(v) for k, v in variables.items() if not isinstance(v, dict)}
    loopback = "http://127.0.0.1:9"  # clients are only built, never called
    settings = Settings.from_env(
        env | {"CHATKIT_MODE": "offline", "CHATKIT_BEDROCK_ENDPOINT": loopback}
    ).with_(dynamodb_endpoint=loopback)

    def worst_case(config: Any) -> float:
        attempts = config.retries["total_max_attempts"]
        waits = attempts * (config.connect_timeout + config.read_timeout)
        backoff = sum(
            min(ExponentialBackoff._BASE ** (n - 1), ExponentialBackoff._MAX_BACKOFF)
            + getattr(ExponentialBackoff, "_RETRY_AFTER_MAX_ADDITIONAL", 0)
            for n in range(1, attempts)
        )
        return waits + backoff

    model = bedrock_runtime_client(settings).meta.config
    assert model.read_timeout == settings.read_timeout  # the template's, else the default
    finish = SAVE_RETRY_SECONDS + worst_case(management_client(settings, loopback).meta.config)
    margin = 15
    assert worst_case(model) + finish + margin <= props["Timeout"], (
        worst_case(model),
        finish,
        props["Timeout"],
    )
    # a lease outlives the function that holds it (a crash frees it, a long answer keeps it)
    assert settings.generation_lease_seconds >= props["Timeout"]


def test_websocket_lambda_integrations_use_post():
    for name, integration in of_type("AWS::ApiGatewayV2::Integration").items():
        props = integration["Properties"]
        if props["ApiId"] == {"Ref": "WebSocketApi"} and props["IntegrationType"] == "AWS_PROXY":
            assert props.get("IntegrationMethod") == "POST", name


def test_the_chat_function_has_a_reserved_concurrency_limit_by_default():
    """A cost guard: at most ChatConcurrency answers stream at once (0 = unreserved)."""
    parameter = T["Parameters"]["ChatConcurrency"]
    assert parameter["Type"] == "Number" and 0 < parameter["Default"] <= 100
    assert parameter["MinValue"] == 0
    limited = RENDERED["demo"]["Resources"]["DefaultFunction"]["Properties"]
    assert limited["ReservedConcurrentExecutions"] == {"Ref": "ChatConcurrency"}
    unreserved = render(T, {"ChatConcurrency": "0"})["Resources"]["DefaultFunction"]
    assert "ReservedConcurrentExecutions" not in unreserved["Properties"]
    for name, function in of_type("AWS::Lambda::Function").items():
        if name != "DefaultFunction":
            assert "ReservedConcurrentExecutions" not in function["Properties"], name


def test_web_client_is_served_with_a_content_security_policy():
    config = R["WebDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert config["ResponseHeadersPolicyId"] == {"Ref": "WebHeadersPolicy"}
    policy = R["WebHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = policy["SecurityHeadersConfig"]
    csp = headers["ContentSecurityPolicy"]
    assert csp["Override"] is True
    directives = {
        part.split()[0]: part.split()[1:]
        for part in csp["ContentSecurityPolicy"]["Fn::Sub"].split(";")
    }
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    connect = directives["connect-src"]
    assert connect[0] == "'self'"
    # the endpoints the page calls: the WebSocket API and the HTTP API of this stack, and
    # Cognito's API in cognito mode (config.js names them; see web_client_config)
    assert "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}" in connect
    assert "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}" in connect
    assert "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}" in connect
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["FrameOptions"]["FrameOption"] == "DENY"


BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/chatkit-attendee-boundary"


@pytest.mark.parametrize("auth", MODES)
def test_every_role_carries_the_permissions_boundary_when_it_is_set(auth):
    """An attendee policy lets roles be created only with its boundary: every role of the
    stack gets the ``PermissionsBoundary`` parameter, and none gets a boundary without it."""
    bounded = render(T, {"AuthMode": auth, "PermissionsBoundary": BOUNDARY_ARN})["Resources"]
    roles = of_type("AWS::IAM::Role", bounded)
    assert roles and {
        name: role["Properties"].get("PermissionsBoundary") for name, role in roles.items()
    } == {name: {"Ref": "PermissionsBoundary"} for name in roles}
    unbounded = of_type("AWS::IAM::Role", RENDERED[auth]["Resources"])
    assert [n for n, r in unbounded.items() if "PermissionsBoundary" in r["Properties"]] == []
    assert re.fullmatch(T["Parameters"]["PermissionsBoundary"]["AllowedPattern"], BOUNDARY_ARN)
    assert T["Parameters"]["PermissionsBoundary"]["Default"] == ""


def test_the_auth_secret_is_named_after_the_stack():
    """A name under the stack's (``chatkit-…``) lets the attendee policy scope Secrets
    Manager to ``secret:chatkit-*``; the functions get the ARN (``Ref``), not the name."""
    secret = of_type("AWS::SecretsManager::Secret")
    assert [s["Properties"]["Name"] for s in secret.values()] == [
        {"Fn::Sub": "${AWS::StackName}-auth-secret"}
    ]


def test_deploy_sets_the_boundary_from_its_option_or_the_environment(monkeypatch):
    """``StackConfig.permissions_boundary`` (``chatkit deploy --permissions-boundary``)
    defaults to ``CHATKIT_PERMISSIONS_BOUNDARY``; the old call form still works; a value
    that is not a managed policy ARN is refused before anything is deployed."""
    from chatkit.deploy.stack import StackConfig

    monkeypatch.delenv("CHATKIT_PERMISSIONS_BOUNDARY", raising=False)
    assert StackConfig("chatkit-minsu").template_parameters()["PermissionsBoundary"] == ""
    monkeypatch.setenv("CHATKIT_PERMISSIONS_BOUNDARY", BOUNDARY_ARN)
    parameters = StackConfig("chatkit-minsu").template_parameters()
    assert parameters["PermissionsBoundary"] == BOUNDARY_ARN
    roles = of_type("AWS::IAM::Role", render(T, parameters)["Resources"])
    assert all("PermissionsBoundary" in role["Properties"] for role in roles.values())
    explicit = StackConfig("chatkit-minsu", permissions_boundary="")
    assert explicit.template_parameters()["PermissionsBoundary"] == ""
    with pytest.raises(ValueError, match=r"권한 경계.*managed policy ARN"):
        StackConfig("chatkit-minsu", permissions_boundary="chatkit-attendee-boundary")
