/**
 * The client module against the real proxy and its fake agents.
 */

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { OurocodusClient, optionOfKind, type PermissionRequest } from "../src/client.js";
import type { FileAccess } from "../src/fs.js";
import type { AgentSummary } from "../src/types.js";
import { diffUpdate, ourocodusBin, roleOf, startTeam, teamToml, textOf, waitFor } from "./support.js";

const T = { timeout: 30_000 };

/** The `#N ` markers of `stream N chunks`, in the order they appear. */
function markers(text: string): number[] {
  return [...text.matchAll(/#(\d+) /g)].map((m) => Number(m[1]));
}

test("two roles stream at once: each role's words, thoughts, tools and plan land in its own model, in order", T, async (t) => {
  const { client, sessionId } = await startTeam(t, ["alpha", "beta"]);
  const diff = diffUpdate("old", "new");
  const script = [
    "alpha> think weighing it",
    "alpha> stream 40 chunks of 30 bytes",
    "beta> stream 40 chunks of 30 bytes",
    "alpha> tool call read as Read src/main.rs",
    `alpha> update ${diff}`,
    'beta> update {"sessionUpdate":"future_variant","x":1}',
    "beta> plan one | two",
    "alpha> say <img src=x onerror=alert(1)> end of alpha",
    "beta> say end of beta",
  ].join("; ");
  const answer = await client.prompt(sessionId, `@alpha @beta ${script}`);
  assert.equal(answer.stopReason, "end_turn");

  const session = client.model.sessions.get(sessionId)!;
  const alpha = roleOf(session, "alpha");
  const beta = roleOf(session, "beta");
  const range = Array.from({ length: 40 }, (_, i) => i + 1);
  assert.deepEqual(markers(textOf(session, "alpha")), range, "alpha's chunks, all and in order");
  assert.deepEqual(markers(textOf(session, "beta")), range, "beta's chunks, all and in order");
  // Agent text is data: kept verbatim, never interpreted.
  assert.ok(textOf(session, "alpha").endsWith("<img src=x onerror=alert(1)> end of alpha"));
  assert.ok(textOf(session, "beta").endsWith("end of beta"));
  assert.ok(!textOf(session, "alpha").includes("beta"), "nothing of beta's in alpha's pane");

  assert.deepEqual(alpha.entries[0], { kind: "thought", text: "weighing it" });
  const read = alpha.toolCalls.get("alpha/call_1");
  assert.ok(read, "alpha's tool call, namespaced by the proxy");
  assert.equal(read.kind, "read");
  assert.equal(read.status, "completed");
  const edit = alpha.toolCalls.get("alpha/d1");
  assert.deepEqual(edit?.diffs, [{ path: "/p/a.rs", oldText: "old", newText: "new" }]);
  assert.deepEqual(beta.plan?.map((e) => e.content), ["one", "two"]);
  assert.equal(alpha.plan, undefined);
  assert.equal(session.ignored.get("future_variant"), 1, "an unknown variant is counted, not fatal");

  // Each role's part of the turn was its own subagent session, and ended.
  for (const role of [alpha, beta]) {
    const [id, sub] = [...role.subagents.entries()][0]!;
    assert.match(id, new RegExp(`^${sessionId}:${role.role}:\\d+$`));
    assert.equal(sub.state, "completed");
    assert.deepEqual(role.entries.at(-1), { kind: "turn-end", state: "completed", subagentSessionId: id });
  }
  assert.deepEqual(session.turns.map((x) => x.stopReason), ["end_turn"]);
  assert.deepEqual(client.roles, ["alpha", "beta"]);
  assert.deepEqual(client.route, ["alpha"]);
});

test("a permission request reaches the callback, and its choice reaches the agent", T, async (t) => {
  const asked: PermissionRequest[] = [];
  let cardShown = false;
  const { client, sessionId } = await startTeam(t, ["alpha", "beta"], {
    onPermission: (request) => {
      asked.push(request);
      // The tool call is in the model before the request reaches the callback (a panel shows the buttons in its card).
      cardShown = client.model.sessions.get(request.sessionId)?.roles.get("alpha")?.toolCalls.has(request.toolCall.id) ?? false;
      const option = optionOfKind(request.options, "reject_once");
      return option ? { optionId: option.optionId } : { cancelled: true };
    },
  });
  await client.prompt(sessionId, "@alpha tool call then ask permission execute as Bash rm -rf build");
  const session = client.model.sessions.get(sessionId)!;
  assert.equal(asked.length, 1);
  assert.ok(cardShown, "the tool call was in the model when the callback ran");
  const [request] = asked;
  assert.equal(request!.role, "alpha");
  assert.equal(request!.sessionId, sessionId);
  assert.equal(request!.toolCall.id, "alpha/call_1");
  assert.equal(request!.toolCall.kind, "execute");
  assert.deepEqual(request!.options.map((o) => o.kind), ["allow_once", "allow_always", "reject_once", "reject_always"]);
  assert.equal(request!.gate, undefined);
  assert.match(textOf(session, "alpha"), /permission: reject-once/, "the agent got the callback's choice");
  const alpha = roleOf(session, "alpha");
  assert.ok(alpha.entries.some((e) => e.kind === "permission" && e.permission.outcome === "reject-once"));
  assert.equal(alpha.toolCalls.get("alpha/call_1")?.status, "failed", "a refused call fails");
});

test("cancel ends the turn with stopReason cancelled and answers a pending permission request", T, async (t) => {
  let seen = 0;
  const { client, sessionId } = await startTeam(t, ["alpha", "beta"], {
    onPermission: () => {
      seen++;
      return new Promise(() => {}); // the user never answers
    },
  });
  const session = client.model.sessions.get(sessionId)!;
  const turn = client.prompt(sessionId, "@alpha @beta alpha> say started; alpha> ask permission execute as Bash ls; beta> sleep 20s");
  await waitFor(client, "the permission request", () => seen === 1 && textOf(session, "alpha").includes("started"));
  const cancelledAt = performance.now();
  await client.cancel(sessionId);
  const answer = await turn;
  assert.equal(answer.stopReason, "cancelled");
  assert.ok(performance.now() - cancelledAt < 5000, "a cancelled turn answers promptly");
  assert.ok(
    roleOf(session, "alpha").entries.some((e) => e.kind === "permission" && e.permission.outcome === "cancelled"),
    "the pending permission was answered cancelled",
  );
  // The session goes on.
  const next = await client.prompt(sessionId, "@beta say after");
  assert.equal(next.stopReason, "end_turn");
  assert.ok(textOf(session, "beta").endsWith("after"));
});

test("the session's mode picks who answers prompts without a mention", T, async (t) => {
  const { client, sessionId } = await startTeam(t, ["alpha", "beta"]);
  const session = client.model.sessions.get(sessionId)!;
  await client.setMode(sessionId, "beta");
  await client.prompt(sessionId, "say routed");
  assert.ok(textOf(session, "beta").endsWith("routed"));
  assert.equal(textOf(session, "alpha"), "");
});

test("a role that crashes: the other's answer still arrives, and a notice and its status say it stopped", T, async (t) => {
  const { client, sessionId } = await startTeam(t, ["alpha", "beta"]);
  const statuses: AgentSummary[] = [];
  client.onAgentStatus((s) => statuses.push(s));
  const answer = await client.prompt(sessionId, "@alpha @beta alpha> crash; beta> sleep 300ms; beta> say beta still answers");
  assert.equal(answer.stopReason, "end_turn");
  const session = client.model.sessions.get(sessionId)!;
  assert.ok(textOf(session, "beta").endsWith("beta still answers"));
  const notices = roleOf(session, "alpha").entries.flatMap((e) => (e.kind === "notice" ? [e.notice] : []));
  assert.ok(
    notices.some((n) => n.severity === "error" && n.title.includes("alpha stopped")),
    `a notice says alpha stopped: ${JSON.stringify(notices)}`,
  );
  assert.ok(
    [...roleOf(session, "alpha").subagents.values()].some((s) => s.state === "failed"),
    "alpha's part of the turn failed",
  );
  await waitFor(client, "alpha's status to leave working", () =>
    statuses.some((s) => s.role === "alpha" && ["restarting", "stopped", "failed"].includes(String(s.status))),
  );
  // The proxy restarts it; a later prompt reaches it again.
  await waitFor(client, "alpha idle again", () => client.agents.get("alpha")?.status === "idle");
  await client.prompt(sessionId, "@alpha say back");
  assert.ok(textOf(session, "alpha").endsWith("back"));
});

test("a prompt whose every role failed is an error, with each role's, recorded as the turn's end", T, async (t) => {
  const { client, sessionId } = await startTeam(t, ["alpha"]);
  await assert.rejects(client.prompt(sessionId, "crash"), (e: { code?: number }) => e.code === -32603);
  const [turn] = client.model.sessions.get(sessionId)!.turns;
  assert.equal(turn?.stopReason, "error");
  assert.match(turn?.error?.roles?.alpha?.message ?? "", /alpha stopped/);
});

test("_ourocodus/agents, kill, restart and usage", T, async (t) => {
  const { client, sessionId } = await startTeam(t, ["alpha", "beta"]);
  await client.prompt(sessionId, '@alpha say hi; usage {"totalTokens":30,"inputTokens":20,"outputTokens":10}');
  const agents = await client.listAgents();
  assert.deepEqual(agents.map((a) => a.role), ["alpha", "beta"]);
  const alpha = agents.find((a) => a.role === "alpha")!;
  assert.equal(alpha.status, "idle");
  assert.equal(typeof alpha.pid, "number");
  assert.equal(typeof alpha.sandbox, "string");

  const killed = await client.kill("beta");
  assert.equal(killed.role, "beta");
  await waitFor(client, "beta stopped", () => client.agents.get("beta")?.status === "stopped");
  await client.restart("beta");
  await waitFor(client, "beta idle after restart", () => client.agents.get("beta")?.status === "idle");

  await assert.rejects(client.restart("nobody"), (e: { code?: number }) => e.code === -32602);
  await assert.rejects(client.tasks("no-such-session"), (e: { code?: number }) => e.code === -32002);

  const spawned = await client.spawn("gamma", {
    persona: "a third role",
    command: ourocodusBin(),
    args: ["fake-agent", "--name", "gamma"],
  });
  assert.equal(spawned.role, "gamma");
  await client.prompt(sessionId, "@gamma say new here");
  assert.ok(textOf(client.model.sessions.get(sessionId)!, "gamma").endsWith("new here"));

  const usage = await client.usage(sessionId);
  const alphaUsage = usage.roles.find((r) => r.role === "alpha");
  assert.equal(alphaUsage?.tokens?.totalTokens, 30);
  assert.equal(usage.total.tokens?.totalTokens, 30);
});

test("an architect delegates: the task graph is the session's plan, and _ourocodus/tasks agrees", T, async (t) => {
  const { client, sessionId } = await startTeam(t, ["architect", "beta"]);
  const work = 'mcp complete_task {"id": "t1", "summary": "x done"}';
  const delegate = JSON.stringify({ role: "beta", title: "x", description: work });
  await client.prompt(sessionId, `@architect mcp delegate ${delegate}`);
  const session = client.model.sessions.get(sessionId)!;
  const done = await waitFor(client, "t1 done in the plan", () => session.tasks?.find((e) => e.task === "t1" && e.status === "completed"));
  assert.equal(done.role, "beta");
  assert.equal(done.content, "beta: x");
  assert.equal(done.taskStatus, "done");
  assert.match(textOf(session, "architect"), /mcp delegate: /);
  await waitFor(client, "beta's task turn", () => textOf(session, "beta").includes("mcp complete_task: "));
  assert.ok(
    roleOf(session, "beta").entries.some((e) => e.kind === "notice" && e.notice.title === "Task t1 (beta): in_flight → done"),
    "every move is a notice, in the task's role",
  );
  const prompt = roleOf(session, "beta").entries.find((e) => e.kind === "user");
  assert.ok(prompt?.kind === "user" && prompt.from?.task === "t1", "the task's prompt shows in beta's pane, marked as the proxy's");
  const { tasks, plan } = await client.tasks(sessionId);
  assert.equal(tasks[0]?.id, "t1");
  assert.equal(tasks[0]?.role, "beta");
  assert.equal(tasks[0]?.created_by, "architect");
  assert.equal(tasks[0]?.summary, "x done");
  assert.equal(plan.length, 1);
});

test("an approval gate asks through the permission callback; _ourocodus/approve and reject answer others", T, async (t) => {
  const gates: PermissionRequest[] = [];
  const { client, sessionId } = await startTeam(t, ["architect", "beta"], {
    onPermission: (request) => {
      gates.push(request);
      if (request.gate?.task === "t1") return { optionId: "approve" };
      if (request.gate?.task === "t4") return { optionId: "reject", feedback: "say needs paging" };
      return new Promise(() => {}); // t2 and t3 wait for the methods below
    },
  });
  const finish = (id: string) => `mcp complete_task {\\"id\\": \\"${id}\\", \\"summary\\": \\"ok\\"}`;
  const plan = ["t1", "t2", "t3", "t4"]
    .map((id) => `mcp delegate {"role": "beta", "title": "${id}", "requires_approval": true, "description": "${finish(id)}"}`)
    .join("; ");
  await client.prompt(sessionId, `@architect ${plan}`);
  const session = client.model.sessions.get(sessionId)!;
  const status = (id: string) => session.tasks?.find((e) => e.task === id)?.taskStatus;
  await waitFor(client, "t1 approved through the callback", () => status("t1") === "done");
  assert.equal(gates[0]?.role, "beta", "a gate is tagged with the task's role");
  assert.deepEqual(gates[0]?.gate, { task: "t1" });
  assert.deepEqual(gates[0]?.options.map((o) => o.optionId), ["approve", "reject"]);

  await waitFor(client, "t2 in review", () => status("t2") === "review");
  const approved = await client.approve(sessionId, "t2");
  assert.equal(approved.task.status, "done");
  await waitFor(client, "t3 in review", () => status("t3") === "review");
  // The feedback is the fake agent's next script: it finishes t3 again (one task at a
  // time: a rejected task its role has not finished keeps the role from the next).
  const rejected = await client.reject(sessionId, "t3", 'mcp complete_task {"id": "t3", "summary": "again"}');
  assert.equal(rejected.task.status, "in_flight");
  // A rejection through the permission answer carries its reason as `_meta.ourocodus.feedback`.
  await waitFor(client, "t4 rejected through the callback", () => textOf(session, "beta").includes("needs paging"));
  const t4 = (await client.tasks(sessionId)).tasks.find((task) => task.id === "t4");
  assert.ok(t4?.notes?.some((note) => note.includes("say needs paging")), JSON.stringify(t4?.notes));
});

test("fs requests go to the replaceable FileAccess, the local disk by default", T, async (t) => {
  const files = new Map<string, string>();
  const memory: FileAccess = {
    read: async (path) => {
      const text = files.get(path);
      if (text === undefined) throw new Error(`no such file: ${path}`);
      return text;
    },
    write: async (path, content) => void files.set(path, content),
  };
  const inMemory = await startTeam(t, ["alpha"], { files: memory });
  await inMemory.client.prompt(inMemory.sessionId, "write file notes.txt one\\ntwo; read file notes.txt");
  assert.equal(files.get(join(inMemory.dir, "notes.txt")), "one\ntwo");
  assert.match(textOf(inMemory.client.model.sessions.get(inMemory.sessionId)!, "alpha"), /one\ntwo/);

  const local = await startTeam(t, ["alpha"]);
  await local.client.prompt(local.sessionId, "write file sub/notes.txt on disk; read file sub/notes.txt");
  assert.equal(await readFile(join(local.dir, "sub/notes.txt"), "utf8"), "on disk");

  // Without the capability the editor is not asked (the proxy serves the agents itself).
  const none = await startTeam(t, ["alpha"], { files: false });
  assert.equal(none.client.clientCapabilities.fs, undefined);
  await none.client.prompt(none.sessionId, "write file x.txt no");
  assert.equal(await readFile(join(none.dir, "x.txt"), "utf8"), "no");
});

test("a proxy that cannot start is an error that says why", T, async () => {
  await assert.rejects(OurocodusClient.start({ command: "/nonexistent/ourocodus" }), /cannot start \/nonexistent\/ourocodus/);
  await assert.rejects(
    OurocodusClient.start({ command: ourocodusBin(), args: ["--config", "/nonexistent/team.toml", "--no-store"] }),
    (e: Error) => e.message.includes("/nonexistent/team.toml"),
  );
});

test("a saved session is listed and loaded: its replay fills each role's pane", T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "ourocodus-vscode-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, "team.toml");
  await writeFile(config, teamToml(["alpha", "beta"]));
  const options = { command: ourocodusBin(), args: ["--config", config, "--store", join(dir, "store.db")], cwd: dir };
  const first = await OurocodusClient.start(options);
  const { sessionId } = await first.newSession(dir);
  await first.prompt(sessionId, "@alpha @beta alpha> say from alpha; beta> say from beta");
  await first.close();

  const second = await OurocodusClient.start(options);
  t.after(() => second.close());
  const { sessions } = await second.listSessions(dir);
  assert.deepEqual(sessions.map((s) => s.sessionId), [sessionId]);
  await second.loadSession(sessionId, dir);
  const session = second.model.sessions.get(sessionId)!;
  assert.equal(textOf(session, "alpha"), "from alpha");
  assert.equal(textOf(session, "beta"), "from beta");
  const next = await second.prompt(sessionId, "@beta say again");
  assert.equal(next.stopReason, "end_turn");
  assert.ok(textOf(session, "beta").endsWith("again"));
});
