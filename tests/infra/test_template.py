"""infra/template.yaml against the issue's requirements and against the code: routes and
handlers equal DEFAULT_ROUTES, the ping route really answers pong, the functions'
environment is what Settings reads, and the resources have the promised settings."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chatkit.config import Settings
from chatkit.deploy.template import load_template, template_text
from chatkit.local._invoker import DEFAULT_ROUTES
from chatkit.protocol import PingMessage, parse_client_message

T = load_template()
R = T["Resources"]
HANDLER_MODULE = "chatkit.aws.handlers"


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in R.items() if r["Type"] == kind}


def sub_refs(value: Any) -> set[str]:
    """Resources and parameters a ``!Sub`` string refers to (pseudo parameters left out)."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    names = {m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", text)}
    return {name for name in names if not name.startswith("AWS::")}


def function_of_integration(integration: dict[str, Any]) -> dict[str, Any]:
    """Integration → the Lambda version it calls → that version's function."""
    uri = integration["Properties"]["IntegrationUri"]
    (version,) = {uri["Ref"]} if "Ref" in uri else sub_refs(uri)
    assert R[version]["Type"] == "AWS::Lambda::Version", version
    return R[R[version]["Properties"]["FunctionName"]["Ref"]]


def routes_of(api: str) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RouteKey"]: r
        for r in of_type("AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": api}
    }


def integration_name(route: dict[str, Any]) -> str:
    (name,) = sub_refs(route["Properties"]["Target"])
    return name


def integration_of(route: dict[str, Any]) -> dict[str, Any]:
    return R[integration_name(route)]


def test_every_route_runs_the_handler_the_local_gateway_runs():
    served = {}
    for api in ("WebSocketApi", "HttpApi"):
        for key, route in routes_of(api).items():
            integration = integration_of(route)
            if integration["Properties"]["IntegrationType"] == "MOCK":
                continue
            assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
            served[key] = function_of_integration(integration)["Properties"]["Handler"]
    assert served == {key: f"{HANDLER_MODULE}.{name}" for key, name in DEFAULT_ROUTES.items()}


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


def test_function_environment_is_what_settings_reads():
    """Every variable the template sets changes Settings (no typo silently ignored)."""
    samples = {
        "CHATKIT_MODE": "aws",
        "CHATKIT_REGION": "eu-west-1",
        "CHATKIT_BEDROCK_REGION": "us-east-1",
        "CHATKIT_MODEL_ID": "us.anthropic.claude-x-v1:0",
        "CHATKIT_TABLE": "t1",
        "CHATKIT_STATE_TABLE": "t2",
        "CHATKIT_TTL_DAYS": "7",
        "CHATKIT_AUTH_SECRET": "s3cret",
    }
    base = Settings.from_env({"CHATKIT_MODE": "offline"})
    for function in of_type("AWS::Lambda::Function").values():
        for variable in function["Properties"]["Environment"]["Variables"]:
            env = {"CHATKIT_MODE": "offline", variable: samples[variable]}
            assert Settings.from_env(env) != base, variable


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
    assert set(routes_of("HttpApi")) == {"GET /history", "POST /login"}


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
