"""``infra/attendee-policy.json`` against what no stand-in shows: CloudFormation creates
and deletes the stack's resources with the caller's permissions, and moto's CloudFormation
does that internally (no IAM check) or skips the resource (API Gateway v2, CloudFront,
Secrets Manager, Cognito). So: every resource type of ``infra/template.yaml`` has the
actions its create/update/delete handlers call (from the CloudFormation resource schemas'
``handlers.*.permissions``, the subset our properties use), allowed on the names that
attendee ``minsu``'s stack gets; and the document stays within IAM's limits."""

from __future__ import annotations

import json

import pytest
from rehearsal_policy import POLICY_PATH, allows, decide, load_policy

from chatkit.deploy.template import load_template

pytestmark = pytest.mark.rehearsal

STACK = "chatkit-minsu"
R, A = "ap-northeast-2", "123456789012"

#: resource type → (actions, an ARN of that resource in ``STACK``).
NEEDS = {
    "AWS::DynamoDB::Table": (
        "dynamodb:CreateTable dynamodb:DescribeTable dynamodb:UpdateTable dynamodb:DeleteTable "
        "dynamodb:UpdateTimeToLive dynamodb:DescribeTimeToLive dynamodb:UpdateContinuousBackups "
        "dynamodb:DescribeContinuousBackups dynamodb:TagResource dynamodb:ListTagsOfResource",
        f"arn:aws:dynamodb:{R}:{A}:table/{STACK}-HistoryTable-1A2B3C",
    ),
    "AWS::IAM::Role": (
        "iam:CreateRole iam:GetRole iam:PutRolePolicy iam:GetRolePolicy iam:DeleteRolePolicy "
        "iam:ListRolePolicies iam:ListAttachedRolePolicies iam:DeleteRole iam:TagRole "
        "iam:PassRole",
        f"arn:aws:iam::{A}:role/{STACK}-DefaultRole-1A2B3C",
    ),
    "AWS::Lambda::Function": (
        "lambda:CreateFunction lambda:GetFunction lambda:UpdateFunctionCode "
        "lambda:UpdateFunctionConfiguration lambda:PutFunctionConcurrency "
        "lambda:DeleteFunctionConcurrency lambda:DeleteFunction lambda:TagResource "
        "lambda:ListTags lambda:GetFunctionCodeSigningConfig lambda:GetRuntimeManagementConfig",
        f"arn:aws:lambda:{R}:{A}:function:{STACK}-DefaultFunction-1A2B3C",
    ),
    "AWS::Lambda::Version": (
        "lambda:PublishVersion lambda:ListVersionsByFunction lambda:GetFunctionConfiguration "
        "lambda:DeleteFunction",
        f"arn:aws:lambda:{R}:{A}:function:{STACK}-DefaultFunction-1A2B3C:3",
    ),
    "AWS::Lambda::Permission": (
        "lambda:AddPermission lambda:RemovePermission",
        f"arn:aws:lambda:{R}:{A}:function:{STACK}-DefaultFunction-1A2B3C:3",
    ),
    "AWS::Logs::LogGroup": (
        "logs:CreateLogGroup logs:PutRetentionPolicy logs:DeleteRetentionPolicy "
        "logs:DeleteLogGroup logs:TagResource logs:ListTagsForResource",
        f"arn:aws:logs:{R}:{A}:log-group:/chatkit/{STACK}/ws-default:*",
    ),
    "AWS::S3::Bucket": (
        "s3:CreateBucket s3:PutBucketPublicAccessBlock s3:PutBucketOwnershipControls "
        "s3:PutEncryptionConfiguration s3:GetBucketTagging s3:PutBucketTagging s3:DeleteBucket "
        "s3:ListBucket s3:ListBucketVersions",
        f"arn:aws:s3:::{STACK}-webbucket-1a2b3c",
    ),
    "AWS::S3::BucketPolicy": (
        "s3:PutBucketPolicy s3:GetBucketPolicy s3:DeleteBucketPolicy",
        f"arn:aws:s3:::{STACK}-webbucket-1a2b3c",
    ),
    "AWS::ApiGatewayV2::Api": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:PUT apigateway:DELETE",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3",
    ),
    "AWS::ApiGatewayV2::Authorizer": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:DELETE",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3/authorizers/x1",
    ),
    "AWS::ApiGatewayV2::Integration": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:DELETE",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3/integrations/x1",
    ),
    "AWS::ApiGatewayV2::IntegrationResponse": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:DELETE",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3/integrations/x1/integrationresponses/y",
    ),
    "AWS::ApiGatewayV2::Route": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:DELETE",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3/routes/x1",
    ),
    "AWS::ApiGatewayV2::RouteResponse": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:DELETE",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3/routes/x1/routeresponses/y",
    ),
    "AWS::ApiGatewayV2::Stage": (
        "apigateway:POST apigateway:GET apigateway:PATCH apigateway:DELETE "
        "logs:CreateLogDelivery logs:GetLogDelivery logs:UpdateLogDelivery "
        "logs:DeleteLogDelivery logs:ListLogDeliveries logs:DescribeLogGroups",
        f"arn:aws:apigateway:{R}::/apis/a1b2c3/stages/prod",
    ),
    "AWS::CloudFront::Distribution": (
        "cloudfront:CreateDistribution cloudfront:GetDistribution cloudfront:GetDistributionConfig "
        "cloudfront:UpdateDistribution cloudfront:DeleteDistribution cloudfront:TagResource "
        "cloudfront:ListTagsForResource",
        f"arn:aws:cloudfront::{A}:distribution/E1A2B3C4D5",
    ),
    "AWS::CloudFront::OriginAccessControl": (
        "cloudfront:CreateOriginAccessControl cloudfront:GetOriginAccessControl "
        "cloudfront:UpdateOriginAccessControl cloudfront:DeleteOriginAccessControl",
        f"arn:aws:cloudfront::{A}:origin-access-control/E1A2B3",
    ),
    "AWS::CloudFront::ResponseHeadersPolicy": (
        "cloudfront:CreateResponseHeadersPolicy cloudfront:GetResponseHeadersPolicy "
        "cloudfront:UpdateResponseHeadersPolicy cloudfront:DeleteResponseHeadersPolicy",
        f"arn:aws:cloudfront::{A}:response-headers-policy/0a1b2c",
    ),
    "AWS::SecretsManager::Secret": (
        "secretsmanager:CreateSecret secretsmanager:DescribeSecret secretsmanager:UpdateSecret "
        "secretsmanager:DeleteSecret secretsmanager:TagResource",
        f"arn:aws:secretsmanager:{R}:{A}:secret:{STACK}-auth-secret-a1B2c3",
    ),
    "AWS::Cognito::UserPool": (
        "cognito-idp:CreateUserPool cognito-idp:DescribeUserPool cognito-idp:UpdateUserPool "
        "cognito-idp:DeleteUserPool cognito-idp:SetUserPoolMfaConfig "
        "cognito-idp:GetUserPoolMfaConfig cognito-idp:TagResource",
        f"arn:aws:cognito-idp:{R}:{A}:userpool/{R}_AbC123",
    ),
    "AWS::Cognito::UserPoolClient": (
        "cognito-idp:CreateUserPoolClient cognito-idp:DescribeUserPoolClient "
        "cognito-idp:UpdateUserPoolClient cognito-idp:DeleteUserPoolClient",
        f"arn:aws:cognito-idp:{R}:{A}:userpool/{R}_AbC123",
    ),
}

