"""Preflight checks (``chatkit doctor``, notebook 00): can the caller do what the next
notebooks need? Mode, credentials, regions, model access with the caller's own
credentials (one tiny Converse), the attendee's tables, CloudFormation — each with a fix
in Korean and English when it fails, and a plain "not checked" (never a failure) when an
endpoint does not answer that question (e.g. a stand-in without Bedrock's control plane)::

    for check in run_checks(Settings.from_env()):
        print(check.ok, check.name, check.detail, check.hint)
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .aws_clients import bedrock_client, bedrock_runtime_client, dynamodb_client
from .config import Settings
from .llm import PROFILE_PREFIXES

__all__ = ["Check", "denied_action", "format_checks", "run_checks"]


_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
#: What an endpoint says when it does not implement an operation at all.
_UNANSWERED = {"UnknownOperationException", "UnknownOperation", "NotImplemented", "404"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    #: True when the check could not be made (ok stays True: nothing is known to be wrong).
    skipped: bool = False


class _NotAnswered(Exception):
    """The endpoint does not implement the operation."""


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def denied_action(exc: Exception) -> str | None:
    """The IAM action an AccessDenied error names ("… not authorized to perform: X …").

    >>> from botocore.exceptions import ClientError
    >>> message = "User: arn:aws:iam::1:user/a is not authorized to perform: dynamodb:CreateTable"
    >>> denied_action(ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "x"))
    'dynamodb:CreateTable'
    """
    found = re.search(r"not authorized to perform:\s*([\w-]+:[\w*]+)", str(exc))
    if found:  # also when a stand-in's error body hides the code (moto: XML for JSON APIs)
        return found.group(1)
    return "?" if _code(exc) in _DENIED else None


def _permission_hint(exc: Exception, action: str) -> str | None:
    named = denied_action(exc)
    if named is None:
        return None
    named = action if named == "?" else named
    return (
        f"권한이 없습니다: {named} — 역할에 infra/attendee-policy.json을 붙였는지 확인하세요. "
        f"(Not allowed: {named}; attach infra/attendee-policy.json to the role.)"
    )


def _check(name: str, probe: Callable[[], str], hint: Callable[[Exception], str]) -> Check:
    try:
        return Check(name, True, probe())
    except _NotAnswered as exc:
        return Check(name, True, f"확인하지 못함 (not checked): {exc}", skipped=True)
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300], hint(exc))


def _answered(call: Callable[[], dict], what: str) -> dict:
    """``call()``, or :class:`_NotAnswered` when the endpoint lacks the operation."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as exc:
        if _code(exc) in _UNANSWERED:
            raise _NotAnswered(f"{what}: 이 엔드포인트가 답하지 않습니다 (no {what} here)") from exc
        raise


def _credentials(settings: Settings) -> str:
    import boto3

    identity = boto3.client("sts", region_name=settings.region).get_caller_identity()
    who = identity["Arn"].rsplit(":", 1)[-1]
    attendee = f" · attendee {settings.attendee}" if settings.attendee else ""
    return f"account {identity['Account']} as {who}{attendee}"


def _profiles(settings: Settings) -> str:
    """Inference profiles this account can call in the Bedrock region."""
    if settings.model_id.split(".")[0] not in PROFILE_PREFIXES:
        return f"{settings.model_id} is a bare model id (no inference profile); see the model check"
    listed = _answered(
        lambda: bedrock_client(settings).list_inference_profiles(maxResults=1000),
        "bedrock:ListInferenceProfiles",
    )
    ids = [p["inferenceProfileId"] for p in listed.get("inferenceProfileSummaries", [])]
    if settings.model_id in ids or settings.model_id.startswith("arn:"):
        return f"{settings.model_id} is an inference profile here"
    claude = sorted(i for i in ids if "anthropic.claude" in i)[-3:]
    raise LookupError(f"{settings.model_id} is not listed; Claude profiles here: {claude}")


def _model(settings: Settings) -> str:
    reply = bedrock_runtime_client(settings).converse(
        modelId=settings.model_id,
        messages=[{"role": "user", "content": [{"text": "안녕? 한 단어로 답해 줘."}]}],
        inferenceConfig={"maxTokens": 16},
    )
    text = "".join(b.get("text", "") for b in reply["output"]["message"]["content"])
    return f"{settings.model_id} answered: {text[:40]!r}"


