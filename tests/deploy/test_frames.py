"""Frames as API Gateway takes them: a WebSocket frame may carry at most 32 KB; the frames
the Lambda posts stay a little under it (32,000 bytes, the decimal reading of "32 KB"), so
JSON escaping, a longer ``request_id`` or framing overhead never pushes one over."""

from __future__ import annotations

import json

import pytest

from chatkit.protocol import FrameWriter

API_GATEWAY_FRAME_BYTES = 32 * 1024
HEADROOM = 768


@pytest.mark.parametrize("text", ["가" * 60_000, '"\\' * 40_000, "🙂a한" * 30_000])
def test_posted_frames_stay_a_little_under_api_gateways_frame_limit(text):
    request_id = "r-" + "x" * 126  # the longest request id the protocol accepts
    frames = FrameWriter(request_id).frames({"type": "delta", "text": text})
    sizes = [len(frame.encode()) for frame in frames]
    assert max(sizes) <= API_GATEWAY_FRAME_BYTES - HEADROOM, max(sizes)
    assert "".join(json.loads(frame)["text"] for frame in frames) == text
