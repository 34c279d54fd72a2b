/**
 * The bridge between the panel and the team (what the VS Code host glue calls),
 * against the real proxy and its fake agents: what panels are posted, a late
 * panel's replay, permissions answered from a panel or a notification, a gate's
 * reject with feedback, and what the page asks for.
 */

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { TeamBridge, selectionPrompt } from "../src/bridge.js";
import type { PermissionRequest } from "../src/client.js";
import type { PermissionPrompt, ToPanel } from "../src/webview/protocol.js";
import { collapsedTools, ourocodusBin, recorder, startBridge, teamToml, textOf, waitFor, within } from "./support.js";

const T = { timeout: 30_000 };

const events = (messages: ToPanel[], kind: string) =>
  messages.flatMap((m) => (m.type === "event" && m.event.kind === kind ? [m.event] : []));
const requestIn = (messages: ToPanel[]): PermissionPrompt | undefined =>
  messages.flatMap((m) => (m.type === "permission-request" ? [m.request] : []))[0];

test("two roles stream into an attached panel, and a panel attached later is sent the same session", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha", "beta"], { layout: "split" });
  const first = recorder();
  bridge.attach(first.post);
  assert.deepEqual(first.messages[0], { type: "config", layout: "split" });
  assert.deepEqual(bridge.roles(), ["alpha", "beta"]);
  // A tool call too: its events carry objects the model goes on changing (pending, then completed).
  await bridge.receive({ type: "prompt", text: "@alpha @beta alpha> tool call read as Read a.rs; alpha> stream 30 chunks of 10 bytes; beta> stream 30 chunks of 10 bytes" });
  const text = (role: string) =>
    events(first.messages, "text")
      .filter((e) => "role" in e && e.role === role)
      .map((e) => ("delta" in e ? e.delta : ""))
      .join("");
  for (const role of ["alpha", "beta"]) {
    const numbers = [...text(role).matchAll(/#(\d+) /g)].map((m) => Number(m[1]));
    assert.deepEqual(numbers, Array.from({ length: 30 }, (_, i) => i + 1), `${role}'s chunks, all and in order`);
  }
  assert.ok(events(first.messages, "turn-end").length === 1);
  const late = recorder();
  bridge.attach(late.post);
  assert.deepEqual(late.messages, collapsedTools(first.messages), "a reopened panel is rebuilt from everything sent so far");
});

test("a permission answered in the panel reaches the agent, once; every panel sees it settled", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha"]);
  const a = recorder();
  const b = recorder();
  bridge.attach(a.post);
  bridge.attach(b.post);
  const turn = bridge.ask("@alpha tool call then ask permission execute as Bash rm -rf build");
  await waitFor(bridge.client, "the request in the panel", () => requestIn(a.messages));
  const request = requestIn(a.messages)!;
  assert.deepEqual(requestIn(b.messages), request);
  assert.equal(request.role, "alpha");
  assert.equal(request.toolCall.id, "alpha/call_1");
  assert.deepEqual(bridge.pendingRequests(), [request]);
  // A panel opened now shows the waiting request too.
  const late = recorder();
  bridge.attach(late.post);
  assert.deepEqual(requestIn(late.messages), request);
  await bridge.receive({ type: "permission", requestId: request.requestId, optionId: "reject-once" });
  await bridge.receive({ type: "permission", requestId: request.requestId, optionId: "allow-once" }); // too late: ignored
  assert.equal((await turn)?.stopReason, "end_turn");
  const session = bridge.client.model.sessions.get(bridge.sessionId)!;
  assert.match(textOf(session, "alpha"), /permission: reject-once/);
  assert.doesNotMatch(textOf(session, "alpha"), /allow-once/);
  for (const panel of [a, b]) {
    const settled = panel.messages.filter((m) => m.type === "permission-settled");
    assert.deepEqual(settled, [{ type: "permission-settled", requestId: request.requestId, outcome: "reject-once" }]);
  }
  assert.deepEqual(bridge.pendingRequests(), []);
});

test("an answer naming an option the request does not have is ignored", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha"]);
  const panel = recorder();
  bridge.attach(panel.post);
  const turn = bridge.ask("@alpha tool call then ask permission execute as Bash ls");
  await waitFor(bridge.client, "the request", () => requestIn(panel.messages));
  const { requestId } = requestIn(panel.messages)!;
  await bridge.receive({ type: "permission", requestId, optionId: "approve-everything" });
  assert.equal(bridge.pendingRequests().length, 1, "still waiting");
  await bridge.receive({ type: "permission", requestId, optionId: "allow-once" });
  await turn;
  assert.match(textOf(bridge.client.model.sessions.get(bridge.sessionId)!, "alpha"), /permission: allow-once/);
});

