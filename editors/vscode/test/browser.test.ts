/**
 * The panel's built page (`dist/webview.js` and `media/panel.css` under the
 * page's CSP) in headless Chromium (Debian's `/usr/bin/chromium`, driven by
 * `playwright-core`; never a downloaded browser), replaying a session recorded
 * from the real binary: what a user sees and clicks, the CSP as the browser
 * enforces it, and a screenshot of the panel (`test-artifacts/`; with
 * `UPDATE_SCREENSHOT=1` also `media/panel.png`, the one the README shows).
 *
 * Without Chromium the tests are skipped, unless `OUROCODUS_REQUIRE_BROWSER=1`
 * (as in `.ci/run`), which makes a missing browser a failure.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { newNonce, panelHtml } from "../src/webview/html.js";
import type { ToPanel } from "../src/webview/protocol.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const required = process.env.OUROCODUS_REQUIRE_BROWSER === "1";
const skip = !existsSync(CHROMIUM) && !required ? `no browser at ${CHROMIUM} (set OUROCODUS_REQUIRE_BROWSER=1 to fail instead)` : false;
const T = { timeout: 60_000, skip };

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const recorded = JSON.parse(readFileSync(here("./fixtures/session.json"), "utf8")) as ToPanel[];

/** VS Code's dark theme variables (a few of them), as VS Code sets them on the webview's page. */
const THEME = `html { background: #1f1f1f; --vscode-font-family: system-ui, sans-serif; --vscode-foreground: #cccccc;
  --vscode-focusBorder: #0078d4; --vscode-badge-background: #616161; --vscode-badge-foreground: #f8f8f8;
  --vscode-charts-blue: #3794ff; --vscode-charts-yellow: #cca700; --vscode-charts-red: #f14c4c;
  --vscode-textLink-foreground: #4daafc; --vscode-errorForeground: #f85149; --vscode-panel-border: #2b2b2b;
  --vscode-diffEditor-insertedTextBackground: #9ccc2c33; --vscode-diffEditor-removedTextBackground: #ff000033;
  --vscode-list-activeSelectionBackground: #04395e; --vscode-list-activeSelectionForeground: #ffffff;
  --vscode-editor-background: #1f1f1f; --vscode-button-background: #0078d4; --vscode-button-foreground: #ffffff;
  --vscode-button-hoverBackground: #026ec1; --vscode-button-secondaryBackground: #313131;
  --vscode-button-secondaryForeground: #cccccc; --vscode-button-secondaryHoverBackground: #3c3c3c;
  --vscode-button-border: #ffffff12; --vscode-input-background: #313131; --vscode-input-foreground: #cccccc;
  --vscode-input-border: #3c3c3c; font-size: 13px; }`;

let server: Server;
let origin: string;
let browser: Browser;

