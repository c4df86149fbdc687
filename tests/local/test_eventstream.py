"""Our event-stream encoder against botocore's decoder (the one real clients use)."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from chatkit.local.eventstream import (
    encode_event,
    encode_exception,
    encode_headers,
    encode_message,
)


def _decode_all(data: bytes, step: int | None = None) -> list:
    buffer = EventStreamBuffer()
    messages = []
    step = step or len(data)
    for start in range(0, len(data), step):
        buffer.add_data(data[start : start + step])
        messages.extend(buffer)
    return messages


def test_event_round_trips_headers_and_korean_payload():
    payload = {"contentBlockIndex": 0, "delta": {"text": "서울 지하철 요금은 🚇"}}
    [message] = _decode_all(encode_event("contentBlockDelta", payload))

    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload.decode("utf-8")) == payload
    # ensure_ascii=False: Hangul travels as UTF-8, not as \\u escapes.
    assert "서울".encode() in message.payload
    assert b"\\u" not in message.payload


def test_exception_message_shape():
    [message] = _decode_all(encode_exception("modelStreamErrorException", "데모 오류"))

    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "modelStreamErrorException"
    assert message.headers[":content-type"] == "application/json"
    assert json.loads(message.payload) == {"message": "데모 오류"}
    assert message.to_response_dict()["status_code"] == 400


def test_exception_members_beside_the_message():
    fields = {"originalStatusCode": 529, "originalMessage": "과부하 (Overloaded)"}
    frame = encode_exception("modelStreamErrorException", "스트림 오류", fields)
    [message] = _decode_all(frame)
    assert json.loads(message.payload) == {"message": "스트림 오류", **fields}


def test_lengths_and_crcs_are_valid():
    frame = encode_event("messageStop", {"stopReason": "end_turn"})
    total, headers_len, prelude_crc = struct.unpack(">III", frame[:12])

    assert total == len(frame)
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])
    assert frame[12 : 12 + headers_len] == encode_headers(
        {
            ":event-type": "messageStop",
            ":content-type": "application/json",
            ":message-type": "event",
        }
    )


def test_many_messages_split_across_arbitrary_reads():
    texts = ["[데모", " 모델]", " 안녕", "하세요", "!"]
    data = encode_event("messageStart", {"role": "assistant"}) + b"".join(
        encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}})
        for t in texts
    )
    for step in (1, 7, 64, len(data)):
        messages = _decode_all(data, step)
        assert [m.headers[":event-type"] for m in messages] == ["messageStart"] + [
            "contentBlockDelta"
        ] * len(texts)
        assert [json.loads(m.payload)["delta"]["text"] for m in messages[1:]] == texts


def test_corrupted_frame_is_rejected():
    frame = bytearray(encode_event("contentBlockDelta", {"delta": {"text": "가"}}))
    frame[-6] ^= 0xFF  # flip a payload byte: the message CRC no longer matches
    with pytest.raises(ChecksumMismatch):
        _decode_all(bytes(frame))


def test_generic_message_and_header_limits():
    [message] = _decode_all(encode_message({"x": "값"}, b"raw"))
    assert message.headers == {"x": "값"} and message.payload == b"raw"
    with pytest.raises(ValueError):
        encode_headers({"": "empty name"})
    with pytest.raises(ValueError):
        encode_headers({"big": "x" * 70_000})
