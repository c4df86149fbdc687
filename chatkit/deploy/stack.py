"""Deploy and destroy the chatkit stack with boto3 and CloudFormation change sets — no
CDK, Node or Docker. Both are idempotent and resume after a failure.

    >>> aws = Aws("ap-northeast-2")                                     # doctest: +SKIP
    >>> result = deploy(aws, StackConfig("chatkit"), build_bundle())    # doctest: +SKIP
    >>> deploy(aws, StackConfig("chatkit", auth="cognito"), bundle)      # doctest: +SKIP
    >>> result.status, result.outputs["WebUrl"]                         # doctest: +SKIP
    ('created', 'https://d1234.cloudfront.net')
    >>> destroy(aws, "chatkit")                                         # doctest: +SKIP
    True

``deploy``: print the plan and the cost note → call the model once with the deployer's
credentials (the first-use subscription; a failure stops here) → make sure a failed earlier
attempt is out of the way (``ROLLBACK_COMPLETE`` → ask, delete; ``DELETE_FAILED`` → ask,
delete again; a running operation → wait) → upload the zip to the artifacts bucket (and the
template, near CloudFormation's inline limit) → create a change set (no changes: "up to
date"; not ready in time: stop) → show it and ask (no: withdraw it and the new uploads) →
execute, printing events → upload the web client with the endpoints in ``config.js`` →
print the outputs.
``destroy``: empty the web bucket (all versions) → delete the stack (retry on
``DELETE_FAILED``) → remove the stack's artifacts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args

from ..config import DEFAULT_MODEL_ID, AuthMode
from ..llm import base_model_id
from ..webconfig import WebConfig
from .aws import Aws
from .buckets import (
    delete_artifacts,
    empty_bucket,
    ensure_artifacts_bucket,
    upload_once,
    upload_web_client,
)
from .errors import DeployError
from .model_check import check_model
from .package import Bundle
from .progress import StackWatcher, describe_stack, is_settled
from .template import load_template, render, resource_summary, template_text

__all__ = [
    "COST_NOTE",
    "DeployError",
    "DeployResult",
    "StackConfig",
    "base_model_id",
    "cost_note",
    "deploy",
    "destroy",
    "stack_outputs",
    "template_source",
    "web_bucket",
    "web_client_config",
]

Confirm = Callable[[str], bool]
Log = Callable[[str], None]

COST_NOTE = """\
비용 (what it costs):
  - 사용한 만큼 (pay per use): Lambda, API Gateway (WebSocket + HTTP), DynamoDB on-demand,
    S3, CloudFront, CloudWatch Logs — 워크숍 하루 사용은 보통 몇 센트~1달러 미만
    (a workshop day usually costs cents, well under a dollar; free tiers often cover it).
  - Bedrock 토큰 (model tokens): 질문·답변 토큰당 과금, 가장 큰 항목 (billed per token, the
    largest item) — https://aws.amazon.com/bedrock/pricing/
  - 켜 두는 동안 (while the stack exists): Secrets Manager 비밀 1개 $0.40/월 (one secret,
    $0.40/month, prorated), DynamoDB PITR (GB-월, per GB-month of history), Lambda SnapStart
    스냅샷 캐시와 복원 (snapshot cache and restores of the published versions).
  - 다 쓰면 지우세요 (remove it when done): `chatkit destroy` 또는 노트북 08 (or notebook 08)."""

_COGNITO_COST = """\
  - Cognito 사용자 풀 (user pool, Lite): 월간 활성 사용자(MAU) 무료 한도 안에서는 무료 — 보통
    월 10,000 MAU (free within the monthly-active-user free tier, usually 10,000 MAUs a
    month) — https://aws.amazon.com/cognito/pricing/"""


def cost_note(auth: str) -> str:
    """:data:`COST_NOTE`, with the user pool's line for ``auth="cognito"``."""
    if auth != "cognito":
        return COST_NOTE
    items, _, remove_when_done = COST_NOTE.rpartition("\n")
    return "\n".join((items, _COGNITO_COST, remove_when_done))


