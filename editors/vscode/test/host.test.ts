/**
 * The bundled extension (`dist/extension.cjs`, what the .vsix ships) activated
 * against a test double of the `vscode` module, with the real proxy and fake
 * agents behind it: the manifest and the glue agree, the panel's page is given
 * its HTML under the CSP and the session, commands do what they say, open
 * documents are the agents' files. VS Code's own behaviour is not tested here.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import type { ToPanel } from "../src/webview/protocol.js";
import { FakeDocument, Position, fakeVscode, loadBundle, type Fake, type Script } from "./fake-vscode.js";
import { collapsedTools, ourocodusBin, teamToml } from "./support.js";

const T = { timeout: 30_000 };
const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

/** Activates the bundle in a fresh workspace with a team of `roles`; deactivates it after the test. */
async function activate(t: TestContext, roles: string[], script: Partial<Script> = {}, shared?: string) {
  const dir = shared ?? (await mkdtemp(join(tmpdir(), "ourocodus-host-")));
  const config = join(dir, "team.toml");
  await writeFile(config, teamToml(roles));
  const store = shared ? ["--store", join(dir, "store.db")] : ["--no-store"];
  const fake = fakeVscode({
    workspace: dir,
    settings: { path: ourocodusBin(), args: ["--config", config, ...store], layout: "tabs" },
    ...script,
  });
  const extension = loadBundle(fake);
  const context = { subscriptions: [] as { dispose(): unknown }[], extensionUri: fake.api.Uri.file("/ext"), extension: { packageJSON: manifest } };
  extension.activate(context);
  t.after(async () => {
    await extension.deactivate();
    for (const d of context.subscriptions) d.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  return { fake, dir, context };
}

const posted = (fake: Fake) => fake.view.posted as ToPanel[];

/** Resolves once the page has been posted a message that `check` accepts. */
async function until(fake: Fake, what: string, check: (messages: ToPanel[]) => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check(posted(fake))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; posted: ${JSON.stringify(posted(fake)).slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const saidBy = (messages: ToPanel[], role: string) =>
  messages.map((m) => (m.type === "event" && m.event.kind === "text" && m.event.role === role ? m.event.delta : "")).join("");

test("activation registers the manifest's view and commands, exactly", T, async (t) => {
  const { fake } = await activate(t, ["alpha"]);
  const declared = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
  assert.deepEqual([...fake.commands.keys()].sort(), declared);
  assert.deepEqual([...fake.providers.keys()], manifest.contributes.views.ourocodus.map((v: { id: string }) => v.id));
  assert.deepEqual(fake.providers.get("ourocodus.panel")!.options, { webviewOptions: { retainContextWhenHidden: true } });
  assert.deepEqual(Object.keys(manifest.contributes.configuration.properties).sort(), ["ourocodus.args", "ourocodus.layout", "ourocodus.path"]);
  assert.equal(manifest.main, "./dist/extension.cjs");
  for (const menu of manifest.contributes.menus["editor/context"]) assert.ok(declared.includes(menu.command));
});

test("the panel: its page under the CSP, the session when it is ready, a prompt and a permission from the page", T, async (t) => {
  const { fake } = await activate(t, ["alpha", "beta"]);
  await fake.commands.get("ourocodus.openPanel")!();
  const { webview } = fake.view;
  assert.equal(webview.options.enableScripts, true);
  assert.deepEqual(webview.options.localResourceRoots!.map((u) => u.fsPath), ["/ext/dist", "/ext/media"]);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(webview.html)![1]!;
  assert.match(csp, /^default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]+'; style-src https:\/\/file\+\.vscode-resource\.vscode-cdn\.net /);
  assert.match(webview.html, /<script nonce="[^"]+" src="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/dist\/webview\.js"><\/script>/);
  assert.match(webview.html, /href="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/media\/panel\.css"/);

  await fake.view.fromPage({ type: "ready" });
  assert.deepEqual(posted(fake)[0], { type: "config", layout: "tabs" });
  const roles = posted(fake).flatMap((m) => (m.type === "agent-status" ? [m.summary.role] : []));
  assert.deepEqual([...new Set(roles)], ["alpha", "beta"]);

  const prompt = fake.view.fromPage({ type: "prompt", text: "@alpha alpha> say hello from alpha; alpha> tool call then ask permission execute as Bash ls" });
  await until(fake, "the permission request", (m) => m.some((x) => x.type === "permission-request"));
  const request = posted(fake).find((m) => m.type === "permission-request")!;
  assert.ok(request.type === "permission-request");
  await fake.view.fromPage({ type: "permission", requestId: request.request.requestId, optionId: "allow-once" });
  await prompt;
  assert.match(saidBy(posted(fake), "alpha"), /hello from alpha.*permission: allow-once/s);

  // A reloaded page (the user moved the view) is sent the session again from the start.
  const before = posted(fake).length;
  await fake.view.fromPage({ type: "ready" });
  assert.deepEqual(posted(fake).slice(before + 1), collapsedTools(posted(fake).slice(1, before)));
});

test("Ask About Selection sends the picked role the question and the selected lines with their file", T, async (t) => {
  const { fake, dir } = await activate(t, ["alpha", "beta"], {
    quickPick: (labels) => (labels.includes("@beta") ? "@beta" : undefined),
    inputBox: "say looked at it",
  });
  const doc = new FakeDocument(join(dir, "src/a.rs"), "fn one() {}\nfn two() {}\nfn three() {}\n", "rust");
  fake.state.activeTextEditor = { document: doc, selection: { start: new Position(1, 3), end: new Position(3, 0) } };
  await fake.commands.get("ourocodus.askSelection")!();
  assert.ok(fake.view.webview.html, "the panel was opened");
  await fake.view.fromPage({ type: "ready" });
  const beta = saidBy(posted(fake), "beta");
  assert.match(beta, /looked at it/);
  // The fake agent reads the text block's second step back: the selection's file (relative) and its lines.
  assert.match(beta, /\(selection: src\/a\.rs, lines 2-3\)/);
  const users = posted(fake).flatMap((m) => (m.type === "event" && m.event.kind === "user" ? [m.event.delta] : []));
  assert.equal(saidBy(posted(fake), "alpha"), "", "only the picked role was asked");
  assert.ok(users.length === 0 || users.every((u) => !u.includes("fn two")), "the selection is a resource, not prompt text");
});

test("a failed start is an error with the log one click away, and the page says why", T, async (t) => {
  const { fake } = await activate(t, ["alpha"], { settings: { path: "/nonexistent/ourocodus" } });
  await fake.commands.get("ourocodus.openPanel")!();
  await fake.view.fromPage({ type: "ready" });
  assert.equal(fake.errors.length, 1);
  assert.match(fake.errors[0]!, /^Ourocodus did not start: /);
  assert.ok(fake.log.some((line) => line.startsWith("error ourocodus did not start")));
  const notice = posted(fake).find((m) => m.type === "event" && m.event.kind === "notice");
  assert.ok(notice?.type === "event" && notice.event.kind === "notice" && notice.event.notice.title === "Ourocodus did not start");
  await fake.commands.get("ourocodus.showLog")!();
  assert.equal(fake.state.shown, 1);
});

test("while the panel is hidden, a permission request is a notification whose button answers it", T, async (t) => {
  const { fake } = await activate(t, ["alpha"], { notification: (_message, buttons) => (buttons.includes("Reject") ? "Reject" : undefined) });
  await fake.commands.get("ourocodus.openPanel")!();
  await fake.view.fromPage({ type: "ready" });
  fake.view.visible = false;
  await fake.view.fromPage({ type: "prompt", text: "@alpha tool call then ask permission execute as Bash rm -rf build" });
  assert.equal(fake.notifications.length, 1);
  assert.match(fake.notifications[0]!, /^alpha asks: /);
  assert.match(saidBy(posted(fake), "alpha"), /permission: reject-once/);
});

test("an agent's fs requests see an open document's unsaved text, and a write edits and saves it", T, async (t) => {
  const { fake, dir } = await activate(t, ["alpha"]);
  const path = join(dir, "notes.txt");
  await writeFile(path, "on disk\n");
  const doc = new FakeDocument(path, "unsaved in the editor");
  fake.documents.push(doc);
  await fake.commands.get("ourocodus.openPanel")!();
  await fake.view.fromPage({ type: "ready" });
  await fake.view.fromPage({ type: "prompt", text: "@alpha read file notes.txt; write file notes.txt from the agent" });
  const said = saidBy(posted(fake), "alpha");
  assert.match(said, /unsaved in the editor/);
  assert.doesNotMatch(said, /on disk/);
  assert.equal(doc.text, "from the agent");
  assert.equal(doc.saves, 1);
});

test("Restart a Role restarts the picked role; the layout the page picks is saved in the settings", T, async (t) => {
  const { fake } = await activate(t, ["alpha", "beta"], { quickPick: () => "@beta" });
  await fake.commands.get("ourocodus.openPanel")!();
  await fake.view.fromPage({ type: "ready" });
  await fake.commands.get("ourocodus.restartRole")!();
  assert.ok(fake.log.includes("info restarted beta"), fake.log.join("\n"));
  await fake.commands.get("ourocodus.restartRole")!("nobody");
  assert.match(fake.errors.at(-1) ?? "", /^Restarting nobody failed: /);
  await fake.view.fromPage({ type: "layout", layout: "split" });
  assert.deepEqual(fake.updates, [["layout", "split"]]);
  await fake.commands.get("ourocodus.cancel")!();
});

test("Open an Earlier Session shows the picked session's history in the panel, and prompts go to it", T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "ourocodus-host-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await activate(t, ["alpha"], {}, dir);
  await first.fake.commands.get("ourocodus.openPanel")!();
  await first.fake.view.fromPage({ type: "ready" });
  await first.fake.view.fromPage({ type: "prompt", text: "@alpha say from yesterday" });
  const earlier = posted(first.fake).find((m) => m.type === "event")!;
  assert.ok(earlier.type === "event");

  let offered: string[] = [];
  const { fake } = await activate(t, ["alpha"], { quickPick: (labels) => ((offered = labels), labels[0]) }, dir);
  await fake.commands.get("ourocodus.openPanel")!();
  await fake.view.fromPage({ type: "ready" });
  await fake.view.fromPage({ type: "sessions" }); // the page's Sessions button
  await until(fake, "the earlier session's history", (m) => saidBy(m, "alpha").includes("from yesterday"));
  assert.equal(offered.length, 1, `only the earlier session is offered: ${offered}`);
  const reset = posted(fake).findIndex((m) => m.type === "reset");
  assert.ok(reset > 0, "the panel was reset before the history came");
  await fake.view.fromPage({ type: "prompt", text: "@alpha say today" });
  const after = posted(fake).slice(reset);
  assert.ok(after.every((m) => m.type !== "event" || m.event.sessionId === earlier.event.sessionId));
  assert.match(saidBy(after, "alpha"), /from yesterday.*today/s);
});

test("after the proxy dies, the open panel follows the team the next prompt starts", T, async (t) => {
  const { fake } = await activate(t, ["alpha"]);
  await fake.commands.get("ourocodus.openPanel")!();
  await fake.view.fromPage({ type: "ready" });
  await fake.view.fromPage({ type: "prompt", text: "@alpha say before" });
  const started = fake.log.map((l) => /^info ourocodus started \(pid (\d+)\)$/.exec(l)).find(Boolean);
  assert.ok(started, fake.log.join("\n"));
  process.kill(Number(started[1]), "SIGKILL");
  const end = Date.now() + 10_000;
  while (!fake.log.some((l) => l.startsWith("warn ourocodus exited"))) {
    assert.ok(Date.now() < end, "the exit was noticed");
    await new Promise((r) => setTimeout(r, 20));
  }
  const before = posted(fake).length;
  await fake.view.fromPage({ type: "prompt", text: "@alpha say after the restart" });
  const after = posted(fake).slice(before);
  const reset = after.findIndex((m) => m.type === "reset");
  assert.ok(reset >= 0, "the page was emptied for the new team");
  assert.match(saidBy(after.slice(reset), "alpha"), /after the restart/);
  assert.equal(fake.log.filter((l) => l.startsWith("info ourocodus started")).length, 2);
});
