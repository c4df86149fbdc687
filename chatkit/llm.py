"""The chat model (langchain-aws ``ChatBedrockConverse``) and Bedrock error mapping.

``make_chat_model`` builds a model that really streams: langchain-aws silently turns
streaming off for model ids it does not recognise, so we always pass
``disable_streaming=False`` (tests check chunks arrive one by one). The boto3 client
comes from :mod:`chatkit.aws_clients` (long read timeout, standard retries)::

    model = make_chat_model(Settings.from_env())
    async for chunk in model.astream("안녕?"):
        print(chunk.text, end="")

``stream_chunks`` is ``model.astream`` without langchain's thread hop per chunk.

``classify_error`` turns any exception from the model call into a :class:`ChatError`
with a stable code and a bilingual hint; the original goes to the logs only.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .aws_clients import bedrock_client, bedrock_runtime_client
from .config import Settings
from .errors import ChatError, ErrorCode

__all__ = [
    "PROFILE_PREFIXES",
    "base_model_id",
    "classify_error",
    "make_chat_model",
    "stream_chunks",
]

#: Geography prefixes of cross-region inference-profile ids (``global.``, ``apac.``…).
PROFILE_PREFIXES = ("global", "us", "eu", "apac", "jp", "au", "ca", "us-gov")

log = logging.getLogger(__name__)


def base_model_id(model_id: str) -> str:
    """The foundation model behind an inference-profile id (a bare id stays as it is).

    >>> base_model_id("global.anthropic.claude-haiku-4-5-20251001-v1:0")
    'anthropic.claude-haiku-4-5-20251001-v1:0'
    """
    prefix, _, rest = model_id.partition(".")
    return rest if prefix in PROFILE_PREFIXES and "." in rest else model_id


def make_chat_model(settings: Settings, *, model_id: str | None = None) -> Any:
    """A streaming ``ChatBedrockConverse`` for ``model_id`` (default: the settings')."""
    from langchain_aws import ChatBedrockConverse

    return ChatBedrockConverse(
        model=model_id or settings.model_id,
        client=bedrock_runtime_client(settings),
        bedrock_client=bedrock_client(settings),
        region_name=settings.bedrock_region,
        max_tokens=settings.max_output_tokens,
        temperature=0.3,
        disable_streaming=False,
    )


async def stream_chunks(model: Any, messages: Any) -> AsyncIterator[Any]:
    """The chunks of ``model.astream(messages)``, read with fewer thread switches.

    A langchain chat model that streams only synchronously (``ChatBedrockConverse``: boto3
    is blocking) gets langchain's default ``astream``, which hands every single chunk to
    the event loop's executor and back — two thread switches and a Future per token. Such
    a model is read here by its own ``stream`` in one worker thread for the whole answer;
    chunks reach the loop in batches (one wake-up for whatever arrived meanwhile). Other
    models (native async ones, fakes) stream through ``astream`` as they are. Closing the
    iterator early stops the worker after the chunk it is reading::

        async with contextlib.aclosing(stream_chunks(model, "안녕?")) as chunks:
            async for chunk in chunks:
                print(chunk.text, end="")
    """
    if _streams_per_chunk_in_executor(model):
        chunks = _in_thread(lambda: model.stream(messages))
    else:
        chunks = model.astream(messages)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        await chunks.aclose()


def _streams_per_chunk_in_executor(model: Any) -> bool:
    """True for a langchain chat model whose ``astream`` is langchain's default executor
    wrapper around its synchronous ``_stream``."""
    from langchain_core.language_models import BaseChatModel

    kind = type(model)
    return (
        isinstance(model, BaseChatModel)
        and kind._astream is BaseChatModel._astream
        and kind._stream is not BaseChatModel._stream
    )


_END = object()


async def _in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Iterate the blocking iterator ``make()`` in one worker thread (with this context's
    variables, as ``run_in_executor`` would); the loop is woken only when it waits."""
    loop = asyncio.get_running_loop()
    items: deque[Any] = deque()
    lock = threading.Lock()
    waiter: asyncio.Future[None] | None = None
    stopped = threading.Event()  # the consumer left: stop after the current item

    def wake(future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_result(None)

    def hand_over(item: Any) -> None:
        nonlocal waiter
        with lock:
            items.append(item)
            future, waiter = waiter, None
        if future is not None:
            loop.call_soon_threadsafe(wake, future)

    def pump() -> None:
        try:
            iterator = make()
            try:
                for item in iterator:
                    if stopped.is_set():
                        break
                    hand_over(item)
            finally:
                getattr(iterator, "close", lambda: None)()
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(_Raised(exc))
        hand_over(_END)

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(pump,), name="chatkit-stream", daemon=True
    )
    worker.start()
    try:
        while True:
            with lock:
                batch = list(items)
                items.clear()
                if not batch:
                    waiter = loop.create_future()
            if not batch:
                await waiter
                continue
            for item in batch:
                if item is _END:
                    return
                if isinstance(item, _Raised):
                    raise item.exc
                yield item
    finally:
        stopped.set()
        with lock:
            waiter = None  # the loop may be closed when the worker hands over its last item


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_PROFILE_HINT = (
    "이 모델은 추론 프로파일 ID(예: global.…, apac.…, us.…)로 호출해야 합니다. "
    "(Call this model through an inference profile id such as global.…/apac.…/us.….)"
)
_ACCESS_HINT = (
    "Bedrock 콘솔의 '모델 액세스' 페이지는 없어졌고, 모델은 첫 호출 때 활성화됩니다. 호출하는 "
    "역할(노트북의 실행 역할, 배포된 Lambda 역할)에 bedrock:InvokeModel* 권한과 첫 사용을 위한 "
    "aws-marketplace:Subscribe·Unsubscribe·ViewSubscriptions 권한이 있는지 확인하세요 "
    "(infra/attendee-policy.json). "
    "(The Model access page is retired: a model is enabled on its first call. The caller needs "
    "bedrock:InvokeModel* and, for that first call, aws-marketplace:Subscribe/Unsubscribe/"
    "ViewSubscriptions — see infra/attendee-policy.json.)"
)
_USE_CASE_HINT = (
    "Anthropic 모델은 계정마다 한 번 사용 사례 양식(use case form)을 내야 합니다: Bedrock 콘솔의 "
    "모델 카탈로그에서 Anthropic 모델을 열어 제출한 뒤 다시 시도하세요. "
    "(Anthropic models need the one-time use-case form per account: open an Anthropic model "
    "in the Bedrock console's model catalog, submit the form, then retry.)"
)
_EXPIRED_HINT = (
    "AWS 자격 증명이 만료되었거나 잘못되었습니다: 새 자격 증명을 받으세요. "
    "(The AWS credentials are expired or invalid: get fresh ones.)"
)
_MODEL_ID_HINT = "모델 ID를 확인하세요: CHATKIT_MODEL_ID. (Check the model id: CHATKIT_MODEL_ID.)"
_CREDENTIALS_HINT = (
    "AWS 자격 증명을 찾을 수 없습니다. 오프라인 모드는 CHATKIT_MODE=offline 입니다. "
    "(No AWS credentials found; use CHATKIT_MODE=offline for the offline mode.)"
)

_THROTTLING = {
    "ThrottlingException",
    "throttlingException",
    "TooManyRequestsException",
    "ServiceQuotaExceededException",
}
#: Retryable too (``throttled``), but nobody sent too many requests: say what happened.
_UNAVAILABLE = {"serviceUnavailableException", "ServiceUnavailableException"}
_UNAVAILABLE_HINT = (
    "모델 서비스를 잠시 사용할 수 없습니다. (The model service is briefly unavailable.)"
)
#: Bedrock names it ``ValidationException`` before the stream, ``validationException`` in it.
_VALIDATION = {"ValidationException", "validationException"}
_TIMEOUTS = {"ModelTimeoutException", "modelTimeoutException"}
_ACCESS = {"AccessDeniedException", "AccessDenied"}
_EXPIRED = {"UnrecognizedClientException", "ExpiredTokenException", "ExpiredToken"}


def _aws_code(exc: BaseException) -> tuple[str, str]:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return str(error.get("Code", "")), str(error.get("Message", ""))


def classify_error(exc: BaseException) -> ChatError:
    """Map an exception from the model call to a :class:`ChatError`.

    >>> classify_error(TimeoutError()).code.value
    'timeout'
    """
    if isinstance(exc, ChatError):
        return exc
    from botocore import exceptions as bex

    code, message = _aws_code(exc)
    lowered = message.lower()
    if code in _THROTTLING:
        return ChatError(ErrorCode.THROTTLED)
    if code in _UNAVAILABLE:
        return ChatError(ErrorCode.THROTTLED, _UNAVAILABLE_HINT)
    if code in _TIMEOUTS or isinstance(
        exc, (bex.ReadTimeoutError, bex.ConnectTimeoutError, TimeoutError)
    ):
        return ChatError(ErrorCode.TIMEOUT)
    if "use case" in lowered:  # "Model use case details have not been submitted…"
        return ChatError(ErrorCode.MODEL_ACCESS, _USE_CASE_HINT)
    if code in _ACCESS:
        return ChatError(ErrorCode.MODEL_ACCESS, _ACCESS_HINT)
    if code in _EXPIRED:
        return ChatError(ErrorCode.MODEL_ACCESS, _EXPIRED_HINT)
    if code == "ResourceNotFoundException":
        return ChatError(ErrorCode.MODEL_ACCESS, _MODEL_ID_HINT)
    if code in _VALIDATION:
        if "on-demand throughput" in lowered or "inference profile" in lowered:
            return ChatError(ErrorCode.MODEL_ACCESS, _PROFILE_HINT)
        if "model identifier" in lowered or "model id" in lowered:
            return ChatError(ErrorCode.MODEL_ACCESS, _MODEL_ID_HINT)
        if "too long" in lowered or "too many tokens" in lowered:
            return ChatError(ErrorCode.TOO_LONG)
        return ChatError(ErrorCode.BAD_REQUEST)
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return ChatError(ErrorCode.MODEL_ACCESS, _CREDENTIALS_HINT)
    if code or isinstance(exc, (bex.EndpointConnectionError, bex.ConnectionError)):
        # In-stream exceptions (modelStreamErrorException, internalServerException, …)
        # and 5xx after retries: the model failed; the details stay in the log.
        return ChatError(ErrorCode.MODEL_ERROR)
    if type(exc).__name__ == "BedrockContextOverflowError":
        return ChatError(ErrorCode.TOO_LONG)
    return ChatError(ErrorCode.INTERNAL)