test("while no panel answers, the host's notification does, and the panel is told", T, async (t) => {
  const asked: PermissionRequest[] = [];
  const { bridge } = await startBridge(t, ["alpha"], {
    notify: async (request) => {
      asked.push(request);
      return { optionId: "allow-once" };
    },
  });
  const panel = recorder();
  bridge.attach(panel.post);
  await bridge.ask("@alpha tool call then ask permission execute as Bash ls");
  assert.equal(asked.length, 1);
  assert.equal(asked[0]!.toolCall.id, "alpha/call_1");
  const { requestId } = requestIn(panel.messages)!;
  assert.ok(panel.messages.some((m) => m.type === "permission-settled" && m.requestId === requestId && m.outcome === "allow-once"));
  assert.match(textOf(bridge.client.model.sessions.get(bridge.sessionId)!, "alpha"), /permission: allow-once/);
});

test("cancel from the page answers a waiting request cancelled and ends the turn", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha"]);
  const panel = recorder();
  bridge.attach(panel.post);
  const turn = bridge.ask("@alpha alpha> ask permission execute as Bash ls; alpha> sleep 20s");
  await waitFor(bridge.client, "the request", () => requestIn(panel.messages));
  await bridge.receive({ type: "cancel" });
  assert.equal((await turn)?.stopReason, "cancelled");
  assert.ok(panel.messages.some((m) => m.type === "permission-settled" && m.outcome === "cancelled"));
  assert.deepEqual(bridge.pendingRequests(), []);
});

test("a gate rejected in the panel sends its feedback to the role", T, async (t) => {
  const { bridge } = await startBridge(t, ["architect", "beta"]);
  const panel = recorder();
  bridge.attach(panel.post);
  const done = 'mcp complete_task {\\"id\\": \\"t1\\", \\"summary\\": \\"ok\\"}';
  await bridge.ask(`@architect mcp delegate {"role": "beta", "title": "paging", "requires_approval": true, "description": "${done}"}`);
  const gate = await waitFor(bridge.client, "the gate in the panel", () => requestIn(panel.messages), 15_000);
  assert.deepEqual(gate.gate, { task: "t1" });
  assert.equal(gate.role, "beta");
  await bridge.receive({ type: "permission", requestId: gate.requestId, optionId: "reject", feedback: "say needs a cursor" });
  const session = bridge.client.model.sessions.get(bridge.sessionId)!;
  await waitFor(bridge.client, "beta hears why", () => textOf(session, "beta").includes("needs a cursor"));
  const t1 = (await bridge.client.tasks(bridge.sessionId)).tasks.find((task) => task.id === "t1");
  assert.ok(t1?.notes?.some((note) => note.includes("say needs a cursor")), JSON.stringify(t1?.notes));
});

test("restart from the page restarts the role; a failed prompt and a failed restart are notices in the panel", T, async (t) => {
  const layouts: string[] = [];
  const { bridge } = await startBridge(t, ["alpha", "beta"], { onLayout: (layout) => layouts.push(layout) });
  const panel = recorder();
  bridge.attach(panel.post);
  const before = bridge.client.agents.get("beta")?.restarts ?? 0;
  await within("restart beta", bridge.receive({ type: "restart", role: "beta" }));
  await waitFor(bridge.client, "beta back", () => {
    const beta = bridge.client.agents.get("beta");
    return beta?.status === "idle" && (beta.restarts ?? 0) > before;
  });
  // The panel saw beta go down and come back, with its restart counted.
  const seen = panel.messages.flatMap((m) => (m.type === "agent-status" && m.summary.role === "beta" ? [m.summary] : []));
  const statuses = seen.map((s) => s.status);
  assert.deepEqual(statuses.slice(statuses.lastIndexOf("starting")), ["starting", "idle"], JSON.stringify(statuses));
  assert.ok((seen.at(-1)?.restarts ?? 0) > before);
  await within("restart nobody", bridge.receive({ type: "restart", role: "nobody" }));
  await within("@beta crash", bridge.receive({ type: "prompt", text: "@beta crash" }));
  const notices = events(panel.messages, "notice").map((e) => ("notice" in e ? e.notice : undefined));
  assert.ok(notices.some((n) => n?.severity === "error" && n.title === "restart failed"), JSON.stringify(notices));
  assert.ok(notices.some((n) => n?.severity === "error" && n.title === "The prompt failed"), JSON.stringify(notices));
  await within("layout", bridge.receive({ type: "layout", layout: "split" }));
  assert.deepEqual(layouts, ["split"]);
  const again = recorder();
  bridge.attach(again.post);
  assert.deepEqual(again.messages[0], { type: "config", layout: "split" });
});

test("malformed messages from the page are dropped", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha"]);
  const panel = recorder();
  bridge.attach(panel.post);
  const count = panel.messages.length;
  for (const junk of [null, 7, "prompt", [], {}, { type: "prompt" }, { type: "prompt", text: 5 }, { type: "prompt", text: "   " },
    { type: "restart" }, { type: "restart", role: "" }, { type: "layout", layout: "grid" }, { type: "permission", requestId: "r1" },
    { type: "permission", requestId: "r1", optionId: "x", feedback: 3 }, { type: "prompt", text: "x".repeat((1 << 20) + 1) }, { type: "eval", code: "1" }]) {
    await bridge.receive(junk);
  }
  assert.equal(panel.messages.length, count, "nothing was sent, asked or shown");
  assert.equal(bridge.client.model.sessions.get(bridge.sessionId)!.roles.get("alpha")?.entries.length ?? 0, 0);
});

