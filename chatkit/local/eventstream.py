"""Encode AWS event-stream binary messages (``application/vnd.amazon.eventstream``).

Wire format of one message (all integers big-endian)::

    total length u32 | headers length u32 | CRC32(prelude: first 8 bytes) u32
    headers: repeated [name length u8 | name | type u8 (7 = string) | value length u16 | value]
    payload
    CRC32(everything before this field) u32

Example::

    >>> frame = encode_event("contentBlockDelta", {"delta": {"text": "안녕"}})
    >>> int.from_bytes(frame[:4], "big") == len(frame)
    True
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
"""The HTTP ``Content-Type`` of an event-stream response."""

_STRING_HEADER = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_MAX_HEADER_VALUE = 0xFFFF
_MAX_NAME = 0xFF


def _crc32(data: bytes, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """Encode string headers in the event-stream header format.

    Example::

        >>> encode_headers({":message-type": "event"})[:1]
        b'\\r'
    """
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if not raw_name or len(raw_name) > _MAX_NAME:
            raise ValueError(f"header name must be 1-255 bytes: {name!r}")
        if len(raw_value) > _MAX_HEADER_VALUE:
            raise ValueError(f"header value too long for {name!r}")
        out += bytes([len(raw_name)]) + raw_name
        out += bytes([_STRING_HEADER]) + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Frame ``payload`` with ``headers`` as one event-stream message (with both CRCs).

    Example::

        >>> msg = encode_message({":message-type": "event"}, b"{}")
        >>> len(msg) == 12 + len(encode_headers({":message-type": "event"})) + 2 + 4
        True
    """
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    head = prelude + _CRC.pack(_crc32(prelude))
    body = head + raw_headers + payload
    return body + _CRC.pack(_crc32(body))


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """Encode one JSON event such as ``messageStart`` or ``contentBlockDelta``.

    Example::

        >>> frame = encode_event("messageStart", {"role": "assistant"})
        >>> b"messageStart" in frame and b'"assistant"' in frame
        True
    """
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, _json(payload))


def encode_exception(
    exception_type: str, message: str, fields: Mapping[str, Any] | None = None
) -> bytes:
    """Encode an in-stream exception (botocore raises ``EventStreamError`` for it).

    ``exception_type`` is the camelCase member name of the stream union, e.g.
    ``modelStreamErrorException`` or ``throttlingException``; ``fields`` are the
    exception's other members (``originalStatusCode``, ``originalMessage``).

    Example::

        >>> frame = encode_exception("modelStreamErrorException", "데모 오류",
        ...                          {"originalStatusCode": 500})
        >>> b":exception-type" in frame and b'"originalStatusCode":500' in frame
        True
    """
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, _json({"message": message, **(fields or {})}))
