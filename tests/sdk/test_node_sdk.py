"""The AWS SDK for JavaScript v3 (``@aws-sdk/client-bedrock-runtime``, default settings:
HTTP/2) against the offline stack's Bedrock emulator, run by ``node --test``
(bedrock_runtime.test.mjs); here, what only the server side can see."""

from __future__ import annotations

import logging
import time


def test_bedrock_runtime_sdk_over_http2(stack, run_node, caplog):
    caplog.set_level(logging.DEBUG, logger="chatkit.local.bedrock_emulator")
    result = run_node(
        "bedrock_runtime.test.mjs", {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stack.bedrock_url}
    ).check()
    assert result.count("tests") == result.count("pass") >= 9

    from_node = [r for r in stack.emulator.requests if r.model_id.startswith("node.")]
    assert {r.operation for r in from_node} == {"Converse", "ConverseStream"}
    assert {r.protocol for r in from_node} == {"HTTP/2"}

    # The client left a 30-second answer after three deltas; the emulator stopped soon
    # after: the deltas had reached the client as they were produced.
    deadline = time.monotonic() + 10
    stopped = []
    while not stopped and time.monotonic() < deadline:
        stopped = [r for r in caplog.records if "stopped node.abort" in r.getMessage()]
        time.sleep(0.02)
    assert stopped, "the emulator did not notice the Node client leaving"
    _, sent, total = stopped[0].args
    assert sent < total / 2