/** Serves the page as the webview would: the HTML with its CSP, and the built script and stylesheet from one origin. */
function serve(): Promise<void> {
  const files: Record<string, [string, string]> = {
    "/dist/webview.js": [here("../dist/webview.js"), "text/javascript"],
    "/media/panel.css": [here("../media/panel.css"), "text/css"],
  };
  server = createServer((request, response) => {
    const url = request.url ?? "/";
    if (url === "/") {
      const html = panelHtml({ cspSource: origin, nonce: newNonce(), scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/media/panel.css` });
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (url === "/theme.css") {
      response.writeHead(200, { "content-type": "text/css" }).end(THEME);
    } else if (files[url]) {
      response.writeHead(200, { "content-type": files[url][1] }).end(readFileSync(files[url][0]));
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(here("../dist/webview.js")), "build the page first: npm run build");
  await serve();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

interface Opened {
  page: Page;
  /** What the page posted to the host (through the stand-in for `acquireVsCodeApi`). */
  posted: () => Promise<unknown[]>;
  violations: () => Promise<string[]>;
  dialogs: string[];
}

/** Opens the panel page with `acquireVsCodeApi` stood in for, and collects CSP violations and dialogs. */
async function open(width: number, height: number): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width, height } });
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  // A string, not a function: the test's TypeScript transform would add helpers the page does not have.
  await page.addInitScript(`
    window.__posted = [];
    window.__violations = [];
    window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m) });
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.effectiveDirective + " " + e.blockedURI));
  `);
  await page.goto(`${origin}/`);
  await page.addStyleTag({ url: `${origin}/theme.css` });
  return {
    page,
    dialogs,
    posted: () => page.evaluate(() => (window as unknown as { __posted: unknown[] }).__posted),
    violations: () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations),
  };
}

/** Posts the recorded session to the page as the host would, and waits until the last message is rendered. */
async function replay(page: Page, messages: ToPanel[]): Promise<void> {
  await page.evaluate((all) => {
    for (const m of all) window.postMessage(m, "*");
    window.postMessage({ type: "event", event: { sessionId: "s", kind: "notice", role: "ourocodus", notice: { severity: "info", title: "replayed" } } }, "*");
  }, messages);
  await page.getByText("replayed", { exact: true }).first().waitFor({ state: "attached", timeout: 10_000 });
}

test("the page starts under its CSP and tells the host it is ready", T, async () => {
  const { page, posted, violations } = await open(420, 700);
  assert.deepEqual(await posted(), [{ type: "ready" }]);
  assert.equal(await page.locator(".ourocodus-panel").count(), 1, "the script ran (by its nonce) and built the panel");
  assert.deepEqual(await violations(), []);
  // The stylesheet applied (from the page's origin): the prompt box is laid out as a row.
  assert.equal(await page.locator("form.prompt").evaluate((f) => getComputedStyle(f).display), "flex");
  await page.close();
});

test("a recorded session as a user sees it: tabs with badges, panes, text kept as text, the diff, tasks, a permission click", T, async () => {
  const { page, posted, violations, dialogs } = await open(420, 900);
  await replay(page, recorded);
  const tabs = await page.locator(".tab .tab-name").allInnerTexts();
  assert.deepEqual(tabs, ["Team", "alpha", "beta", "architect"]);
  assert.equal(await page.locator('.tab[data-tab="beta"] .badge').innerText(), "idle");
  // Tabs: the team pane is the one shown, every role's entries labelled.
  const team = page.locator('.pane[data-pane="team"]');
  assert.ok(await team.isVisible());
  assert.ok(!(await page.locator('.pane[data-pane="alpha"]').isVisible()));
  assert.ok((await team.locator(".role-label").allInnerTexts()).includes("beta"));
  // Agent text that looks like HTML is shown as written, and nothing ran.
  assert.match(await team.innerText(), /<script>alert\(1\)<\/script> and <img src=x onerror=alert\(2\)>/);
  assert.deepEqual(dialogs, []);
  // The edit's diff, line by line.
  assert.equal((await team.locator(".diff-del").first().innerText()).trim(), "- let x = old");
  assert.equal((await team.locator(".diff-add").first().innerText()).trim(), "+ let x = new");
  // The task graph as a checklist: t1 done.
  const task = page.locator('.task-list li[data-task="t1"]');
  assert.ok(await task.isVisible());
  assert.ok(await task.locator("input").isChecked());
  // The permission request's buttons on its card; the recorded answer settled it, so they are disabled.
  const recordedRequest = recorded.find((m) => m.type === "permission-request");
  assert.ok(recordedRequest?.type === "permission-request");
  const request = team.locator(`.permission[data-request-id="${recordedRequest.request.requestId}"]`);
  assert.deepEqual(await request.locator("button").allInnerTexts(), ["Allow once", "Always allow", "Reject", "Always reject"]);
  assert.ok(await request.locator("button").first().isDisabled());
  // beta's tab shows beta's pane alone, with its restart button.
  await page.locator('.tab[data-tab="beta"]').click();
  assert.ok(await page.locator('.pane[data-pane="beta"]').isVisible());
  assert.ok(!(await team.isVisible()));
  await page.getByRole("button", { name: "Restart beta" }).click();
  assert.deepEqual((await posted()).slice(1), [{ type: "restart", role: "beta" }]);
  assert.deepEqual(await violations(), []);
  await mkdir(here("../test-artifacts"), { recursive: true });
  await page.locator('.tab[data-tab="alpha"]').click();
  await page.screenshot({ path: here("../test-artifacts/panel-tabs.png"), fullPage: true });
  await page.close();
});

test("a waiting permission is answered by one click, and a gate's reject carries what the user typed", T, async () => {
  const { page, posted } = await open(420, 700);
  const options = [
    { optionId: "allow-once", name: "Allow once", kind: "allow_once" },
    { optionId: "reject-once", name: "Reject", kind: "reject_once" },
  ];
  await replay(page, [
    { type: "permission-request", request: { requestId: "r7", role: "alpha", toolCall: { id: "alpha/call_9", title: "rm -rf build", kind: "execute" }, options } },
    {
      type: "permission-request",
      request: { requestId: "r8", role: "beta", toolCall: { id: "gate-t2", title: "t2: paging" }, gate: { task: "t2" }, options: [{ optionId: "approve", name: "Approve", kind: "allow_once" }, { optionId: "reject", name: "Reject", kind: "reject_once" }] },
    },
  ]);
  const team = page.locator('.pane[data-pane="team"]');
  await team.locator('.permission[data-request-id="r7"]').getByRole("button", { name: "Allow once" }).click();
  assert.ok(await team.locator('.permission[data-request-id="r7"] button').first().isDisabled());
  const gate = team.locator('.permission[data-request-id="r8"]');
  assert.equal(await gate.locator(".permission-question").innerText(), "Approve task t2?");
  await gate.locator("input.feedback").fill("needs a cursor, not offsets");
  await gate.getByRole("button", { name: "Reject" }).click();
  assert.deepEqual((await posted()).slice(1), [
    { type: "permission", requestId: "r7", optionId: "allow-once" },
    { type: "permission", requestId: "r8", optionId: "reject", feedback: "needs a cursor, not offsets" },
  ]);
  await page.close();
});

test("@ in the prompt box offers the roles; Tab takes one, Enter sends", T, async () => {
  const { page, posted } = await open(420, 700);
  await replay(page, recorded.filter((m) => m.type === "agent-status"));
  const box = page.locator("form.prompt textarea");
  await box.click();
  await box.pressSequentially("@");
  assert.deepEqual(await page.locator(".mentions li").allInnerTexts(), ["@alpha", "@beta", "@architect", "@all"]);
  await box.pressSequentially("a");
  assert.deepEqual(await page.locator(".mentions li").allInnerTexts(), ["@alpha", "@architect", "@all"]);
  await box.press("ArrowDown");
  await box.press("Tab");
  assert.equal(await box.inputValue(), "@architect ");
  assert.ok(!(await page.locator(".mentions").isVisible()));
  await box.pressSequentially("plan paging");
  await box.press("Enter");
  assert.deepEqual((await posted()).slice(1), [{ type: "prompt", text: "@architect plan paging" }]);
  assert.equal(await box.inputValue(), "");
  await page.close();
});

test("the browser enforces the CSP: an injected inline script, handler or remote fetch does not run", T, async () => {
  const { page, violations } = await open(420, 700);
  const outcome = await page.evaluate(async () => {
    const w = window as unknown as Record<string, unknown>;
    const s = document.createElement("script");
    s.textContent = "window.__inline = 1";
    document.body.append(s);
    const img = document.createElement("img");
    img.setAttribute("src", "data:,x");
    img.setAttribute("onerror", "window.__handler = 1");
    document.body.append(img);
    let fetched = "no";
    try {
      await fetch("http://127.0.0.1:9/");
      fetched = "yes";
    } catch {
      fetched = "blocked";
    }
    await new Promise((r) => setTimeout(r, 100));
    return { inline: w.__inline ?? null, handler: w.__handler ?? null, fetched };
  });
  assert.deepEqual(outcome, { inline: null, handler: null, fetched: "blocked" });
  const seen = await violations();
  for (const directive of ["script-src-elem", "img-src", "connect-src"]) {
    assert.ok(seen.some((v) => v.startsWith(directive)), `${directive} reported: ${JSON.stringify(seen)}`);
  }
  await page.close();
});

test("split shows every pane side by side (the screenshot the README shows)", T, async () => {
  const { page, posted } = await open(1200, 760);
  await replay(page, recorded);
  await page.getByRole("button", { name: "Split" }).click();
  for (const pane of ["team", "alpha", "beta", "architect"]) {
    assert.ok(await page.locator(`.pane[data-pane="${pane}"]`).isVisible(), `${pane} is shown`);
  }
  const [a, b] = await Promise.all(["alpha", "beta"].map((p) => page.locator(`.pane[data-pane="${p}"]`).boundingBox()));
  assert.ok(a && b && a.y === b.y && b.x > a.x, "side by side");
  assert.deepEqual((await posted()).slice(1), [{ type: "layout", layout: "split" }]);
  // Each role's usage in its pane's header (from the recorded turns' usage).
  assert.equal(await page.locator('.pane[data-pane="alpha"] .usage').innerText(), "12.8k tokens");
  assert.equal(await page.locator('.pane[data-pane="team"] .usage').innerText(), "16.0k tokens");
  assert.equal(await page.getByRole("button", { name: "Tabs" }).count(), 1, "the toggle offers the way back");
  await mkdir(here("../test-artifacts"), { recursive: true });
  const shot = here("../test-artifacts/panel.png");
  await page.screenshot({ path: shot });
  if (process.env.UPDATE_SCREENSHOT === "1") await copyFile(shot, here("../media/panel.png"));
  await page.close();
});