#: CloudFormation takes at most 51,200 bytes of TemplateBody; from this size on the template
#: goes to the artifacts bucket and the change set reads it from there (TemplateURL).
TEMPLATE_BODY_LIMIT = 51_200
INLINE_TEMPLATE_MAX = TEMPLATE_BODY_LIMIT * 9 // 10
#: How long a change set may take to be ready before the deploy gives up on it.
CHANGE_SET_TIMEOUT = 600.0
#: Lambda keeps this much of the account's concurrency unreserved.
_UNRESERVED_MINIMUM = 100

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,39}")
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+")
#: The permissions boundary of the stack's roles when none is given (a workshop's attendee
#: policy requires it; infra/README.md, "Permissions boundary").
BOUNDARY_VARIABLE = "CHATKIT_PERMISSIONS_BOUNDARY"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
#: A failed first creation leaves these: delete, then create again.
_RECREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"}
_SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}


@dataclass(frozen=True)
class StackConfig:
    """What ``chatkit deploy`` sets; ``bedrock_region`` None = the stack's region."""

    name: str = "chatkit"
    model_id: str = DEFAULT_MODEL_ID
    bedrock_region: str | None = None
    stage: str = "prod"
    ttl_days: int = 30
    #: Lambda SnapStart on the published versions (faster cold starts; bills a snapshot cache).
    snapstart: bool = True
    #: Sign-in: ``demo`` (any user id, POST /login) or ``cognito`` (a Cognito user pool).
    auth: AuthMode = "demo"
    #: Answers streaming at once at most (the chat function's reserved concurrency, a
    #: model-cost guard); 0 = unreserved.
    chat_concurrency: int = 20
    #: ARN of the managed policy set as every role's permissions boundary ("" = none);
    #: default: the environment's ``CHATKIT_PERMISSIONS_BOUNDARY``.
    permissions_boundary: str = field(default_factory=lambda: os.environ.get(BOUNDARY_VARIABLE, ""))

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"스택 이름은 영문자로 시작하는 40자 이하의 영문·숫자·하이픈입니다: {self.name!r} "
                "(stack name: a letter, then up to 39 letters, digits or hyphens)"
            )
        if not 1 <= self.ttl_days <= 3650:
            raise ValueError("ttl_days는 1–3650입니다. (ttl_days must be 1–3650.)")
        if not 0 <= self.chat_concurrency <= 1000:
            raise ValueError(
                "chat_concurrency는 0–1000입니다 (0: 제한 없음). "
                "(chat_concurrency must be 0–1000; 0: unreserved.)"
            )
        if self.auth not in get_args(AuthMode):
            raise ValueError(
                f"로그인 방식은 demo 또는 cognito입니다: {self.auth!r} "
                "(auth must be 'demo' or 'cognito')"
            )
        if self.permissions_boundary and not _POLICY_ARN.fullmatch(self.permissions_boundary):
            raise ValueError(
                f"권한 경계는 관리형 정책의 ARN입니다: {self.permissions_boundary!r} "
                "(permissions boundary: a managed policy ARN, "
                "arn:aws:iam::<account>:policy/chatkit-attendee-boundary)"
            )

    def template_parameters(self) -> dict[str, str]:
        """The parameters this configuration decides (the code location and release id are
        added at deployment)."""
        return {
            "ModelId": self.model_id,
            "BaseModelId": base_model_id(self.model_id),
            "StageName": self.stage,
            "TtlDays": str(self.ttl_days),
            "SnapStart": "Enabled" if self.snapstart else "Disabled",
            "AuthMode": self.auth,
            "ChatConcurrency": str(self.chat_concurrency),
            "PermissionsBoundary": self.permissions_boundary,
        }


@dataclass
class DeployResult:
    stack_name: str
    #: ``created`` / ``updated`` / ``unchanged`` / ``cancelled``
    status: str
    outputs: dict[str, str] = field(default_factory=dict)


