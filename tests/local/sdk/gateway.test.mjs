// `chatkit serve`'s local API Gateway driven from Node with unmodified packages: `ws` for the
// WebSocket (sign in, a Korean chat streamed as deltas) and @aws-sdk/client-apigatewaymanagementapi
// with default settings (only the endpoint) for @connections. test_node_gateway.py starts the
// gateway, passes CHATKIT_URL and CHATKIT_CONNECTIONS_ENDPOINT, and writes this socket's
// connection id to stdin once the gateway has it (API Gateway never tells a client its id).
import assert from "node:assert/strict";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { test } from "node:test";

import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import WebSocket from "ws";

const { CHATKIT_URL, CHATKIT_CONNECTIONS_ENDPOINT } = process.env;

// Frames in arrival order; next() waits for the following one.
function reader(ws) {
  const frames = [];
  const waiting = [];
  ws.on("message", (data) => {
    const text = data.toString("utf8");
    if (waiting.length) waiting.shift()(text);
    else frames.push(text);
  });
  return () => (frames.length ? Promise.resolve(frames.shift()) : new Promise((r) => waiting.push(r)));
}

test("sign in, chat in Korean over ws, then @connections through the JS SDK", async () => {
  const login = await fetch(`${CHATKIT_URL}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: "노드" }),
  });
  assert.equal(login.status, 200);
  const { token } = await login.json();

  const ws = new WebSocket(`${CHATKIT_URL.replace(/^http/, "ws")}/ws?token=${encodeURIComponent(token)}`);
  const next = reader(ws);
  await once(ws, "open");
  ws.send(JSON.stringify({ type: "chat", request_id: "n1", text: "!rate 0 서울 여행 추천해줘" }));
  const frames = [];
  do frames.push(JSON.parse(await next()));
  while (!["end", "error"].includes(frames.at(-1).type));
  assert.deepEqual(frames.map((f) => f.seq), [...frames.keys()]);
  assert.equal(frames[0].type, "start");
  assert.equal(frames.at(-1).type, "end");
  const deltas = frames.filter((f) => f.type === "delta");
  assert.ok(deltas.length >= 1);
  assert.match(deltas.map((f) => f.text).join(""), /서울/);

  const stdin = createInterface({ input: process.stdin });
  const connectionId = (await stdin[Symbol.asyncIterator]().next()).value.trim();
  stdin.close();
  const client = new ApiGatewayManagementApiClient({ endpoint: CHATKIT_CONNECTIONS_ENDPOINT });
  const note = { type: "note", text: "관리 API에서 안녕" };
  await client.send(
    new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(note) }),
  );
  assert.deepEqual(JSON.parse(await next()), note);

  const info = await client.send(new GetConnectionCommand({ ConnectionId: connectionId }));
  assert.equal(info.Identity.SourceIp, "127.0.0.1");
  assert.ok(info.ConnectedAt instanceof Date && info.LastActiveAt >= info.ConnectedAt);

  const closed = once(ws, "close");
  await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  assert.equal((await closed)[0], 1000);
  await assert.rejects(
    client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: "{}" })),
    GoneException,
  );
  client.destroy();
});
