/**
 * The model on its own (no proxy): shapes the proxy may send that the live tests
 * do not produce, and input that must not break it.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { sliceLines } from "../src/fs.js";
import { TeamModel, parseSubagentId, type ModelEvent } from "../src/model.js";

const ours = (fields: Record<string, unknown>) => ({ _meta: { ourocodus: fields } });

test("subagent session ids split into session, role and turn", () => {
  assert.deepEqual(parseSubagentId("ouro-1:backend:3"), { parent: "ouro-1", role: "backend", turn: 3 });
  assert.deepEqual(parseSubagentId("a:b:c:7"), { parent: "a:b", role: "c", turn: 7 });
  assert.equal(parseSubagentId("ouro-1"), undefined);
  assert.equal(parseSubagentId("ouro-1:backend:x"), undefined);
  assert.equal(parseSubagentId(":backend:1"), undefined);
});

test("a subagent session announced in the newer draft's shape (sessionId, title, state object) is followed too", () => {
  const model = new TeamModel();
  model.session("s");
  model.apply({ sessionId: "s", update: { sessionUpdate: "subagent_update", sessionId: "child-9", title: "backend" } });
  model.apply({ sessionId: "child-9", update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "hi" } } });
  const backend = model.sessions.get("s")!.roles.get("backend")!;
  assert.deepEqual(backend.entries, [{ kind: "text", text: "hi" }]);
  assert.equal(backend.subagents.get("child-9")?.name, "backend");
  assert.equal(model.sessions.size, 1, "the child is not a session of its own");
});

test("a plain editor's fallbacks: speaker labels are dropped, notice text becomes a notice", () => {
  const model = new TeamModel();
  const chunk = (text: string, meta: Record<string, unknown>) => ({
    sessionId: "s",
    update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text }, ...ours(meta) },
  });
  model.apply(chunk("**[beta]** ", { role: "beta", label: true }));
  model.apply(chunk("words", { role: "beta" }));
  model.apply(chunk("> ✖ **beta stopped**\n\n", { role: "beta", notice: { severity: "error", title: "beta stopped" } }));
  assert.deepEqual(model.sessions.get("s")!.roles.get("beta")!.entries, [
    { kind: "text", text: "words" },
    { kind: "notice", notice: { severity: "error", title: "beta stopped" } },
  ]);
});

test("malformed updates are ignored and a failing listener stops nothing", () => {
  const model = new TeamModel();
  const events: ModelEvent[] = [];
  model.subscribe(() => {
    throw new Error("a broken view");
  });
  model.subscribe((e) => events.push(e));
  for (const params of [null, 3, "x", {}, { sessionId: 1, update: {} }, { sessionId: "s", update: [] }]) model.apply(params);
  model.apply({ sessionId: "s", update: { sessionUpdate: "tool_call" } });
  model.apply({ sessionId: "s", update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: 5 } } });
  model.apply({ sessionId: "s", update: { sessionUpdate: "plan", entries: "nope", ...ours({ role: "a" }) } });
  model.apply({ sessionId: "s", update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "ok" }, ...ours({ role: "a" }) } });
  const session = model.sessions.get("s")!;
  assert.deepEqual(session.roles.get("a")!.entries, [{ kind: "text", text: "ok" }]);
  assert.deepEqual(session.roles.get("a")!.plan, []);
  assert.deepEqual([...session.ignored.keys()], ["tool_call (no id)", "agent_message_chunk (non-text)"]);
  assert.ok(events.some((e) => e.kind === "text"));
});

test("the task graph's plan is the session's, apart from the roles' own plans", () => {
  const model = new TeamModel();
  model.apply({
    sessionId: "s",
    update: {
      sessionUpdate: "plan",
      entries: [{ content: "beta: x", priority: "high", status: "in_progress", ...ours({ task: "t1", role: "beta", status: "review" }) }],
      ...ours({ role: "ourocodus", tasks: true }),
    },
  });
  const session = model.sessions.get("s")!;
  assert.deepEqual(session.tasks, [{ content: "beta: x", priority: "high", status: "in_progress", task: "t1", role: "beta", taskStatus: "review" }]);
  assert.equal(session.roles.get("ourocodus"), undefined);
});

test("fs reads honour ACP's line (1-based) and limit", () => {
  const text = "one\ntwo\nthree\nfour";
  assert.equal(sliceLines(text), text);
  assert.equal(sliceLines(text, 2), "two\nthree\nfour");
  assert.equal(sliceLines(text, 2, 2), "two\nthree");
  assert.equal(sliceLines(text, null, 1), "one");
  assert.equal(sliceLines(text, 9, 2), "");
});