def stack_outputs(aws: Aws, name: str) -> dict[str, str]:
    """The stack's outputs (empty if it has none or does not exist)."""
    stack = describe_stack(aws.client("cloudformation"), name)
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def _websocket_access_logs(aws: Aws, log: Log) -> str:
    """WebSocket access logs need the account's API Gateway CloudWatch role."""
    try:
        role = aws.client("apigateway").get_account().get("cloudwatchRoleArn")
    except Exception:  # no permission to look: do not risk a failed stage
        role = None
    if role:
        return "Enabled"
    log(
        "참고: 이 계정에 API Gateway CloudWatch 역할이 없어 WebSocket 접근 로그를 끕니다. "
        "(note: no API Gateway CloudWatch role in this account: WebSocket access logs off; "
        "see infra/README.md to turn them on)"
    )
    return "Disabled"


#: The boundary policy a workshop account has (infra/studio-domain.yaml, infra/README.md).
BOUNDARY_POLICY = "chatkit-attendee-boundary"


def _permissions_boundary(aws: Aws, config: StackConfig, log: Log) -> str:
    """The boundary given, else the account's ``chatkit-attendee-boundary`` if it has one
    (an attendee's policy only lets them create roles inside it), else none."""
    if config.permissions_boundary:
        return config.permissions_boundary
    arn = f"arn:aws:iam::{aws.account_id}:policy/{BOUNDARY_POLICY}"
    try:
        aws.client("iam").get_policy(PolicyArn=arn)
    except Exception:  # no such policy, or no permission to look: an account without one
        return ""
    log(f"권한 경계 (permissions boundary): {arn} (the account's workshop policy)")
    return arn


def _chat_concurrency(aws: Aws, config: StackConfig, log: Log) -> str:
    """The reserved concurrency the account can spare for the chat function: Lambda keeps
    100 unreserved, so a new account (often 10 in all) gets none, with a note."""
    wanted = config.chat_concurrency
    if not wanted:
        return "0"
    lam = aws.client("lambda")
    try:
        unreserved = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    except Exception:  # cannot look (permission, a stand-in): ask for it, as configured
        return str(wanted)
    held = 0  # what this stack's chat function holds already counts as reserved
    function = _physical_id(aws, config.name, "DefaultFunction")
    if function:
        try:
            held = lam.get_function_concurrency(FunctionName=function).get(
                "ReservedConcurrentExecutions", 0
            )
        except Exception:
            held = 0
    if unreserved + held - wanted >= _UNRESERVED_MINIMUM:
        return str(wanted)
    log(
        f"참고: 계정의 Lambda 동시성이 부족해 채팅 함수의 예약 동시성 {wanted}을 끕니다 "
        f"(예약되지 않은 동시성 {unreserved}, Lambda는 {_UNRESERVED_MINIMUM}을 남겨야 합니다). "
        f"(note: the account cannot spare {wanted} reserved executions for the chat function — "
        f"{unreserved} unreserved, Lambda keeps {_UNRESERVED_MINIMUM}: the cost guard is off; "
        "ask for a higher Lambda concurrency quota to turn it on.)"
    )
    return "0"


def _parameters(aws: Aws, config: StackConfig, code: tuple[str, str], log: Log) -> dict[str, str]:
    params = {
        **config.template_parameters(),
        "BedrockRegion": config.bedrock_region or aws.region,
        "CodeBucket": code[0],
        "CodeKey": code[1],
        "WebSocketAccessLogs": _websocket_access_logs(aws, log),
        "ChatConcurrency": _chat_concurrency(aws, config, log),
        "PermissionsBoundary": _permissions_boundary(aws, config, log),
    }
    release = json.dumps([template_text(), params], sort_keys=True).encode()
    params["ReleaseId"] = hashlib.sha256(release).hexdigest()[:16]
    return params