#: Object-level calls: Lambda reads the code with the caller's permissions; emptying the
#: web bucket deletes every version.
OBJECTS = [
    ("s3:GetObject", f"arn:aws:s3:::chatkit-artifacts-{A}-{R}/{STACK}/lambda/ab12.zip"),
    ("s3:PutObject", f"arn:aws:s3:::chatkit-artifacts-{A}-{R}/{STACK}/lambda/ab12.zip"),
    ("s3:DeleteObjectVersion", f"arn:aws:s3:::{STACK}-webbucket-1a2b3c/index.html"),
    ("s3:PutObject", f"arn:aws:s3:::{STACK}-webbucket-1a2b3c/config.js"),
]

#: The boundary the attendee policy requires on the stack's roles, and what IAM knows of
#: each request CloudFormation makes for the stack (it passes the template's boundary).
BOUNDARY = f"arn:aws:iam::{A}:policy/chatkit-attendee-boundary"
CONTEXT = {
    "aws:PrincipalAccount": A,
    "iam:PermissionsBoundary": BOUNDARY,
    "iam:PassedToService": "lambda.amazonaws.com",
}

#: Calls the generated values need and that have no resource.
NO_RESOURCE = {"AWS::SecretsManager::Secret": "secretsmanager:GetRandomPassword"}


