"""The local Bedrock emulator through real boto3 and real langchain-aws (loopback only)."""

from __future__ import annotations

import json
import logging
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


def test_client_disconnect_stops_generation(bedrock_client, bedrock_emulator, caplog):
    """Also proves chunked streaming by counts: deltas read before the end of the answer."""
    caplog.set_level(logging.DEBUG, logger="chatkit.local.bedrock_emulator")
    response = bedrock_client.converse_stream(
        modelId="demo.disconnect", messages=[user("!rate 50 !long 3000 서울 이야기")]
    )
    stream = iter(response["stream"])
    for _ in range(3):
        next(stream)
    response["stream"].close()

    left = bedrock_emulator.wait_client_left("demo.disconnect")
    assert left is not None, "the emulator did not notice the client leaving"
    assert left.sent < left.total / 2  # ~1500 tokens at 50/s: it stopped long before the end
    assert any("stopped demo.disconnect" in r.getMessage() for r in caplog.records)
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


# -- Bedrock's own validation ------------------------------------------------------------


def _rejected(bedrock_client, model_id: str = MODEL_ID, **request) -> dict:
    with pytest.raises(ClientError) as caught:
        bedrock_client.converse(modelId=model_id, **request)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ValidationException"
    assert error["Error"]["Code"] == "ValidationException"
    return error["Error"]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [{"role": "user", "content": []}],
            "The content field in the Message object at messages.0 is empty. "
            "Add a ContentBlock object to the content field and try again.",
        ),
        (
            [user("서울"), {"role": "assistant", "content": [{"text": " \n "}]}, user("또")],
            "The text field in the ContentBlock object at messages.1.content.0 is blank. "
            "Add text to the text field, and try again.",
        ),
        (
            [{"role": "assistant", "content": [{"text": "안녕하세요"}]}, user("서울")],
            "A conversation must start with a user message. "
            "Try again with a conversation that starts with a user message.",
        ),
    ],
    ids=["empty-content", "blank-text", "assistant-first"],
)
def test_conversations_bedrock_rejects_are_rejected(bedrock_client, messages, message):
    assert _rejected(bedrock_client, messages=messages)["Message"] == message
    with pytest.raises(ClientError) as caught:  # the stream is refused before it starts
        bedrock_client.converse_stream(modelId=MODEL_ID, messages=messages)
    assert caught.value.response["Error"]["Message"] == message


def test_inference_config_out_of_range(bedrock_client, bedrock_emulator):
    before = len(bedrock_emulator.requests)
    error = _rejected(bedrock_client, messages=[user("안녕")], inferenceConfig={"temperature": 1.5})
    assert error["Message"] == (
        "1 validation error detected: Value '1.5' at 'inferenceConfig.temperature' failed "
        "to satisfy constraint: Member must have value less than or equal to 1"
    )
    # botocore refuses values under the minimum itself; other SDKs send them.
    body = {"messages": [user("안녕")], "inferenceConfig": {"temperature": -0.1, "topP": 2}}
    status, headers, data = _raw(
        f"{bedrock_emulator.url}/model/demo.model/converse", "POST", json.dumps(body).encode()
    )
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert json.loads(data)["message"] == (
        "2 validation errors detected: Value '-0.1' at 'inferenceConfig.temperature' failed"
        " to satisfy constraint: Member must have value greater than or equal to 0; "
        "Value '2.0' at 'inferenceConfig.topP' failed to satisfy constraint: Member must "
        "have value less than or equal to 1"
    )
    assert len(bedrock_emulator.requests) == before  # refused requests are not recorded
    ok = bedrock_client.converse(
        modelId=MODEL_ID, messages=[user("안녕")], inferenceConfig={"temperature": 1, "topP": 0}
    )
    assert ok["stopReason"] == "end_turn"


@pytest.mark.parametrize("model_id", ["bad model!", "../../etc/passwd", "모델", "x" * 2049])
def test_model_ids_not_shaped_like_one_are_rejected(bedrock_client, model_id):
    message = _rejected(bedrock_client, model_id, messages=[user("안녕")])["Message"]
    assert message.startswith("1 validation error detected: Value '")
    assert "at 'modelId' failed to satisfy constraint: Member must" in message


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "apac.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/"
        "apac.anthropic.claude-haiku-4-5-20251001-v1:0",
        "demo.model",
    ],
)
def test_model_ids_shaped_like_one_are_served(bedrock_client, model_id):
    result = bedrock_client.converse(modelId=model_id, messages=[user("안녕")])
    assert model_id in result["output"]["message"]["content"][0]["text"]