def _plan(aws: Aws, config: StackConfig, log: Log) -> None:
    log(
        f"배포 계획 (plan): 스택 (stack) {config.name} · 계정 (account) {aws.account_id} · "
        f"리전 (region) {aws.region} · 모델 (model) {config.model_id} @ "
        f"{config.bedrock_region or aws.region} · 로그인 (sign-in) {config.auth}"
    )
    stack = render(load_template(), config.template_parameters())
    summary = ", ".join(f"{count}× {kind}" for kind, count in resource_summary(stack))
    log(f"새 스택이 만드는 것 (a new stack creates): {summary}")
    log(
        "준비 (preparing): zip을 아티팩트 버킷에 올리고 변경 세트를 만듭니다. 스택은 확인한 "
        "뒤에만 바뀝니다. (Uploads the zip, creates a change set; the stack changes only then.)"
    )
    log(cost_note(config.auth))


class _Cancelled(Exception):
    """The person said no."""


def _clear_failed(
    aws: Aws, name: str, confirm: Confirm | None, log: Log, poll: float
) -> dict[str, Any] | None:
    """The stack ready for a change set: wait out a running operation, delete (after
    asking) what a failed attempt left, recover a failed update rollback. None if there
    is no stack."""
    cfn = aws.client("cloudformation")
    while True:
        stack = describe_stack(cfn, name)
        if stack is None:
            return None
        status = stack["StackStatus"]
        if not is_settled(status):
            log(f"진행 중인 작업을 기다립니다 (waiting for {status})")
            StackWatcher(cfn, stack["StackId"], log=log, poll_seconds=poll).wait()
        elif status in _RECREATE:
            question = (
                f"이전 시도가 {name}을 {status} 상태로 남겼습니다. 지우고 다시 만들까요? "
                f"(A failed attempt left {name} {status}: delete it and create it again?)"
            )
            if confirm is not None and not confirm(question):
                raise _Cancelled
            log(f"이전 시도가 실패했습니다 ({status}): 지우고 다시 만듭니다 (delete, then create)")
            _delete(aws, stack, log, poll)
        elif status == "UPDATE_ROLLBACK_FAILED":
            log("업데이트 롤백을 이어서 끝냅니다 (continuing the failed update rollback)")
            watcher = StackWatcher(cfn, stack["StackId"], log=log, poll_seconds=poll)
            cfn.continue_update_rollback(StackName=stack["StackId"])
            watcher.wait()
        else:
            return stack


def template_source(
    aws: Aws, bucket: str, name: str, text: str, log: Log = print
) -> dict[str, str]:
    """``{"TemplateBody": text}`` — or, once ``text`` approaches CloudFormation's
    51,200-byte inline limit, ``{"TemplateURL": …}`` of a copy put in the artifacts bucket
    under ``<name>/template/`` (content-addressed; :func:`destroy` removes it)."""
    body = text.encode()
    if len(body) <= INLINE_TEMPLATE_MAX:
        return {"TemplateBody": text}
    key = f"{name}/template/{hashlib.sha256(body).hexdigest()[:16]}.yaml"
    aws.client("s3").put_object(
        Bucket=bucket, Key=key, Body=body, ExpectedBucketOwner=aws.account_id
    )
    log(f"템플릿 업로드 (template uploaded, {len(body):,} bytes) s3://{bucket}/{key}")
    suffix = "amazonaws.com.cn" if aws.region.startswith("cn-") else "amazonaws.com"
    return {"TemplateURL": f"https://{bucket}.s3.{aws.region}.{suffix}/{key}"}


