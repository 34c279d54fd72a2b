/**
 * What the bridge keeps for a panel opened later: a tool call kept once (its
 * latest state at its first place), and the bounds by count and by size.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Replay } from "../src/replay.js";
import type { ToPanel } from "../src/webview/protocol.js";

const text = (delta: string): ToPanel => ({ type: "event", event: { sessionId: "s", kind: "text", role: "alpha", delta } });
const tool = (status: string, diff = ""): ToPanel => ({
  type: "event",
  event: {
    sessionId: "s",
    kind: "tool",
    role: "alpha",
    created: status === "pending",
    toolCall: { id: "alpha/c1", title: "edit", status, text: [], diffs: diff ? [{ path: "/a", oldText: null, newText: diff }] : [], terminals: [], locations: [] },
  },
});

test("a tool call's updates are kept as one entry: its latest state, where it first came", () => {
  const replay = new Replay(1000, 1 << 20);
  replay.push(text("before "));
  replay.push(tool("pending"));
  replay.push(text("during "));
  replay.push(tool("in_progress", "x".repeat(1000)));
  replay.push(tool("completed", "x".repeat(1000)));
  const kept = replay.messages();
  assert.equal(kept.length, 3);
  assert.deepEqual(kept[0], text("before "));
  assert.ok(kept[1]!.type === "event" && kept[1]!.event.kind === "tool" && kept[1]!.event.toolCall.status === "completed");
  assert.deepEqual(kept[2], text("during "));
  assert.ok(replay.size() < 1500, `${replay.size()} bytes: the diff is counted once`);
});

test("what is kept is a copy: later changes to the model's objects do not reach it", () => {
  const replay = new Replay(1000, 1 << 20);
  const message = tool("pending");
  replay.push(message);
  if (message.type === "event" && message.event.kind === "tool") message.event.toolCall.status = "completed";
  const kept = replay.messages()[0]!;
  assert.ok(kept.type === "event" && kept.event.kind === "tool" && kept.event.toolCall.status === "pending");
});

test("past its count or its size the oldest are dropped and counted; the newest always stays", () => {
  const byCount = new Replay(100, 1 << 30);
  for (let i = 0; i < 1000; i++) byCount.push(text(`#${i} `));
  assert.ok(byCount.messages().length <= 100);
  assert.equal(byCount.trimmed + byCount.messages().length, 1000);
  assert.deepEqual(byCount.messages().at(-1), text("#999 "));

  const bySize = new Replay(1_000_000, 100_000);
  for (let i = 0; i < 100; i++) bySize.push(text("y".repeat(10_000)));
  assert.ok(bySize.size() <= 100_000, `${bySize.size()}`);
  assert.ok(bySize.messages().length >= 4, "only as many as needed were dropped");
  const huge = new Replay(1000, 100_000);
  huge.push(text("z".repeat(1_000_000)));
  assert.equal(huge.messages().length, 1, "one message bigger than the bound is still shown");
});