def test_every_resource_type_of_the_template_is_covered():
    types = {resource["Type"] for resource in load_template()["Resources"].values()}
    assert types <= set(NEEDS), f"add to NEEDS and the policy: {sorted(types - set(NEEDS))}"


@pytest.mark.parametrize("kind", sorted(NEEDS))
def test_the_stack_s_resources_can_be_created_and_deleted(kind):
    policy = load_policy()
    actions, arn = NEEDS[kind]
    missing = [a for a in actions.split() if decide(policy, a, arn, CONTEXT) != "Allow"]
    if kind in NO_RESOURCE:
        missing += [a for a in [NO_RESOURCE[kind]] if not allows(policy, a, "*")]
    assert not missing, f"{kind}: {missing} on {arn}"


def test_the_code_and_web_objects_can_be_written_read_and_removed():
    policy = load_policy()
    assert [(a, arn) for a, arn in OBJECTS if not allows(policy, a, arn)] == []


def test_resources_outside_the_kit_are_not_granted():
    """Scoped to the kit's ``chatkit-`` prefix. Attendees sharing one role (a Studio
    execution role) can touch each other's ``chatkit-*`` resources; a role per attendee can
    narrow every ``chatkit-*`` to ``chatkit-<name>-*``."""
    policy = load_policy()
    assert not allows(policy, "dynamodb:DeleteTable", f"arn:aws:dynamodb:{R}:{A}:table/prod-users")
    assert not allows(policy, "s3:DeleteBucket", "arn:aws:s3:::company-data")
    assert not allows(policy, "iam:CreateRole", f"arn:aws:iam::{A}:role/Admin")
    assert not allows(
        policy, "cloudformation:DeleteStack", f"arn:aws:cloudformation:{R}:{A}:stack/prod/1"
    )
    assert not allows(policy, "lambda:InvokeFunction", f"arn:aws:lambda:{R}:{A}:function:other")
    assert not allows(policy, "bedrock:InvokeModel", f"arn:aws:bedrock:{R}::foundation-model/x.y")


def test_first_model_use_and_model_discovery_are_allowed():
    policy = load_policy()
    profile = (
        f"arn:aws:bedrock:{R}:{A}:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    model = "arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"):
        assert allows(policy, action, profile) and allows(policy, action, model)
        assert allows(policy, action, model.replace(":::", f":{R}::"))
    for action in (
        "aws-marketplace:Subscribe",
        "aws-marketplace:Unsubscribe",
        "aws-marketplace:ViewSubscriptions",
        "bedrock:ListInferenceProfiles",
        "bedrock:GetInferenceProfile",
        "bedrock:ListFoundationModels",
        "bedrock:GetFoundationModel",
        "sts:GetCallerIdentity",
    ):
        assert allows(policy, action, "*"), action


def test_the_document_fits_iam_and_names_every_statement():
    policy = load_policy()
    compact = json.dumps(policy, separators=(",", ":"))
    assert len(compact) <= 6144, len(compact)  # a managed policy's limit (whitespace not counted)
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids)) and all(sid.isalnum() for sid in sids)
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" or statement["Sid"] == "KeepTheBoundary"
        actions = (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
        assert not [a for a in actions if a == "*" or a.endswith(":*")], statement["Sid"]
    pass_role = next(s for s in policy["Statement"] if "iam:PassRole" in s["Action"])
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
    }
    assert POLICY_PATH.read_text().endswith("}\n")