def _change_set(
    aws: Aws,
    name: str,
    kind: str,
    params: dict[str, str],
    template: dict[str, str],
    poll: float,
    timeout: float,
) -> dict[str, Any] | None:
    """Create a change set and wait for it (at most ``timeout`` seconds); None if it would
    change nothing."""
    cfn = aws.client("cloudformation")
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName=f"chatkit-{params['ReleaseId']}-{uuid.uuid4().hex[:6]}",
        ChangeSetType=kind,
        **template,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
        Capabilities=["CAPABILITY_IAM"],
        Description="chatkit deploy",
    )
    deadline = time.monotonic() + timeout
    while True:
        described = cfn.describe_change_set(ChangeSetName=created["Id"])
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        if time.monotonic() >= deadline:
            raise DeployError(
                f"변경 세트가 {timeout:.0f}초 안에 준비되지 않았습니다 ({described['Status']}). "
                "스택은 바뀌지 않았습니다; CloudFormation 콘솔에서 확인한 뒤 다시 배포하세요. "
                f"(The change set was not ready within {timeout:.0f} s "
                f"({described['Status']}); the stack was not changed. Check it in the "
                f"CloudFormation console, then deploy again.)\n  {created['Id']}"
            )
        time.sleep(min(poll, 2.0))
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in _NO_CHANGES):
            cfn.delete_change_set(ChangeSetName=created["Id"])
            return None
        raise DeployError(f"변경 세트 실패 (change set failed): {reason}")
    changes = described.get("Changes", [])
    while described.get("NextToken"):
        described = cfn.describe_change_set(
            ChangeSetName=created["Id"], NextToken=described["NextToken"]
        )
        changes += described.get("Changes", [])
    return {"Id": created["Id"], "StackId": created["StackId"], "Changes": changes}


def _show_changes(change_set: dict[str, Any], log: Log) -> None:
    log(f"변경 사항 (changes): {len(change_set['Changes'])}")
    for change in change_set["Changes"]:
        item = change.get("ResourceChange", {})
        replace = " (교체 replacement)" if item.get("Replacement") == "True" else ""
        log(
            f"  {item.get('Action', '?'):<7} {item.get('ResourceType', ''):<36} "
            f"{item.get('LogicalResourceId', '')}{replace}"
        )


def _physical_id(aws: Aws, stack: str, logical_id: str) -> str | None:
    """The physical id of ``stack``'s resource ``logical_id``; None if there is none."""
    if describe_stack(aws.client("cloudformation"), stack) is None:
        return None
    pages = aws.client("cloudformation").get_paginator("list_stack_resources")
    for page in pages.paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["LogicalResourceId"] == logical_id:
                return resource.get("PhysicalResourceId") or None
    return None


def web_bucket(aws: Aws, stack: str) -> str | None:
    """The web bucket of ``stack`` (a name or id); None if there is no such stack or bucket."""
    return _physical_id(aws, stack, "WebBucket")


def web_client_config(
    outputs: dict[str, str], auth: str, region: str, log: Log = print
) -> WebConfig:
    """The deployed web client's ``config.js`` (a :class:`~chatkit.webconfig.WebConfig`),
    from the stack's outputs; a missing output is left out with a warning.

    >>> web_client_config(
    ...     {"WebSocketUrl": "wss://w/prod", "HttpApiUrl": "https://h",
    ...      "UserPoolId": "ap-northeast-2_Ab1", "UserPoolClientId": "c1"},
    ...     "cognito", "ap-northeast-2").cognito
    {'region': 'ap-northeast-2', 'userPoolId': 'ap-northeast-2_Ab1', 'clientId': 'c1'}
    """
    pool = {"userPoolId": "UserPoolId", "clientId": "UserPoolClientId"}
    wanted = ["WebSocketUrl", "HttpApiUrl", *(pool.values() if auth == "cognito" else ())]
    missing = [name for name in wanted if name not in outputs]
    if missing:
        log(
            f"경고: 스택 출력에 {', '.join(missing)}이 없어 config.js에서 빠집니다. "
            f"(warning: no {', '.join(missing)} outputs, config.js lacks them)"
        )
    where = {}
    if "WebSocketUrl" in outputs and "HttpApiUrl" in outputs:
        where = {"ws_url": outputs["WebSocketUrl"], "http_url": outputs["HttpApiUrl"]}
    cognito = None
    if auth == "cognito" and all(name in outputs for name in pool.values()):
        cognito = {"region": region} | {key: outputs[name] for key, name in pool.items()}
    return WebConfig(**where, mode="aws", auth=auth, cognito=cognito)


