"""``infra/attendee-policy.json`` as the rehearsal uses it: what each recorded AWS call
needs (IAM action + resource ARN), a small evaluator of the real, resource-scoped policy,
and the projection moto can enforce.

moto's IAM enforcement checks every service but S3 against resource ``*`` (so a scoped
statement never matches there), denies any statement with a ``Condition`` it cannot
evaluate, and names some S3 calls by its own names. The projection therefore keeps the
actions, sets ``Resource`` to ``*`` outside S3, drops conditions, and adds moto's S3 names
(:data:`MOTO_S3_NAMES`; for ``s3:DeleteObjects`` also the bucket ARN, which moto checks
where AWS checks each object's); the resources are checked separately, here, against the
real policy (:func:`allows`).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from aws_iam import transaction_items

POLICY_PATH = Path(__file__).resolve().parents[3] / "infra" / "attendee-policy.json"

#: moto's name for an S3 request → the IAM action AWS checks for it.
MOTO_S3_NAMES = {
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}

#: moto checks these object-level calls against the bucket's ARN (AWS: each object's).
MOTO_ON_BUCKET = {"s3:DeleteObjects"}

#: botocore operation → IAM action, where the two differ (else ``<signing name>:<op>``).
IAM_ACTIONS = {
    ("bedrock", "Converse"): "bedrock:InvokeModel",
    ("bedrock", "ConverseStream"): "bedrock:InvokeModelWithResponseStream",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("apigateway", "GetAccount"): "apigateway:GET",
}

PROFILE_PREFIXES = ("global", "us", "eu", "apac", "jp", "au", "ca")


def load_policy() -> dict[str, Any]:
    return json.loads(POLICY_PATH.read_text())


def project_for_moto(policy: dict[str, Any]) -> dict[str, Any]:
    """The projection moto can enforce (see the module docstring)."""
    projected = copy.deepcopy(policy)
    for statement in projected["Statement"]:
        statement.pop("Condition", None)
        actions = _listed(statement["Action"])
        if all(a.startswith("s3:") for a in actions):
            granted = [
                moto_name
                for moto_name, iam_name in MOTO_S3_NAMES.items()
                if any(_matches(pattern, iam_name) for pattern in actions)
            ]
            statement["Action"] = actions + granted
            if any(name in MOTO_ON_BUCKET for name in granted):
                resources = _listed(statement["Resource"])
                statement["Resource"] = resources + [r.split("/", 1)[0] for r in resources]
        else:
            statement["Resource"] = "*"
    return projected


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(pattern: str, value: str) -> bool:
    """IAM wildcard matching (``*`` any run, ``?`` one character; case-insensitive for
    actions, as IAM does — resources here are lowercase anyway)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE) is not None


def allows(policy: dict[str, Any], action: str, resource: str) -> str | None:
    """The Sid of the Allow statement that grants ``action`` on ``resource`` (conditions
    are not evaluated), or None."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        if any(_matches(p, action) for p in _listed(statement["Action"])) and any(
            _matches(p, resource) for p in _listed(statement["Resource"])
        ):
            return statement.get("Sid", "?")
    return None


#: Condition operators :func:`decide` evaluates (case-sensitive string / ARN comparison).
_OPERATORS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": _matches,
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": _matches,
}


def decide(
    policy: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None
) -> str:
    """IAM's decision for one request under this identity policy alone: ``"Deny"`` (an
    explicit deny matches), ``"Allow"`` or ``"ImplicitDeny"``. Conditions are evaluated
    against ``context`` (a missing key fails the condition, as in IAM), with policy
    variables (``${aws:PrincipalAccount}``) taken from it; only :data:`_OPERATORS`.

    >>> decide({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
    ...     "Resource": "*"}]}, "s3:GetObject", "arn:aws:s3:::b/k")
    'Allow'
    """
    context = context or {}
    found = set()
    for statement in policy["Statement"]:
        if (
            any(_matches(p, action) for p in _listed(statement["Action"]))
            and any(_matches(_vars(p, context), resource) for p in _listed(statement["Resource"]))
            and _holds(statement.get("Condition", {}), context)
        ):
            found.add(statement["Effect"])
    return "Deny" if "Deny" in found else "Allow" if "Allow" in found else "ImplicitDeny"


def _vars(text: str, context: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: context.get(m.group(1), "\0"), text)


def _holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    return all(
        key in context
        and any(_OPERATORS[operator](_vars(p, context), context[key]) for p in _listed(expected))
        for operator, pairs in condition.items()
        for key, expected in pairs.items()
    )


def iam_action(service: str, operation: str) -> str:
    """The IAM action a botocore call (signing name, operation) needs."""
    return IAM_ACTIONS.get((service, operation), f"{service}:{operation}")


def needed(call: dict[str, Any], account: str) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) AWS checks for a recorded call: a DynamoDB transaction
    item by item (tests/aws_iam.py), any other call once."""
    recorded = call["params"].get("TransactItems", [])
    items = transaction_items(
        call["operation"], {"TransactItems": [{kind: {"TableName": t}} for kind, t in recorded]}
    )
    if items is None:
        return [(iam_action(call["service"], call["operation"]), resource_of(call, account))]
    return [
        (action, resource_of({**call, "params": {"TableName": table}}, account))
        for action, table in items
    ]


def resource_of(call: dict[str, Any], account: str) -> str:
    """The ARN a recorded call acts on (``*`` when the action has no resource)."""
    service, region, params = call["service"], call["region"], call["params"]
    if service == "dynamodb" and "TableName" in params:  # a batch over several: the first
        return f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName'].split(',')[0]}"
    if service == "cloudformation":
        name = params.get("StackName") or params.get("ChangeSetName") or "*"
        if name.startswith("arn:"):
            return name
        return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/*"
    if service == "s3" and call["operation"] == "DeleteObjects":
        return f"arn:aws:s3:::{params['Bucket']}/*"
    if service == "s3" and "Bucket" in params:
        key = params.get("Key")
        return f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key else "")
    if service == "bedrock" and "modelId" in params:
        model = params["modelId"]
        if model.startswith("arn:"):
            return model
        if model.split(".", 1)[0] in PROFILE_PREFIXES:
            return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model}"
        return f"arn:aws:bedrock:{region}::foundation-model/{model}"
    if service == "iam" and "PolicyArn" in params:
        return params["PolicyArn"]
    if service == "apigateway" and call["operation"] == "GetAccount":
        return f"arn:aws:apigateway:{region}::/account"
    return "*"