def _table(settings: Settings, name: str) -> str:
    table = dynamodb_client(settings).describe_table(TableName=name)["Table"]
    return f"{name}: {table['TableStatus']}, {table.get('ItemCount', 0)} items"


def _table_hint(exc: Exception) -> str:
    return _permission_hint(exc, "dynamodb:DescribeTable") or (
        "테이블이 없습니다: aws 모드에서는 노트북 00의 모드 적용 셀(chatkit.workshop.notebook)이 "
        "만듭니다. (Table not found: notebook 00's mode cell creates it in aws mode; "
        "or set CHATKIT_TABLE / CHATKIT_STATE_TABLE.)"
    )


def _cloudformation(settings: Settings) -> str:
    import boto3
    from botocore.exceptions import ClientError

    cfn = boto3.client("cloudformation", region_name=settings.region)
    try:
        stack = cfn.describe_stacks(StackName=settings.stack_name)["Stacks"][0]
    except ClientError as exc:
        if _code(exc) == "ValidationError" and "does not exist" in str(exc):
            return f"reachable; stack {settings.stack_name} not deployed yet (07 deploys it)"
        raise
    return f"reachable; stack {settings.stack_name}: {stack['StackStatus']}"


_PROFILE_HINT = (
    "CHATKIT_MODEL_ID를 이 리전의 추론 프로파일 ID로 바꾸세요 (예: global.…, apac.…). "
    "(Set CHATKIT_MODEL_ID to an inference profile id listed in this region.)"
)


def _model_hint(exc: Exception) -> str:
    from .llm import classify_error

    return classify_error(exc).message


def _attendee_named(settings: Settings) -> Settings:
    """aws mode without ``CHATKIT_ATTENDEE`` (e.g. ``chatkit doctor`` in a Studio terminal):
    the attendee from the Studio profile or the IAM caller, as the notebooks name them."""
    if settings.mode != "aws" or settings.attendee:
        return settings
    from .attendee import resolve_attendee

    try:
        return settings.for_attendee(resolve_attendee(aws=True))
    except Exception:  # no credentials: the credentials check says so
        return settings


def run_checks(settings: Settings) -> Iterator[Check]:
    """Run the checks in order; later ones still run when an earlier one fails."""
    settings = _attendee_named(settings)
    yield Check("python", True, f"Python {platform.python_version()}")
    why = "AWS credentials found" if settings.mode == "aws" else "local emulators"
    yield Check("mode", True, f"{settings.mode} ({why})")
    yield Check("regions", True, f"app {settings.region}, Bedrock {settings.bedrock_region}")
    if settings.mode == "aws":
        yield _check(
            "credentials",
            lambda: _credentials(settings),
            lambda e: (
                "AWS 자격 증명을 확인하세요 (aws configure, SageMaker 실행 역할). "
                "(Check AWS credentials: aws configure or the SageMaker execution role.)"
            ),
        )
        yield _check(
            "inference profile",
            lambda: _profiles(settings),
            lambda e: _permission_hint(e, "bedrock:ListInferenceProfiles") or _PROFILE_HINT,
        )
    yield _check("model", lambda: _model(settings), _model_hint)
    yield _check("history table", lambda: _table(settings, settings.table_name), _table_hint)
    if settings.mode == "aws":
        yield _check(
            "state table", lambda: _table(settings, settings.state_table_name), _table_hint
        )
        yield _check(
            "cloudformation",
            lambda: _cloudformation(settings),
            lambda e: (
                _permission_hint(e, "cloudformation:DescribeStacks")
                or "CloudFormation에 닿지 않습니다. (CloudFormation is not reachable.)"
            ),
        )


def format_checks(checks: list[Check]) -> str:
    """A small table for the terminal and notebooks."""
    lines = []
    for check in checks:
        mark = "–" if check.skipped else "✓" if check.ok else "✗"
        lines.append(f"{mark} {check.name:<18} {check.detail}")
        if check.hint:
            lines.append(f"  → {check.hint}")
    return "\n".join(lines)