def _publish_web_client(aws: Aws, stack_id: str, config: WebConfig, log: Log) -> None:
    bucket = web_bucket(aws, stack_id)
    if bucket is None:
        log("웹 버킷이 없습니다 (no web bucket in the stack): 웹 클라이언트를 건너뜁니다 (skipped)")
        return
    upload_web_client(aws, bucket, config, log)


def _withdraw(aws: Aws, change_set: dict[str, Any], kind: str, new_keys: list[str]) -> None:
    """Undo the preparation of a declined deployment: the change set, a stack that exists
    only to hold it, and the zip (and template) uploaded for it."""
    cfn = aws.client("cloudformation")
    cfn.delete_change_set(ChangeSetName=change_set["Id"])
    if kind == "CREATE":  # the stack exists only as REVIEW_IN_PROGRESS
        cfn.delete_stack(StackName=change_set["StackId"])
    for key in new_keys:
        delete_artifacts(aws, key, log=lambda line: None)


def _execute(aws: Aws, change_set: dict[str, Any], name: str, log: Log, poll: float) -> None:
    cfn = aws.client("cloudformation")
    watcher = StackWatcher(cfn, change_set["StackId"], log=log, poll_seconds=poll)
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    final = watcher.wait()
    if final not in _SUCCESS:
        reasons = "\n  ".join(watcher.failure_reasons()) or "(no reason reported)"
        raise DeployError(
            f"배포 실패 (deployment failed): {name} {final}\n  {reasons}\n"
            "고친 뒤 `chatkit deploy`를 다시 실행하면 이어서 합니다. "
            "(Fix the cause and run `chatkit deploy` again: it resumes.)"
        )


def deploy(
    aws: Aws,
    config: StackConfig,
    bundle: Bundle,
    *,
    confirm: Confirm | None = None,
    log: Log = print,
    poll_seconds: float = 5.0,
    change_set_timeout: float = CHANGE_SET_TIMEOUT,
) -> DeployResult:
    """Create or update the stack (see the module docstring). ``confirm(question)`` is
    asked before the stack changes (None = go ahead); a "no" leaves nothing behind.
    Before any stack call the model is called once with the deployer's credentials
    (:func:`~chatkit.deploy.model_check.check_model`); a failure stops the deploy."""
    _plan(aws, config, log)
    check_model(aws, config.model_id, config.bedrock_region or aws.region, log)
    try:
        stack = _clear_failed(aws, config.name, confirm, log, poll_seconds)
    except _Cancelled:
        log("취소했습니다 (cancelled): 아무것도 바꾸지 않았습니다 (nothing changed)")
        return DeployResult(config.name, "cancelled")
    kind = "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
    bucket = ensure_artifacts_bucket(aws, log)
    code_key = f"{config.name}/lambda/{bundle.sha256}.zip"
    new_keys = [code_key] if upload_once(aws, bucket, code_key, bundle.path, log) else []
    params = _parameters(aws, config, (bucket, code_key), log)
    template = template_source(aws, bucket, config.name, template_text(), log)
    if "TemplateURL" in template:
        new_keys.append(template["TemplateURL"].split("/", 3)[3])
    change_set = _change_set(
        aws, config.name, kind, params, template, poll_seconds, change_set_timeout
    )
    if change_set is None:
        log(f"최신 상태입니다 (up to date): {config.name} — 변경 없음 (no changes)")
        status, stack_id = "unchanged", stack["StackId"]  # only an existing stack is unchanged
    else:
        _show_changes(change_set, log)
        question = f"{config.name}에 적용할까요? (Apply these changes to {config.name}?)"
        if confirm is not None and not confirm(question):
            _withdraw(aws, change_set, kind, new_keys)
            log("취소했습니다 (cancelled): 아무것도 바꾸지 않았습니다 (nothing changed)")
            return DeployResult(config.name, "cancelled")
        _execute(aws, change_set, config.name, log, poll_seconds)
        status, stack_id = ("created" if kind == "CREATE" else "updated"), change_set["StackId"]
    outputs = stack_outputs(aws, stack_id)
    _publish_web_client(
        aws, stack_id, web_client_config(outputs, config.auth, aws.region, log), log
    )
    for key, value in sorted(outputs.items()):
        log(f"  {key:<16} {value}")
    return DeployResult(config.name, status, outputs)


