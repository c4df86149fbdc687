// The unmodified AWS SDK for JavaScript v3 Bedrock runtime client, default settings (HTTP/2),
// against chatkit's Bedrock emulator. The endpoint comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME
// (set by test_node_sdk.py), so the client is built with no options at all.
// Model ids start with "node." so the pytest wrapper can find these requests afterwards.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InternalServerException,
  ModelStreamErrorException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";

const client = new BedrockRuntimeClient({});
after(() => client.destroy());

const user = (text) => ({ role: "user", content: [{ text }] });

async function converse(modelId, text) {
  const out = await client.send(new ConverseCommand({ modelId, messages: [user(text)] }));
  return out.output.message.content.map((block) => block.text).join("");
}

async function stream(modelId, messages, inferenceConfig) {
  const out = await client.send(new ConverseStreamCommand({ modelId, messages, inferenceConfig }));
  return out.stream;
}

test("Converse answers in Korean with the demo model's label", async () => {
  const text = await converse("node.converse", "부산 맛집 알려줘");
  assert.ok(text.startsWith("[데모 모델 · node.converse]"), text);
  assert.ok(text.includes("부산"), text);
});

test("ConverseStream: deltas one by one, concatenating to the Converse answer", async () => {
  const question = "제주 여행 추천해줘";
  const whole = await converse("node.stream", question);
  const events = [];
  for await (const event of await stream("node.stream", [user(question)])) events.push(event);

  const kinds = events.map((event) => Object.keys(event)[0]);
  assert.equal(kinds[0], "messageStart");
  assert.deepEqual(kinds.slice(-3), ["contentBlockStop", "messageStop", "metadata"]);
  const deltas = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta.delta.text);
  assert.ok(deltas.length >= 5, `only ${deltas.length} deltas`);
  assert.ok(deltas.every((text) => typeof text === "string" && text.length > 0));
  assert.equal(deltas.join(""), whole);
  // One event per generated token: nothing was merged on the way.
  assert.equal(events.at(-1).metadata.usage.outputTokens, deltas.length);
  assert.equal(events.at(-2).messageStop.stopReason, "end_turn");
});

test("a long stream can be cancelled after three deltas (the wrapper checks the emulator stopped)", async () => {
  const controller = new AbortController();
  const command = new ConverseStreamCommand({
    modelId: "node.abort",
    messages: [user("!rate 50 !long 3000 서울 이야기")],
  });
  const received = [];
  const out = await client.send(command, { abortSignal: controller.signal });
  try {
    for await (const event of out.stream) {
      if (event.contentBlockDelta) received.push(event.contentBlockDelta.delta.text);
      if (received.length === 3) controller.abort(); // the SDK resets the HTTP/2 stream
    }
  } catch (error) {
    assert.equal(error.name, "AbortError"); // the stream may end quietly or say so
  }
  assert.deepEqual(received, ["[", "데모", " 모델"]);
});

test("requests Bedrock rejects surface as the SDK's ValidationException", async () => {
  await assert.rejects(
    client.send(
      new ConverseCommand({
        modelId: "node.invalid",
        messages: [{ role: "assistant", content: [{ text: "안녕하세요" }] }, user("서울")],
      }),
    ),
    (error) => {
      assert.ok(error instanceof ValidationException, error.name);
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.match(error.message, /^A conversation must start with a user message\./);
      return true;
    },
  );
  await assert.rejects(stream("node.invalid", [user("안녕")], { temperature: 1.5 }), (error) => {
    assert.ok(error instanceof ValidationException, error.name);
    assert.match(error.message, /Value '1\.5' at 'inferenceConfig\.temperature'/);
    return true;
  });
  await assert.rejects(converse("node invalid!", "안녕"), ValidationException);
});

const KINDS = [
  ["model", ModelStreamErrorException],
  ["internal", InternalServerException],
  ["throttling", ThrottlingException],
  ["unavailable", ServiceUnavailableException],
  ["validation", ValidationException],
];

for (const [kind, ErrorClass] of KINDS) {
  test(`!fail-as ${kind}: two deltas, then the SDK throws ${ErrorClass.name}`, async () => {
    const events = await stream("node.fail", [user(`!fail-after 2 !fail-as ${kind} 경주 음식`)]);
    const received = [];
    await assert.rejects(
      (async () => {
        for await (const event of events) {
          if (event.contentBlockDelta) received.push(event.contentBlockDelta.delta.text);
        }
      })(),
      (error) => {
        assert.ok(error instanceof ErrorClass, `${error.name}: ${error.message}`);
        assert.match(error.message, /데모용으로 주입한 스트림 오류/);
        if (ErrorClass === ModelStreamErrorException) {
          assert.equal(error.originalStatusCode, 500);
          assert.match(error.originalMessage, /demo model/);
        }
        return true;
      },
    );
    assert.equal(received.length, 2);
  });
}
