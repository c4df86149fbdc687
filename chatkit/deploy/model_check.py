"""The deployer's first model call: ``chatkit deploy`` calls the model once (Converse, a
few tokens) with the deployer's own credentials before it changes any stack.

A model is enabled on its first call (the console's Model access page is retired): that
call subscribes the account through AWS Marketplace, which needs
``aws-marketplace:Subscribe``/``Unsubscribe``/``ViewSubscriptions`` for the caller and, for
Anthropic models, the one-time use-case form. Made here, it never falls on the deployed
Lambda role (which may only stream, and would fail as ``model_access``)::

    check_model(aws, "global.anthropic.claude-haiku-4-5-20251001-v1:0", "ap-northeast-2")
"""

from __future__ import annotations

from collections.abc import Callable

from .aws import Aws
from .errors import DeployError

__all__ = ["FIRST_USE_HINT", "check_model"]

QUESTION = "안녕"
MAX_TOKENS = 8

FIRST_USE_HINT = (
    "배포는 스택을 바꾸기 전에 멈췄습니다. 모델의 첫 호출(첫 사용 구독)은 배포하는 사람의 "
    "자격 증명으로 합니다: 호출자에게 aws-marketplace:Subscribe·Unsubscribe·ViewSubscriptions "
    "권한이, Anthropic 모델에는 계정당 한 번 사용 사례 양식이 필요합니다 (Bedrock 콘솔의 "
    "'모델 액세스' 페이지는 없어졌습니다). "
    "(The deploy stopped before changing the stack. The model's first call — the first-use "
    "subscription — is made with your credentials, never the Lambda role's: you need "
    "aws-marketplace:Subscribe/Unsubscribe/ViewSubscriptions and, for Anthropic models, the "
    "one-time use-case form; the console's Model access page is retired.)"
)


def check_model(aws: Aws, model_id: str, region: str, log: Callable[[str], None] = print) -> None:
    """Call ``model_id`` in ``region`` once; :class:`DeployError` with the reason and
    :data:`FIRST_USE_HINT` if the call fails."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from ..llm import classify_error

    client = aws.client("bedrock-runtime", region)
    try:
        reply = client.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": QUESTION}]}],
            inferenceConfig={"maxTokens": MAX_TOKENS},
        )
    except NoCredentialsError:
        raise
    except (ClientError, BotoCoreError) as exc:
        error = classify_error(exc)
        raise DeployError(
            f"모델 호출 확인 실패 (model check failed): {model_id} @ {region} — "
            f"{error.code.value}: {error.message}\n{FIRST_USE_HINT}"
        ) from exc
    tokens = reply.get("usage", {}).get("totalTokens", "?")
    log(
        f"모델 호출 확인 (model check): {model_id} @ {region} — 응답함 (answered, "
        f"{tokens} tokens), 배포자 자격 증명으로 (with the deployer's credentials)"
    )
