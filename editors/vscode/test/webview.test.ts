/**
 * The panel's page under jsdom: the controller fed a recorded session
 * (`fixtures/session.json`, from `fixtures/record.ts` against the real binary),
 * what the user's clicks post, agent text kept as text, and the page's CSP.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { JSDOM } from "jsdom";
import { lineDiff } from "../src/webview/diff.js";
import { PanelController } from "../src/webview/controller.js";
import { contentSecurityPolicy, newNonce, panelHtml } from "../src/webview/html.js";
import { MarkdownStream, renderMarkdown } from "../src/webview/markdown.js";
import type { FromPanel, ToPanel } from "../src/webview/protocol.js";

const recorded = JSON.parse(readFileSync(new URL("./fixtures/session.json", import.meta.url), "utf8")) as ToPanel[];

const page = { cspSource: "https://file+.vscode-resource.vscode-cdn.net", nonce: "bm9uY2Utb2YtdGVzdA==", scriptUri: "panel.js", styleUri: "panel.css" };

function mount() {
  const dom = new JSDOM(panelHtml(page));
  const document = dom.window.document;
  const posted: FromPanel[] = [];
  const root = document.getElementById("ourocodus")!;
  const panel = new PanelController(root, (message) => posted.push(message));
  const pane = (name: string) => document.querySelector<HTMLElement>(`.pane[data-pane="${name}"]`)!;
  const badge = (role: string) => document.querySelector<HTMLElement>(`.tab[data-tab="${role}"] .badge`)!.textContent;
  return { dom, document, root, panel, posted, pane, badge };
}

/** The numbers of the fake agent's `#N` stream markers, in order. */
const markers = (text: string) => [...text.matchAll(/#(\d+) /g)].map((m) => Number(m[1]));

test("a recorded session replayed: panes per role, the team pane, tool cards, a permission click, tasks and badges", () => {
  const { document, panel, posted, pane, badge } = mount();
  const badges = new Map<string, string[]>();
  const taskStates: string[] = [];
  let clicked = false;
  for (const message of recorded) {
    panel.handle(message);
    if (message.type === "agent-status") {
      const seen = badges.get(message.summary.role) ?? [];
      seen.push(badge(message.summary.role) ?? "");
      badges.set(message.summary.role, seen);
    }
    if (message.type === "event" && message.event.kind === "tasks") {
      const item = document.querySelector<HTMLElement>('.task-list li[data-task="t1"]')!;
      taskStates.push(`${item.dataset.status}:${item.querySelector("input")!.checked}`);
    }
    if (message.type === "permission-request") {
      const { requestId, toolCall } = message.request;
      assert.match(requestId, /^r[0-9a-f]{8}-1$/, "the bridge's first request");
      // The buttons are on the tool call's card, in the role's pane and the team's.
      for (const where of ["alpha", "team"]) {
        const card = pane(where).querySelector<HTMLElement>(`.tool-card[data-tool-call-id="${toolCall.id}"]`);
        assert.ok(card, `${toolCall.id}'s card in the ${where} pane`);
        const names = [...card.querySelectorAll("button.permission-option")].map((b) => b.textContent);
        assert.deepEqual(names, message.request.options.map((o) => o.name));
      }
      const allow = pane("alpha").querySelector<HTMLButtonElement>('button[data-option-id="allow-once"]')!;
      allow.click();
      allow.click(); // A second click posts nothing more.
      assert.deepEqual(posted, [{ type: "permission", requestId, optionId: "allow-once" }]);
      const buttons = document.querySelectorAll<HTMLButtonElement>(`.permission[data-request-id="${requestId}"] button`);
      assert.equal(buttons.length, 2 * message.request.options.length);
      assert.ok([...buttons].every((b) => b.disabled), "answered: every button of the request is disabled, in both panes");
      clicked = true;
    }
  }
  assert.ok(clicked, "the recording has a permission request");

  // One tab per role, plus the team's.
  assert.deepEqual([...document.querySelectorAll(".tab")].map((t) => t.querySelector(".tab-name")!.textContent), ["Team", "alpha", "beta", "architect"]);
  // Two roles streamed at once: each pane has its own chunks, all and in order.
  const alphaText = pane("alpha").querySelector(".stream")!.textContent!;
  const betaText = pane("beta").querySelector(".stream")!.textContent!;
  assert.deepEqual(markers(alphaText), [1, 2, 3, 4, 5]);
  assert.deepEqual(markers(betaText), [1, 2, 3, 4, 5]);
  assert.ok(betaText.includes("end of beta") && !alphaText.includes("end of beta"));
  assert.ok(pane("alpha").querySelector(".entry-thought")?.textContent?.includes("weighing it"));
  // The team pane interleaves the roles, each run labelled with its role.
  const labels = [...pane("team").querySelectorAll(".entry > .role-label")].map((l) => l.textContent);
  assert.ok(labels.includes("alpha") && labels.includes("beta") && labels.includes("architect"));
  for (const entry of pane("team").querySelectorAll<HTMLElement>(".entry")) {
    assert.equal(entry.querySelector(".role-label")?.textContent, entry.dataset.role, "every team entry says whose it is");
  }
  const teamText = pane("team").querySelector(".stream")!.textContent!;
  assert.ok(teamText.includes("end of beta") && teamText.includes("weighing it"));

  // Tool cards: status, and the diff as removed and added lines.
  const edit = pane("alpha").querySelector<HTMLElement>('.tool-card[data-tool-call-id="alpha/d1"]')!;
  assert.equal(edit.dataset.status, "completed");
  assert.equal(edit.querySelector(".tool-title")!.textContent, "edit a.rs");
  assert.equal(edit.querySelector(".diff-path")!.textContent, "/p/a.rs");
  assert.deepEqual([...edit.querySelectorAll(".diff-line")].map((l) => [l.className, l.textContent]), [
    ["diff-line diff-del", "- let x = old\n"],
    ["diff-line diff-add", "+ let x = new\n"],
  ]);
  assert.equal(pane("alpha").querySelector('.tool-card[data-tool-call-id="alpha/call_1"]')!.getAttribute("data-status"), "completed");
  const asked = pane("alpha").querySelector<HTMLElement>('.tool-card[data-tool-call-id="alpha/call_2"]')!;
  assert.equal(asked.dataset.status, "completed", "the allowed call completed");
  assert.equal(asked.querySelector(".permission-outcome")!.textContent, "Allow once");
  assert.ok(pane("alpha").querySelector(".permission-record")!.textContent!.endsWith(": allow-once"));
  assert.ok(!pane("beta").querySelector(".tool-card"), "no alpha card in beta's pane");

  // The task graph as a checklist that follows the task.
  assert.ok(taskStates.length >= 2, `tasks updated: ${taskStates}`);
  assert.notEqual(taskStates[0], "completed:true");
  assert.equal(taskStates.at(-1), "completed:true");
  const t1 = document.querySelector<HTMLElement>('.task-list li[data-task="t1"]')!;
  assert.equal(t1.querySelector(".check-text")!.textContent, "beta: x");
  assert.equal(t1.querySelector(".check-detail")!.textContent, "done");
  assert.equal(document.querySelector<HTMLElement>(".tasks")!.hidden, false);
  // The role's own plan as its checklist.
  assert.deepEqual([...pane("beta").querySelectorAll(".role-plan .check-text")].map((e) => e.textContent), ["one", "two"]);
  // A notice and the proxy's prompt in beta's pane.
  assert.ok([...pane("beta").querySelectorAll(".entry-notice .notice-title")].some((n) => n.textContent === "Task t1 (beta): in_flight → done"));
  assert.ok(pane("beta").querySelector(".entry-user")!.textContent!.includes("Task t1 from architect"));

  // Status badges followed each role's status.
  // (A status sent twice in a row, as the host's first listing of the roles repeats their latest, shows once.)
  const changes = badges.get("alpha")!.filter((status, i, all) => i === 0 || all[i - 1] !== status);
  assert.deepEqual(changes.slice(0, 3), ["starting", "idle", "working"]);
  assert.ok(badges.get("alpha")!.includes("waiting-on-you"));
  assert.ok(badges.get("beta")!.includes("restarting"), `beta crashed: ${badges.get("beta")}`);
  for (const role of ["alpha", "beta", "architect"]) assert.equal(badge(role), "idle");
  assert.ok(document.querySelector(`.tab[data-tab="beta"] .badge`)!.classList.contains("status-idle"));
});

test("agent text with <script> and <img onerror> is shown as text: no element is created", () => {
  const { document, root, panel, pane } = mount();
  for (const message of recorded) panel.handle(message);
  const alpha = pane("alpha").querySelector(".stream")!;
  assert.ok(alpha.textContent!.includes("<script>alert(1)</script> and <img src=x onerror=alert(2)> and code"));
  assert.equal(alpha.querySelector("code")?.textContent, "code", "inline code is the one element markdown made");
  // Crafted text in every markdown form, through the controller.
  const evil = '<script>alert(3)</script> **<img src=x onerror=alert(4)>** `<iframe src=x>`\n\n```html\n<img src=y onerror=alert(5)>\n```\n<a href="javascript:alert(6)">x</a>';
  panel.handle({ type: "event", event: { sessionId: "s", kind: "text", role: "mallory", delta: evil } });
  panel.handle({ type: "event", event: { sessionId: "s", kind: "notice", role: "mallory", notice: { severity: "error", title: "<b>t</b>", description: "<svg onload=alert(7)>" } } });
  panel.handle({
    type: "event",
    event: {
      sessionId: "s",
      kind: "tool",
      role: "mallory",
      created: true,
      toolCall: { id: "<x>", title: "<img src=z onerror=alert(8)>", status: "<i>", text: ["<script>x</script>"], diffs: [{ path: "<p>", oldText: "<u>", newText: "<s>" }], terminals: [], locations: [{ path: "<q>" }] },
    },
  });
  panel.handle({ type: "agent-status", summary: { role: "<em>r</em>", status: "<blink>" } });
  panel.handle({
    type: "permission-request",
    request: { requestId: "<r>", role: "mallory", toolCall: { id: "<x>", title: "t" }, options: [{ optionId: '"><img>', name: "<img src=w onerror=alert(9)>", kind: "allow_once" }] },
  });
  for (const tag of ["script", "img", "iframe", "a", "svg", "b", "u", "s", "i", "em", "blink", "q"]) {
    assert.equal(root.querySelectorAll(tag).length, 0, `no <${tag}> element in the panel`);
  }
  const mallory = pane("mallory").textContent!;
  for (const text of ["<script>alert(3)</script>", "<img src=x onerror=alert(4)>", "<iframe src=x>", "<img src=y onerror=alert(5)>", "<svg onload=alert(7)>", "<img src=z onerror=alert(8)>", "- <u>", "+ <s>", "<img src=w onerror=alert(9)>"]) {
    assert.ok(mallory.includes(text), `shown as text: ${text}`);
  }
  assert.equal(pane("mallory").querySelector("pre code")!.textContent, "<img src=y onerror=alert(5)>");
  // No inline handler anywhere in the rendered page.
  for (const node of document.querySelectorAll("*")) {
    for (const attribute of node.attributes) assert.ok(!attribute.name.startsWith("on"), `${node.tagName} has ${attribute.name}`);
  }
});

test("the page's CSP is present and strict, and its script and stylesheet carry the nonce", () => {
  const nonce = newNonce();
  assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
  assert.notEqual(nonce, newNonce());
  const html = panelHtml({ ...page, nonce });
  const document = new JSDOM(html).window.document;
  const metas = document.querySelectorAll('meta[http-equiv="Content-Security-Policy"]');
  assert.equal(metas.length, 1);
  const csp = metas[0]!.getAttribute("content")!;
  assert.equal(csp, contentSecurityPolicy({ cspSource: page.cspSource, nonce }));
  const directives = new Map(csp.split(";").map((d) => { const [name, ...values] = d.trim().split(/\s+/); return [name!, values]; }));
  assert.deepEqual(directives.get("default-src"), ["'none'"]);
  assert.deepEqual(directives.get("script-src"), [`'nonce-${nonce}'`]);
  assert.deepEqual(directives.get("style-src"), [page.cspSource, `'nonce-${nonce}'`]);
  assert.ok(!/unsafe-inline|unsafe-eval|\s\*(\s|;|$)/.test(csp), csp);
  assert.ok(document.head.firstElementChild!.matches("meta[charset]") && document.head.children[1] === metas[0], "the CSP comes before anything it governs");
  const scripts = document.querySelectorAll("script");
  assert.equal(scripts.length, 1);
  assert.equal(scripts[0]!.getAttribute("nonce"), nonce);
  assert.equal(scripts[0]!.textContent, "", "no inline script");
  assert.equal(document.querySelector("link[rel=stylesheet]")!.getAttribute("nonce"), nonce);
  assert.equal(document.querySelectorAll("style").length, 0);
  assert.ok(!/\son\w+=/i.test(html), "no inline handler");
  assert.throws(() => panelHtml({ ...page, nonce: "x' 'unsafe-inline" }), /nonce/);
  for (const wider of ["https://a; script-src *", "*", "https:", "data:", "'unsafe-inline'", "'self' *", "https://a,https://b", "'nonce-x'", "", "https://a 'unsafe-eval'"]) {
    assert.throws(() => panelHtml({ ...page, cspSource: wider }), /cspSource/, wider);
  }
});

test("the cspSource VS Code for the web and code-server give ('self' and a wildcard host) is taken as it is", () => {
  const cspSource = "'self' https://*.vscode-cdn.net";
  const csp = contentSecurityPolicy({ cspSource, nonce: "bm9uY2U=" });
  assert.equal(csp, "default-src 'none'; script-src 'nonce-bm9uY2U='; style-src 'self' https://*.vscode-cdn.net 'nonce-bm9uY2U='; base-uri 'none'; form-action 'none'");
  assert.equal(contentSecurityPolicy({ cspSource: "http://127.0.0.1:8080", nonce: "bm9uY2U=" }).includes("style-src http://127.0.0.1:8080 "), true);
});

test("tabs, cancel, restart and the prompt box post through the injected postMessage; window messages feed the panel", () => {
  const { dom, document, panel, posted, pane } = mount();
  panel.connect(dom.window as unknown as Window);
  const send = (data: unknown) => dom.window.dispatchEvent(new dom.window.MessageEvent("message", { data }));
  send({ type: "agent-status", summary: { role: "beta", status: "working" } });
  send({ type: "event", event: { sessionId: "s", kind: "text", role: "beta", delta: "hello" } });
  send({ type: "bogus" });
  send("not an object");
  send({ type: "event", event: null });
  assert.equal(pane("beta").querySelector(".stream")!.textContent, "hello");
  assert.equal(pane("team").hidden, false);
  assert.equal(pane("beta").hidden, true);
  document.querySelector<HTMLButtonElement>('.tab[data-tab="beta"]')!.click();
  assert.equal(pane("team").hidden, true);
  assert.equal(pane("beta").hidden, false);
  assert.equal(document.querySelector('.tab[data-tab="beta"]')!.getAttribute("aria-selected"), "true");
  document.querySelector<HTMLButtonElement>("button.cancel")!.click();
  pane("beta").querySelector<HTMLButtonElement>("button.restart")!.click();
  const textarea = document.querySelector("textarea")!;
  textarea.value = "  @beta go  ";
  document.querySelector<HTMLButtonElement>("button.send")!.click();
  assert.equal(textarea.value, "", "sent: the box is emptied");
  textarea.value = "   ";
  document.querySelector<HTMLButtonElement>("button.send")!.click();
  assert.deepEqual(posted, [{ type: "cancel" }, { type: "restart", role: "beta" }, { type: "prompt", text: "@beta go" }], "a blank prompt is not sent");
});

test("a request settled elsewhere loses its buttons; a card with a multi-line diff shows a line diff", () => {
  const { panel, posted, pane } = mount();
  panel.handle({
    type: "permission-request",
    request: { requestId: "q", role: "alpha", toolCall: { id: "gate:t2", title: "approve t2" }, options: [{ optionId: "approve", name: "Approve", kind: "allow_once" }, { optionId: "reject", name: "Reject", kind: "reject_once" }], gate: { task: "t2" } },
  });
  const box = pane("alpha").querySelector<HTMLElement>(".permission")!;
  assert.equal(box.querySelector(".permission-question")!.textContent, "Approve task t2?");
  panel.handle({ type: "permission-settled", requestId: "q", outcome: "cancelled" });
  assert.ok([...box.querySelectorAll("button")].every((b) => b.disabled));
  box.querySelector("button")!.click();
  assert.deepEqual(posted, [], "a settled request posts nothing");
  assert.equal(box.querySelector(".permission-outcome")!.textContent, "cancelled");

  const diff = { path: "a.rs", oldText: "fn a() {\n    old();\n}\nkeep\n", newText: "fn a() {\n    new();\n    more();\n}\nkeep\n" };
  panel.handle({ type: "event", event: { sessionId: "s", kind: "tool", role: "alpha", created: true, toolCall: { id: "e", title: "edit", status: "in_progress", text: [], diffs: [diff], terminals: [], locations: [{ path: "a.rs", line: 2 }] } } });
  const card = pane("alpha").querySelector<HTMLElement>('.tool-card[data-tool-call-id="e"]')!;
  assert.equal(card.querySelector(".tool-location")!.textContent, "a.rs:2");
  assert.equal(card.querySelector(".diff-lines")!.textContent, "  fn a() {\n-     old();\n+     new();\n+     more();\n  }\n  keep\n");
  panel.handle({ type: "event", event: { sessionId: "s", kind: "tool", role: "alpha", created: false, toolCall: { id: "e", title: "edit", status: "failed", text: ["boom"], diffs: [], terminals: [], locations: [] } } });
  assert.equal(pane("alpha").querySelectorAll('.tool-card[data-tool-call-id="e"]').length, 1, "an update re-renders the same card");
  assert.equal(card.dataset.status, "failed");
  assert.equal(card.querySelector(".tool-text")!.textContent, "boom");
});

test("line diff and markdown subset", () => {
  assert.deepEqual(lineDiff(null, "a\nb\n"), [{ op: "+", text: "a" }, { op: "+", text: "b" }]);
  assert.deepEqual(lineDiff("a\nb\nc", "a\nc"), [{ op: " ", text: "a" }, { op: "-", text: "b" }, { op: " ", text: "c" }]);
  assert.deepEqual(lineDiff("x\ny", "y\nx").map((l) => l.op + l.text), ["-x", " y", "+x"]);
  const big = Array.from({ length: 1000 }, (_, i) => `${i}`).join("\n");
  assert.equal(lineDiff(big, big.split("\n").reverse().join("\n")).length, 2000, "a huge change falls back to remove-all, add-all");

  const { document } = new JSDOM("").window;
  const host = document.createElement("div");
  host.append(renderMarkdown(document, "one\ntwo\n\nthree `x < y` **bold**\n\n```ts\nlet a = 1\n\nlet b = 2\n```\nafter"));
  assert.equal(host.children.length, 4);
  assert.deepEqual([...host.children].map((c) => c.tagName), ["P", "P", "PRE", "P"]);
  assert.equal(host.children[0]!.querySelectorAll("br").length, 1);
  assert.equal(host.querySelector("p code")!.textContent, "x < y");
  assert.equal(host.querySelector("strong")!.textContent, "bold");
  assert.equal(host.querySelector("pre code")!.textContent, "let a = 1\n\nlet b = 2");
  assert.equal(host.querySelector<HTMLElement>("pre code")!.dataset.lang, "ts");
  // An unclosed fence (still streaming) is code to the end.
  host.replaceChildren(renderMarkdown(document, "```\npartial <b>"));
  assert.equal(host.querySelector("pre code")!.textContent, "partial <b>");
  assert.equal(host.querySelectorAll("b").length, 0);
});

test("markdown streamed in pieces renders as it would at once, and a long stream stays cheap", () => {
  const { document } = new JSDOM("").window;
  const text = "a `b` **c**\nd\n\n```js\nx <y>\n\nz\n```\ne <img src=x onerror=alert(1)>\n\n\nf `g`";
  const whole = document.createElement("div");
  whole.append(renderMarkdown(document, text));
  for (let size = 1; size <= 7; size++) {
    const streamed = document.createElement("div");
    const stream = new MarkdownStream(document, streamed);
    for (let i = 0; i < text.length; i += size) {
      stream.append(text.slice(i, i + size));
      assert.equal(streamed.querySelectorAll("img").length, 0);
    }
    // The unfinished last line shows as plain text until the block ends.
    assert.ok(streamed.innerHTML.endsWith("<p>f `g`</p>"), streamed.innerHTML);
    stream.finish();
    assert.equal(streamed.innerHTML, whole.innerHTML, `in pieces of ${size}`);
  }
  assert.equal(whole.innerHTML, '<p>a <code>b</code> <strong>c</strong><br>d</p><pre><code data-lang="js">x &lt;y&gt;\n\nz</code></pre><p>e &lt;img src=x onerror=alert(1)&gt;</p><p>f <code>g</code></p>');

  // Only the unfinished line is re-rendered per chunk (re-rendering the whole text took tens of seconds here).
  const { panel, pane } = mount();
  const started = performance.now();
  for (let i = 0; i < 2000; i++) {
    panel.handle({ type: "event", event: { sessionId: "s", kind: "text", role: "alpha", delta: `#${i} some \`words\`${i % 3 === 0 ? "\n" : " "}` } });
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 5000, `2000 chunks took ${elapsed} ms`);
  assert.equal(markers(pane("alpha").textContent!).length, 2000);
  // And one line that never ends, in 2000 chunks.
  const long = performance.now();
  for (let i = 0; i < 2000; i++) panel.handle({ type: "event", event: { sessionId: "s", kind: "text", role: "beta", delta: `#${i} word ` } });
  assert.ok(performance.now() - long < 5000, `2000 chunks of one line took ${performance.now() - long} ms`);
  assert.equal(markers(pane("beta").textContent!).length, 2000);
});

test("usage in each role's pane header and tab tooltip, the total in the team's; a reset empties the panel for another session", () => {
  const { document, panel, posted, pane } = mount();
  for (const message of recorded) panel.handle(message);
  panel.handle({
    type: "usage",
    usage: {
      roles: [{ role: "alpha", tokens: { totalTokens: 1500 }, context: { used: 40_000, size: 200_000 }, cost: [{ amount: 0.04, currency: "USD" }, { amount: 1.5, currency: "EUR" }] }],
      tasks: [],
      total: { tokens: { totalTokens: 2_500_000 } },
    },
  });
  assert.equal(pane("alpha").querySelector(".usage")!.textContent, "1.5k tokens · context 40.0k/200.0k · 0.0400 USD · 1.50 EUR");
  assert.equal(document.querySelector<HTMLElement>('.tab[data-tab="alpha"]')!.title, "1.5k tokens · context 40.0k/200.0k · 0.0400 USD · 1.50 EUR");
  assert.equal(pane("team").querySelector(".usage")!.textContent, "2.5M tokens");
  document.querySelector<HTMLButtonElement>('button[data-action="sessions"]')!.click();
  assert.deepEqual(posted, [{ type: "sessions" }]);

  panel.handle({ type: "reset", title: "yesterday's team" });
  assert.deepEqual([...document.querySelectorAll(".tab .tab-name")].map((t) => t.textContent), ["Team"]);
  assert.equal(pane("team").querySelector(".stream")!.childElementCount, 0);
  assert.equal(pane("team").querySelector(".usage")!.textContent, "");
  assert.equal(document.querySelector<HTMLElement>(".tasks")!.hidden, true);
  assert.equal(document.querySelector<HTMLElement>(".session-title")!.textContent, "yesterday's team");
  // The other session's history then fills it as before.
  panel.handle({ type: "event", event: { sessionId: "s2", kind: "text", role: "beta", delta: "from the earlier session" } });
  assert.equal(pane("beta").querySelector(".stream")!.textContent, "from the earlier session");
});

test("the proxy's own notices are the team pane's: no tab is made for them", () => {
  const { document, panel, pane } = mount();
  panel.handle({ type: "event", event: { sessionId: "s", kind: "notice", role: "ourocodus", notice: { severity: "error", title: "The prompt failed" } } });
  assert.deepEqual([...document.querySelectorAll(".tab .tab-name")].map((t) => t.textContent), ["Team"]);
  assert.equal(pane("team").querySelector(".notice-title")!.textContent, "The prompt failed");
  assert.deepEqual(panel.roles(), []);
});