def test_the_studio_domain_template_is_valid_and_uses_the_policy():
    """infra/studio-domain.yaml (optional, for instructors): cfn-lint clean; the attendees'
    execution role gets the attendee policy by ARN (one source: the JSON file), and spaces
    stop after an idle hour at most."""
    from cfnlint.api import lint_file

    from chatkit.deploy.template import load_template

    path = POLICY_PATH.with_name("studio-domain.yaml")
    assert [str(m) for m in lint_file(path)] == []
    template = load_template(path.read_text())
    role = template["Resources"]["AttendeeRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [{"Ref": "AttendeePolicyArn"}]
    assert "Policies" not in role  # nothing granted beside the attendee policy
    lab = template["Resources"]["Domain"]["Properties"]["DefaultUserSettings"]
    idle = lab["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"]
    assert idle["LifecycleManagement"] == "ENABLED"
    assert template["Parameters"]["IdleMinutes"]["Default"] <= 60


# -- no way past the policy through the stack's roles (permissions boundary) --------------

ROLE = f"arn:aws:iam::{A}:role/{STACK}-DefaultRole-1A2B3C"
ACCOUNT = {"aws:PrincipalAccount": A}


def test_a_role_is_created_only_with_the_chatkit_boundary():
    """Without it an attendee could create a ``chatkit-*`` role with any inline policy and
    pass it to Lambda: more than the policy grants. ``iam:PermissionsBoundary`` is the
    boundary the request sets; the account is the caller's own."""
    policy = load_policy()
    other_account = BOUNDARY.replace(A, "210987654321")
    for boundary in (None, f"arn:aws:iam::{A}:policy/AdministratorAccess", other_account):
        context = ACCOUNT if boundary is None else {**ACCOUNT, "iam:PermissionsBoundary": boundary}
        assert decide(policy, "iam:CreateRole", ROLE, context) == "ImplicitDeny", boundary
    assert decide(policy, "iam:CreateRole", ROLE, CONTEXT) == "Allow"


def test_inline_policies_go_only_on_roles_within_the_boundary():
    """For ``PutRolePolicy`` / ``AttachRolePolicy`` IAM sets ``iam:PermissionsBoundary`` to
    the boundary the role already has: a role of an older stack (none) or someone else's
    ``chatkit-*`` role without it cannot be given a policy; ``PutRolePermissionsBoundary``
    may set only the chatkit boundary. Attaching managed policies is not granted at all."""
    policy = load_policy()
    for action in ("iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"):
        assert decide(policy, action, ROLE, ACCOUNT) == "ImplicitDeny", action
    assert decide(policy, "iam:PutRolePolicy", ROLE, CONTEXT) == "Allow"
    assert decide(policy, "iam:PutRolePermissionsBoundary", ROLE, CONTEXT) == "Allow"
    assert decide(policy, "iam:AttachRolePolicy", ROLE, CONTEXT) == "ImplicitDeny"


def test_the_boundary_cannot_be_removed_or_changed():
    policy = load_policy()
    assert decide(policy, "iam:DeleteRolePermissionsBoundary", ROLE, CONTEXT) == "Deny"
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        assert decide(policy, action, BOUNDARY, CONTEXT) == "ImplicitDeny", action


def test_every_grant_that_can_widen_a_role_needs_the_boundary():
    """Each Allow statement that, without its condition, would grant a role-widening IAM
    action on the stack's role carries exactly the boundary condition."""
    widening = ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy")
    widening += ("iam:PutRolePermissionsBoundary",)
    required = {
        "StringEquals": {"iam:PermissionsBoundary": BOUNDARY.replace(A, "${aws:PrincipalAccount}")}
    }
    for statement in load_policy()["Statement"]:
        unconditional = {"Statement": [{**statement, "Condition": {}}]}
        if statement["Effect"] == "Allow" and any(
            decide(unconditional, action, ROLE) == "Allow" for action in widening
        ):
            assert statement.get("Condition") == required, statement["Sid"]


def test_secrets_are_only_the_kit_s():
    policy = load_policy()
    mine = f"arn:aws:secretsmanager:{R}:{A}:secret:{STACK}-auth-secret-a1B2c3"
    other = f"arn:aws:secretsmanager:{R}:{A}:secret:prod/db-password-a1B2c3"
    for action in ("secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"):
        assert decide(policy, action, mine, CONTEXT) == "Allow", action
        assert decide(policy, action, other, CONTEXT) == "ImplicitDeny", action
    assert decide(policy, "secretsmanager:GetSecretValue", mine, CONTEXT) == "ImplicitDeny"


def test_the_boundary_is_one_document_in_the_studio_domain_and_the_json_file():
    """infra/attendee-boundary.json (``aws iam create-policy``) and the instructors'
    studio-domain.yaml create the same policy, under the name the attendee policy names."""
    path = POLICY_PATH.with_name("studio-domain.yaml")
    boundary = load_template(path.read_text())["Resources"]["AttendeeBoundary"]
    assert boundary["Type"] == "AWS::IAM::ManagedPolicy"
    assert boundary["Properties"]["ManagedPolicyName"] == BOUNDARY.rsplit("/", 1)[1]
    document = json.loads(POLICY_PATH.with_name("attendee-boundary.json").read_text())
    assert boundary["Properties"]["PolicyDocument"] == document
