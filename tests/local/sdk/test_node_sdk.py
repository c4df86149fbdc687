"""The AWS SDK for JavaScript v3 (``@aws-sdk/client-bedrock-runtime``, default settings:
HTTP/2) against the offline stack's Bedrock emulator, run by ``node --test``
(bedrock_runtime.test.mjs); here, what only the server side can see."""

from __future__ import annotations


def test_bedrock_runtime_sdk_over_http2(stack, run_node):
    result = run_node(
        "bedrock_runtime.test.mjs", {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stack.bedrock_url}
    ).check()
    assert result.count("tests") == result.count("pass") >= 9

    from_node = [r for r in stack.emulator.requests if r.model_id.startswith("node.")]
    assert {r.operation for r in from_node} == {"Converse", "ConverseStream"}
    assert {r.protocol for r in from_node} == {"HTTP/2"}

    # The client cancelled a 30-second answer after three deltas and the emulator stopped
    # soon after: the deltas had reached the client as they were produced.
    left = stack.emulator.wait_client_left("node.abort")
    assert left is not None, "the emulator did not notice the Node client leaving"
    assert left.sent < left.total / 2