def _delete(aws: Aws, stack: dict[str, Any], log: Log, poll: float, attempts: int = 3) -> None:
    """Empty the web bucket and delete the stack; retry while it ends ``DELETE_FAILED``."""
    cfn, stack_id = aws.client("cloudformation"), stack["StackId"]
    for _ in range(attempts):
        bucket = web_bucket(aws, stack_id)
        if bucket:
            try:
                removed = empty_bucket(aws, bucket)
            except aws.client("s3").exceptions.NoSuchBucket:
                removed = 0
            log(f"웹 버킷 비움 (emptied) s3://{bucket}: {removed} objects")
        watcher = StackWatcher(cfn, stack_id, log=log, poll_seconds=poll)
        cfn.delete_stack(StackName=stack_id)
        status = watcher.wait()
        if status == "DELETE_COMPLETE":
            return
        log(f"삭제가 끝나지 않았습니다 ({status}): 다시 시도합니다 (retrying)")
        for reason in watcher.failure_reasons():
            log(f"  {reason}")
    raise DeployError(
        f"스택 삭제 실패 (could not delete) {stack['StackName']} after {attempts} attempts; "
        "CloudFormation 콘솔에서 이유를 확인하세요. (See the CloudFormation console.)"
    )


def destroy(
    aws: Aws,
    name: str,
    *,
    confirm: Confirm | None = None,
    log: Log = print,
    poll_seconds: float = 5.0,
) -> bool:
    """Delete the stack and its artifacts; False if there was no stack (then only leftover
    artifacts are removed)."""
    StackConfig(name)  # validates the name
    cfn = aws.client("cloudformation")
    stack = describe_stack(cfn, name)
    if stack is None:
        log(f"스택이 없습니다 (no stack named {name}): 지울 것이 없습니다 (nothing to delete)")
        delete_artifacts(aws, f"{name}/", log)
        return False
    resources = cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
    kinds: dict[str, int] = {}
    for page in resources:
        for resource in page["StackResourceSummaries"]:
            if resource.get("ResourceType"):
                kinds[resource["ResourceType"]] = kinds.get(resource["ResourceType"], 0) + 1
    log(
        f"삭제 계획 (plan): 스택 (stack) {name} · 계정 (account) {aws.account_id} · "
        f"리전 (region) {aws.region} · {stack['StackStatus']}\n"
        f"지울 것 (to delete): {', '.join(f'{n}× {k}' for k, n in sorted(kinds.items()))}\n"
        "대화 기록 테이블과 웹 버킷의 내용도 영구히 지워집니다. "
        "(The history table and the web bucket's content are deleted for good.)"
    )
    if confirm is not None and not confirm(f"{name}을 지울까요? (Delete {name}?)"):
        log("취소했습니다 (cancelled): 아무것도 지우지 않았습니다 (nothing deleted)")
        return False
    if not is_settled(stack["StackStatus"]):
        log(f"진행 중인 작업을 기다립니다 (waiting for {stack['StackStatus']})")
        StackWatcher(cfn, stack["StackId"], log=log, poll_seconds=poll_seconds).wait()
    _delete(aws, stack, log, poll_seconds)
    delete_artifacts(aws, f"{name}/", log)
    log(f"삭제 완료 (deleted): {name}")
    return True
