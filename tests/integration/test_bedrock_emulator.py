"""The local Bedrock emulator through real boto3 and real langchain-aws (loopback only)."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

import pytest
from aiohttp import web
from botocore.exceptions import ClientError, EventStreamError
from langchain_aws import ChatBedrockConverse

from chatkit.local._background import BackgroundServer
from chatkit.local.bedrock_emulator import BedrockEmulator

MODEL_ID = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def collect(response: dict) -> list[dict]:
    return list(response["stream"])


def deltas(events: list[dict]) -> list[str]:
    return [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]


def test_converse_stream_event_sequence(bedrock_client, bedrock_emulator):
    events = collect(
        bedrock_client.converse_stream(modelId=MODEL_ID, messages=[user("서울 여행 추천해줘")])
    )
    texts = deltas(events)
    answer = "".join(texts)

    assert len(texts) >= 5
    assert answer.startswith(f"[데모 모델 · {MODEL_ID}]")
    assert "서울" in answer
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert [next(iter(e)) for e in events[-3:]] == ["contentBlockStop", "messageStop", "metadata"]
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    usage = events[-1]["metadata"]["usage"]
    assert usage["outputTokens"] == len(texts)
    assert usage["inputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 0

    recorded = bedrock_emulator.last_request
    assert recorded.operation == "ConverseStream"
    assert recorded.model_id == MODEL_ID  # URL-decoded (':' arrives as %3A)


def test_deltas_arrive_incrementally(bedrock_client):
    """Chunked encoding: each event reaches the client when produced, not all at the end."""
    started = time.perf_counter()
    response = bedrock_client.converse_stream(
        modelId="demo.model",
        messages=[user("!rate 20 서울 여행 추천해줘")],
        inferenceConfig={"maxTokens": 20},
    )
    arrivals = [
        time.perf_counter() - started for e in response["stream"] if "contentBlockDelta" in e
    ]

    assert len(arrivals) == 20
    first, middle, last = arrivals[0], arrivals[len(arrivals) // 2], arrivals[-1]
    spread = last - first
    # Generation takes ~19/20 s; the deltas must be spread over most of it ...
    assert spread > 0.5 * last
    # ... and the middle delta must arrive in the middle, not bunched with the last one.
    assert 0.25 * spread < middle - first < 0.75 * spread


def test_history_reaches_the_model_and_is_recorded(bedrock_client, bedrock_emulator):
    messages = [
        user("서울 여행 추천해줘"),
        {"role": "assistant", "content": [{"text": "경복궁 어때요?"}]},
        user("그럼 지하철 요금은?"),
    ]
    answer = "".join(
        deltas(collect(bedrock_client.converse_stream(modelId="demo.model", messages=messages)))
    )
    assert "서울" in answer and "지하철" in answer
    assert bedrock_emulator.last_request.body["messages"] == messages


def test_fail_after_raises_event_stream_error(bedrock_client):
    response = bedrock_client.converse_stream(
        modelId=MODEL_ID, messages=[user("!fail-after 3 서울 여행 추천해줘")]
    )
    received: list[str] = []
    with pytest.raises(EventStreamError) as caught:
        for event in response["stream"]:
            if "contentBlockDelta" in event:
                received.append(event["contentBlockDelta"]["delta"]["text"])

    assert len(received) == 3
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "fault" in caught.value.response["Error"]["Message"]


def test_throttle_is_a_throttling_exception_before_the_stream(bedrock_client, bedrock_emulator):
    before = len(bedrock_emulator.requests)
    with pytest.raises(ClientError) as caught:
        bedrock_client.converse_stream(modelId=MODEL_ID, messages=[user("!throttle 안녕")])

    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert len(bedrock_emulator.requests) == before + 1  # no retry with total_max_attempts=1

    with pytest.raises(ClientError) as caught:
        bedrock_client.converse(modelId=MODEL_ID, messages=[user("!throttle 안녕")])
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


def test_converse_returns_the_same_answer(bedrock_client):
    messages = [user("부산 맛집 알려줘")]
    result = bedrock_client.converse(modelId=MODEL_ID, messages=messages)
    streamed = "".join(
        deltas(collect(bedrock_client.converse_stream(modelId=MODEL_ID, messages=messages)))
    )

    text = result["output"]["message"]["content"][0]["text"]
    assert result["output"]["message"]["role"] == "assistant"
    assert text == streamed
    assert "부산" in text
    assert result["stopReason"] == "end_turn"
    assert result["usage"]["outputTokens"] > 0
    assert result["usage"]["totalTokens"] == (
        result["usage"]["inputTokens"] + result["usage"]["outputTokens"]
    )
    assert "latencyMs" in result["metrics"]


def test_max_tokens_and_slow_first(bedrock_client):
    events = collect(
        bedrock_client.converse_stream(
            modelId="demo.model",
            messages=[user("!slow-first 0.2 서울 여행 추천해줘")],
            inferenceConfig={"maxTokens": 4},
        )
    )
    assert len(deltas(events)) == 4
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    # The server reports its own latency, which includes the requested first-token delay.
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 200

    result = bedrock_client.converse(
        modelId="demo.model", messages=[user("!slow-first 0.2 안녕")], inferenceConfig={}
    )
    assert result["metrics"]["latencyMs"] >= 200


def test_model_arn_with_slash_is_accepted(bedrock_client, bedrock_emulator):
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc.def"
    result = bedrock_client.converse(modelId=arn, messages=[user("안녕")])
    assert arn in result["output"]["message"]["content"][0]["text"]
    assert bedrock_emulator.last_request.model_id == arn


def test_invalid_requests_get_validation_exception(bedrock_client, bedrock_emulator):
    with pytest.raises(ClientError) as caught:
        bedrock_client.converse_stream(modelId=MODEL_ID, messages=[])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    for body in (b"{not json", b'{"messages": "x"}', b"[]"):
        request = urllib.request.Request(
            f"{bedrock_emulator.url}/model/demo.model/converse-stream", data=body, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as http_error:
            urllib.request.urlopen(request, timeout=10)
        assert http_error.value.code == 400
        assert http_error.value.headers["x-amzn-ErrorType"] == "ValidationException"
        assert json.loads(http_error.value.read())["message"]


def test_client_disconnect_stops_generation(bedrock_client, caplog):
    caplog.set_level(logging.DEBUG, logger="chatkit.local.bedrock_emulator")
    response = bedrock_client.converse_stream(
        modelId="demo.disconnect", messages=[user("!rate 50 !long 3000 서울 이야기")]
    )
    stream = iter(response["stream"])
    for _ in range(3):
        next(stream)
    response["stream"].close()

    deadline = time.monotonic() + 10
    stopped = []
    while not stopped and time.monotonic() < deadline:
        stopped = [r for r in caplog.records if "demo.disconnect" in r.getMessage()]
        time.sleep(0.02)
    assert stopped, "the emulator did not notice the client leaving"
    _, sent, total = stopped[0].args
    assert sent < total / 2  # ~1500 tokens at 50/s: it stopped long before the end
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_emulator_lifecycle_and_recording_bound():
    emulator = BedrockEmulator(default_rate=0, max_recorded=2)
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with emulator:
        assert emulator.url == f"http://127.0.0.1:{emulator.port}"
        for text in ("하나", "둘", "셋"):
            body = json.dumps({"messages": [user(text)]}).encode()
            request = urllib.request.Request(
                f"{emulator.url}/model/m/converse", data=body, method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as reply:
                assert reply.status == 200
        assert [r.body["messages"][0]["content"][0]["text"] for r in emulator.requests] == [
            "둘",
            "셋",
        ]
        emulator.clear_requests()
        assert emulator.requests == [] and emulator.last_request is None
    emulator.stop()  # idempotent


# -- langchain-aws -------------------------------------------------------------------------


def test_langchain_stream_yields_several_chunks(bedrock_client, bedrock_emulator):
    llm = ChatBedrockConverse(model=MODEL_ID, client=bedrock_client, disable_streaming=False)
    texts = [chunk.text for chunk in llm.stream("제주 여행 추천해줘")]
    non_empty = [t for t in texts if t]

    assert len(non_empty) >= 5
    assert "".join(texts).startswith(f"[데모 모델 · {MODEL_ID}]")
    assert bedrock_emulator.last_request.operation == "ConverseStream"


async def test_langchain_astream(bedrock_client, bedrock_emulator):
    llm = ChatBedrockConverse(model=MODEL_ID, client=bedrock_client, disable_streaming=False)
    texts = [chunk.text async for chunk in llm.astream("경주 음식 뭐가 유명해?")]

    assert len([t for t in texts if t]) >= 5
    assert "경주" in "".join(texts)
    assert bedrock_emulator.last_request.operation == "ConverseStream"


def test_unknown_model_id_streams_when_forced(bedrock_client, bedrock_emulator):
    forced = ChatBedrockConverse(
        model="demo.unknown-model", client=bedrock_client, disable_streaming=False
    )
    texts = [chunk.text for chunk in forced.stream("서울 날씨 어때?")]
    assert len([t for t in texts if t]) >= 5
    assert bedrock_emulator.last_request.operation == "ConverseStream"
    assert bedrock_emulator.last_request.model_id == "demo.unknown-model"

    # Without the flag, langchain-aws silently falls back to Converse: one big chunk.
    fallback = ChatBedrockConverse(model="demo.unknown-model", client=bedrock_client)
    texts = [chunk.text for chunk in fallback.stream("서울 날씨 어때?")]
    assert len([t for t in texts if t]) == 1
    assert bedrock_emulator.last_request.operation == "Converse"


def test_port_in_use_is_reported(bedrock_emulator):
    with pytest.raises(RuntimeError) as caught:
        BedrockEmulator(port=bedrock_emulator.port).start()
    assert isinstance(caught.value.__cause__, OSError)


def test_background_server_is_generic():
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="퐁")

    async def make_app() -> web.Application:  # async factories are awaited in the loop
        app = web.Application()
        app.router.add_get("/ping", ping)
        return app

    with BackgroundServer(make_app) as server:
        assert server.loop.is_running()
        with urllib.request.urlopen(f"{server.url}/ping", timeout=10) as reply:
            assert reply.read().decode() == "퐁"
    assert not server.running
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.url}/ping", timeout=2)