def _raw(url: str, method: str = "GET", body: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("POST", "/model/demo.model/invoke"), ("GET", "/model/demo.model/converse")],
)
def test_paths_not_served_get_a_json_aws_error(bedrock_emulator, method, path):
    body = b"{}" if method == "POST" else None
    status, headers, data = _raw(bedrock_emulator.url + path, method, body)
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert headers["Content-Type"].startswith("application/json")
    assert path.split("?")[0] in json.loads(data)["message"]


# -- in-stream errors -----------------------------------------------------------------------

STREAM_KINDS = {
    "model": "modelStreamErrorException",
    "internal": "internalServerException",
    "throttling": "throttlingException",
    "unavailable": "serviceUnavailableException",
    "validation": "validationException",
}


@pytest.mark.parametrize("kind", list(STREAM_KINDS))
def test_every_in_stream_error_kind_can_be_produced(bedrock_client, kind):
    response = bedrock_client.converse_stream(
        modelId=MODEL_ID, messages=[user(f"!fail-after 2 !fail-as {kind} 서울 여행 추천해줘")]
    )
    received: list[str] = []
    with pytest.raises(EventStreamError) as caught:
        for event in response["stream"]:
            received.extend(deltas([event]))
    assert len(received) == 2
    assert caught.value.response["Error"]["Code"] == STREAM_KINDS[kind]
    assert "데모용으로 주입한" in caught.value.response["Error"]["Message"]


def test_fail_as_alone_fails_before_the_first_delta(bedrock_client):
    response = bedrock_client.converse_stream(
        modelId=MODEL_ID, messages=[user("!fail-as unavailable 안녕")]
    )
    events: list[dict] = []
    with pytest.raises(EventStreamError) as caught:
        events.extend(response["stream"])
    assert events == [{"messageStart": {"role": "assistant"}}]
    assert caught.value.response["Error"]["Code"] == "serviceUnavailableException"


def test_model_stream_error_carries_the_original_status(bedrock_emulator):
    """botocore drops these members; the wire (read with botocore's decoder) has them."""
    from botocore.eventstream import EventStreamBuffer

    body = json.dumps({"messages": [user("!fail-after 1 안녕")]}).encode()
    status, _, data = _raw(f"{bedrock_emulator.url}/model/demo.model/converse-stream", "POST", body)
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    *_, last = list(buffer)
    assert status == 200 and last.headers[":exception-type"] == "modelStreamErrorException"
    payload = json.loads(last.payload)
    assert payload["originalStatusCode"] == 500 and "demo model" in payload["originalMessage"]


# -- the bedrock control plane ----------------------------------------------------------------