test("a late panel is sent at most the backlog's size, told how much is not shown, and the roles' statuses", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha"], { backlog: 100 });
  await bridge.ask("@alpha stream 400 chunks of 4 bytes");
  const panel = recorder();
  bridge.attach(panel.post);
  assert.ok(panel.messages.length <= 100 + 3, `${panel.messages.length} messages`);
  const notice = panel.messages[1];
  assert.ok(notice?.type === "event" && notice.event.kind === "notice" && /earlier updates are not shown/.test(notice.event.notice.title));
  assert.ok(panel.messages.some((m) => m.type === "agent-status" && m.summary.role === "alpha"));
  const last = events(panel.messages, "text").at(-1);
  assert.ok(last && "delta" in last && last.delta.includes("#400 "), "the latest chunks are the ones kept");
});

test("a question about a selection carries the file and lines as an embedded resource", () => {
  const blocks = selectionPrompt("@alpha why?", { path: "/w/src/a b.rs", first: 3, last: 4, text: "fn a() {}\nfn b() {}", languageId: "rust" }, "src/a b.rs");
  assert.deepEqual(blocks, [
    { type: "text", text: "@alpha why?\n\n(selection: src/a b.rs, lines 3-4)" },
    { type: "resource", resource: { uri: "file:///w/src/a%20b.rs#L3-L4", mimeType: "text/x-rust", text: "fn a() {}\nfn b() {}\n" } },
  ]);
  assert.deepEqual(selectionPrompt("hi"), [{ type: "text", text: "hi" }]);
});

test("after each turn the panel is sent each role's usage", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha", "beta"]);
  const panel = recorder();
  bridge.attach(panel.post);
  await bridge.ask('@alpha say hi; usage {"totalTokens":30,"inputTokens":20,"outputTokens":10}');
  const usage = panel.messages.filter((m) => m.type === "usage").at(-1);
  assert.ok(usage?.type === "usage");
  assert.equal(usage.usage.roles.find((r) => r.role === "alpha")?.tokens?.totalTokens, 30);
  assert.equal(usage.usage.total.tokens?.totalTokens, 30);
});

test("an earlier session is listed and reopened: panels start again from its history, and prompts go to it", T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "ourocodus-bridge-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, "team.toml");
  await writeFile(config, teamToml(["alpha", "beta"]));
  const options = { command: ourocodusBin(), args: ["--config", config, "--store", join(dir, "store.db")], cwd: dir };
  const first = await TeamBridge.start(options);
  const earlier = first.sessionId;
  await first.ask("@alpha @beta alpha> say from alpha; beta> say from beta");
  await first.close();

  const second = await TeamBridge.start(options);
  t.after(() => second.close());
  const listed = await second.sessions();
  assert.ok(listed.some((s) => s.sessionId === earlier), JSON.stringify(listed));
  const panel = recorder();
  second.attach(panel.post);
  await second.ask("@beta say in the new session");
  const before = panel.messages.length;
  await second.load(earlier, "yesterday");
  const after = panel.messages.slice(before);
  assert.deepEqual(after[0], { type: "reset", title: "yesterday" });
  const text = (role: string) => after.map((m) => (m.type === "event" && m.event.kind === "text" && m.event.role === role ? m.event.delta : "")).join("");
  assert.equal(text("alpha"), "from alpha");
  assert.equal(text("beta"), "from beta");
  assert.ok(after.every((m) => m.type !== "event" || m.event.sessionId === earlier), "nothing of the other session");
  // A panel opened now gets the reopened session only.
  const late = recorder();
  second.attach(late.post);
  assert.deepEqual(late.messages.slice(1), after);
  await second.ask("@beta say again");
  const beta = second.client.model.sessions.get(earlier)!;
  assert.ok(textOf(beta, "beta").endsWith("again"));
});

test("an earlier session that cannot be opened leaves the panel on the session it showed", T, async (t) => {
  const { bridge } = await startBridge(t, ["alpha"]);
  await bridge.ask("@alpha say still here");
  const panel = recorder();
  bridge.attach(panel.post);
  const shown = panel.messages.slice(1);
  const session = bridge.sessionId;
  await bridge.load("ouro-00000000000000000000000000000000");
  assert.equal(bridge.sessionId, session);
  const after = panel.messages.slice(1 + shown.length);
  const lastReset = after.map((m) => m.type).lastIndexOf("reset");
  assert.ok(lastReset > 0, "emptied for the other session, then again to go back");
  const back = after.slice(lastReset + 1);
  assert.deepEqual(back.slice(0, shown.length), shown, "the session it showed, as it was");
  assert.ok(back.some((m) => m.type === "event" && m.event.kind === "notice" && m.event.notice.title === "The session could not be opened"));
  await bridge.ask("@alpha say and goes on");
  assert.match(textOf(bridge.client.model.sessions.get(session)!, "alpha"), /and goes on/);
});
