"""Preflight checks (``chatkit doctor``, notebook 00): mode, credentials, regions, model
access, history table — each with a fix in Korean and English when it fails::

    for check in run_checks(Settings.from_env()):
        print(check.ok, check.name, check.detail, check.hint)
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .aws_clients import bedrock_client, bedrock_runtime_client, dynamodb_client
from .config import Settings

__all__ = ["Check", "format_checks", "run_checks"]


#: Geography prefixes of cross-region inference-profile ids.
PROFILE_PREFIXES = ("global", "us", "eu", "apac", "jp", "au", "ca", "us-gov")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def _check(name: str, probe: Callable[[], str], hint: Callable[[Exception], str]) -> Check:
    try:
        return Check(name, True, probe())
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300], hint(exc))


def _credentials(settings: Settings) -> str:
    import boto3

    identity = boto3.client("sts", region_name=settings.region).get_caller_identity()
    return f"account {identity['Account']} as {identity['Arn'].rsplit('/', 1)[-1]}"


def _profiles(settings: Settings) -> str:
    """Inference profiles this account can call in the Bedrock region."""
    if settings.model_id.split(".")[0] not in PROFILE_PREFIXES:
        return f"{settings.model_id} is a bare model id (no inference profile); see the model check"
    listed = bedrock_client(settings).list_inference_profiles(maxResults=1000)
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


def _table(settings: Settings) -> str:
    table = dynamodb_client(settings).describe_table(TableName=settings.table_name)["Table"]
    return f"{settings.table_name}: {table['TableStatus']}, {table.get('ItemCount', 0)} items"


def _model_hint(exc: Exception) -> str:
    from .llm import classify_error

    error = classify_error(exc)
    return error.message


def run_checks(settings: Settings) -> Iterator[Check]:
    """Run the checks in order; later ones still run when an earlier one fails."""
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
            lambda e: (
                "CHATKIT_MODEL_ID를 이 리전의 추론 프로파일 ID로 바꾸세요 (예: global.…, apac.…). "
                "(Set CHATKIT_MODEL_ID to an inference profile id listed in this region.)"
            ),
        )
    yield _check("model", lambda: _model(settings), _model_hint)
    yield _check(
        "history table",
        lambda: _table(settings),
        lambda e: (
            "테이블이 없습니다: `chatkit deploy`로 스택을 배포하거나 CHATKIT_TABLE을 확인하세요. "
            "(Table not found: deploy the stack with `chatkit deploy` or check CHATKIT_TABLE.)"
        ),
    )


def format_checks(checks: list[Check]) -> str:
    """A small table for the terminal and notebooks."""
    lines = []
    for check in checks:
        mark = "✓" if check.ok else "✗"
        lines.append(f"{mark} {check.name:<18} {check.detail}")
        if check.hint:
            lines.append(f"  → {check.hint}")
    return "\n".join(lines)