@pytest.fixture
def control_client(bedrock_emulator, monkeypatch):
    """boto3's ``bedrock`` client finding the emulator through AWS_ENDPOINT_URL_BEDROCK."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", bedrock_emulator.url)
    return boto3.session.Session().client(
        "bedrock",
        region_name="ap-northeast-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_inference_profiles_are_listed_and_described(control_client):
    pages = control_client.get_paginator("list_inference_profiles").paginate(
        PaginationConfig={"PageSize": 4}
    )
    summaries = [p for page in pages for p in page["inferenceProfileSummaries"]]
    ids = [p["inferenceProfileId"] for p in summaries]
    assert len(ids) == len(set(ids)) > 4  # more than one page, nothing twice
    assert MODEL_ID in ids and "apac.anthropic.claude-haiku-4-5-20251001-v1:0" in ids

    profile = control_client.get_inference_profile(inferenceProfileIdentifier=MODEL_ID)
    assert profile["inferenceProfileId"] == MODEL_ID and profile["status"] == "ACTIVE"
    assert profile["inferenceProfileArn"].startswith("arn:aws:bedrock:ap-northeast-2:")
    assert profile["models"][0]["modelArn"].endswith(
        "foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    by_arn = control_client.get_inference_profile(
        inferenceProfileIdentifier=profile["inferenceProfileArn"]
    )
    assert by_arn["inferenceProfileId"] == MODEL_ID

    with pytest.raises(ClientError) as caught:
        control_client.get_inference_profile(inferenceProfileIdentifier="eu.nobody.model-v1:0")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_catalogue_follows_the_default_model():
    from chatkit.config import DEFAULT_MODEL_ID
    from chatkit.local.bedrock_emulator import BedrockEmulator

    assert DEFAULT_MODEL_ID in BedrockEmulator().catalogue.profiles
    extra = BedrockEmulator(models=["eu.meta.llama3-2-1b-instruct-v1:0"]).catalogue
    assert "eu.meta.llama3-2-1b-instruct-v1:0" in extra.profiles
    assert "meta.llama3-2-1b-instruct-v1:0" in extra.models


def test_foundation_models_are_listed_and_described(control_client):
    listed = control_client.list_foundation_models(byProvider="Anthropic")["modelSummaries"]
    ids = [m["modelId"] for m in listed]
    assert "anthropic.claude-haiku-4-5-20251001-v1:0" in ids
    assert control_client.list_foundation_models(byProvider="Meta")["modelSummaries"] == []

    details = control_client.get_foundation_model(
        modelIdentifier="anthropic.claude-haiku-4-5-20251001-v1:0"
    )["modelDetails"]
    assert details["modelName"] == "Claude Haiku 4.5"
    assert details["responseStreamingSupported"] is True
    assert details["modelLifecycle"]["status"] == "ACTIVE"
    with pytest.raises(ClientError) as caught:
        control_client.get_foundation_model(modelIdentifier="meta.llama9-v1:0")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_doctor_checks_pass_against_the_emulator_in_aws_mode(bedrock_emulator, monkeypatch):
    """The preflight in aws mode, endpoints only from the standard AWS variables."""
    from chatkit.config import Settings
    from chatkit.doctor import run_checks

    for name, value in {
        "AWS_ENDPOINT_URL_BEDROCK": bedrock_emulator.url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_emulator.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings().with_(mode="aws", model_id=MODEL_ID)
    checks = {c.name: c for c in run_checks(settings) if c.name in ("inference profile", "model")}
    profile = checks["inference profile"]
    assert profile.ok and not profile.skipped, profile  # answered, not "not checked"
    assert profile.detail == f"{MODEL_ID} is an inference profile here"
    assert checks["model"].ok and MODEL_ID in checks["model"].detail


# -- HTTP/2 (prior knowledge) and the Host rule ------------------------------------------------


class H2Client:
    """A minimal HTTP/2 client over a real socket (the ``h2`` package, client side)."""

    def __init__(self, port: int) -> None:
        import socket

        from h2.config import H2Configuration
        from h2.connection import H2Connection

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method: str, path: str, body: bytes = b"", authority="127.0.0.1") -> int:
        stream_id = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":path", path), (":scheme", "http")]
        headers += [(":authority", authority), ("content-type", "application/json")]
        self.conn.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.conn.send_data(stream_id, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        return stream_id

    def events(self):
        """Yield h2 events as they arrive (acknowledging data so the window stays open)."""
        from h2.events import DataReceived

        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            for event in self.conn.receive_data(data):
                if isinstance(event, DataReceived):
                    self.conn.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
                yield event
            self.sock.sendall(self.conn.data_to_send())

    def response(self, stream_id: int) -> tuple[dict, bytes]:
        from h2.events import DataReceived, ResponseReceived, StreamEnded

        headers, body = {}, b""
        for event in self.events():
            if isinstance(event, ResponseReceived):
                headers = dict(event.headers)
            elif isinstance(event, DataReceived):
                body += event.data
            elif isinstance(event, StreamEnded) and event.stream_id == stream_id:
                return headers, body
        raise AssertionError("connection closed before the response ended")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def h2(bedrock_emulator):
    client = H2Client(bedrock_emulator.port)
    yield client
    client.close()


def test_http2_converse_and_errors_share_the_http1_handling(h2, bedrock_emulator):
    body = json.dumps({"messages": [user("부산 맛집 알려줘")]}).encode()
    headers, data = h2.response(h2.request("POST", "/model/demo.model/converse", body))
    assert headers[":status"] == "200"
    assert "부산" in json.loads(data)["output"]["message"]["content"][0]["text"]
    assert bedrock_emulator.last_request.protocol == "HTTP/2"

    bad = json.dumps({"messages": [{"role": "assistant", "content": [{"text": "a"}]}]})
    headers, data = h2.response(h2.request("POST", "/model/demo.model/converse", bad.encode()))
    assert headers[":status"] == "400" and headers["x-amzn-errortype"] == "ValidationException"
    assert json.loads(data)["message"].startswith("A conversation must start with a user")

    headers, data = h2.response(h2.request("GET", "/nowhere"))
    assert headers[":status"] == "404"
    assert headers["x-amzn-errortype"] == "UnknownOperationException"

    headers, data = h2.response(h2.request("GET", "/inference-profiles?maxResults=2"))
    assert len(json.loads(data)["inferenceProfileSummaries"]) == 2


def test_http2_stream_frames_arrive_as_produced(h2, bedrock_emulator):
    """Three deltas of a 30-second answer arrive, the client resets the stream, and the
    emulator stops after a few tokens: nothing was held back until the end."""
    from botocore.eventstream import EventStreamBuffer
    from h2.events import DataReceived

    body = json.dumps({"messages": [user("!rate 50 !long 3000 서울 이야기")]}).encode()
    stream_id = h2.request("POST", "/model/demo.h2-reset/converse-stream", body)
    buffer, texts = EventStreamBuffer(), []
    for event in h2.events():
        if isinstance(event, DataReceived):
            buffer.add_data(event.data)
            texts += [
                json.loads(m.payload)["delta"]["text"]
                for m in buffer
                if m.headers[":event-type"] == "contentBlockDelta"
            ]
        if len(texts) >= 3:
            break
    h2.conn.reset_stream(stream_id)
    h2.sock.sendall(h2.conn.data_to_send())

    left = bedrock_emulator.wait_client_left("demo.h2-reset")
    assert left is not None, "the emulator did not notice the reset"
    assert left.sent < left.total / 2
    assert texts == ["[", "데모", " 모델"]  # the first tokens, each its own frame


def test_foreign_host_is_refused_on_http1_and_http2(h2, bedrock_emulator):
    from chatkit.local._hosts import REFUSED_TEXT

    body = json.dumps({"messages": [user("안녕")]}).encode()
    url = f"{bedrock_emulator.url}/model/demo.model/converse"
    for host in ("evil.example", f"evil.example:{bedrock_emulator.port}", "127.0.0.1.nip.io"):
        status, _, data = _raw(url, "POST", body, {"Host": host})
        assert (status, data.decode()) == (421, REFUSED_TEXT)
    headers, data = h2.response(
        h2.request("POST", "/model/demo.model/converse", body, authority="evil.example:80")
    )
    assert headers[":status"] == "421" and data.decode() == REFUSED_TEXT
    for host in ("localhost", f"127.0.0.1:{bedrock_emulator.port}", "[::1]"):
        assert _raw(url, "POST", body, {"Host": host})[0] == 200
    headers, _ = h2.response(
        h2.request("POST", "/model/demo.model/converse", body, authority="localhost:1")
    )
    assert headers[":status"] == "200"


# -- in-stream errors through ChatSession (chatkit's classification and the stored turn) ------


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("model", "model_error"),
        ("internal", "model_error"),
        ("throttling", "throttled"),
        ("unavailable", "throttled"),
        ("validation", "bad_request"),
    ],
)
async def test_in_stream_errors_through_chat_session(session, kind, code):
    request_id = f"stream-{kind}"
    events = [
        e async for e in session.astream("u", f"!fail-after 2 !fail-as {kind} 부산", request_id)
    ]
    shown = "".join(e.text for e in events if e.type == "delta")
    assert [e.type for e in events].count("delta") == 2
    assert events[-1].type == "error" and events[-1].code == code
    assert "Traceback" not in events[-1].message and "데모용" not in events[-1].message
    assert ("unavailable" in events[-1].message) == (kind == "unavailable")
    stored = session.history.get("u", request_id)
    assert (stored.status, stored.error_code) == ("error", code)
    assert stored.answer == shown != ""  # the partial answer is kept


def test_stopping_the_emulator_ends_open_http2_connections():
    from h2.events import ConnectionTerminated, DataReceived

    emulator = BedrockEmulator(default_rate=0).start()
    client = H2Client(emulator.port)
    try:
        body = json.dumps({"messages": [user("!rate 50 !long 3000 서울 이야기")]}).encode()
        client.request("POST", "/model/demo.stopping/converse-stream", body)
        events = client.events()
        assert any(isinstance(event, DataReceived) for event in events)  # streaming now
        emulator.stop()
        ending = next(e for e in events if isinstance(e, ConnectionTerminated))
        assert ending.error_code == 0  # a graceful GOAWAY, not a dropped socket
    finally:
        client.close()
        emulator.stop()
