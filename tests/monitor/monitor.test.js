/**
 * The hub's web monitor in headless Chromium (Debian's `/usr/bin/chromium`, driven
 * by `playwright-core`; never a downloaded browser), against the real binary:
 * `ourocodus serve` with a team of fake agents, its page opened from the one-time
 * login link it prints (the session split between an HttpOnly cookie and a page key
 * kept in localStorage; a page that lost its key says how to log in again; a key
 * another site puts in the address is tried, refused and never kept) and from
 * a `#tkn=` link, and what a user sees and clicks: sessions, a prompt with an
 * @mention streamed into the role's transcript and the event stream, a permission
 * request answered, an approval gate approved on the task board, a restart, the
 * page's CSP as the browser enforces it. Screenshots go to `artifacts/` (with
 * `UPDATE_SCREENSHOT=1` also `docs/monitor.png`, the one the README shows), and the
 * time to render a session of 10,000 events is printed (never asserted). The hub's
 * log is `artifacts/hub.log`.
 *
 * Without Chromium or the binary the tests are skipped, unless
 * `OUROCODUS_REQUIRE_BROWSER=1` (as in `.ci/run`), which makes either a failure.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = resolve(here, "../..");
const BIN = process.env.OUROCODUS_BIN ?? join(repo, "target/release/ourocodus");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const required = process.env.OUROCODUS_REQUIRE_BROWSER === "1";
const missing = [CHROMIUM, BIN].filter((path) => !existsSync(path));
const skip = missing.length > 0 && !required ? `missing ${missing.join(", ")} (set OUROCODUS_REQUIRE_BROWSER=1 to fail instead)` : false;
const T = { timeout: 90_000, skip };
const ROLES = ["architect", "backend"];
const artifacts = join(here, "artifacts");

let hub;
let browser;
let page;

/** A team whose roles are the fake agent, each named after its role. */
function teamToml() {
  let toml = `[defaults]\ncommand = ${JSON.stringify(BIN)}\nroute = [${JSON.stringify(ROLES[0])}]\n`;
  for (const role of ROLES) {
    toml += `\n[roles.${role}]\npersona = "the ${role} role"\nargs = ["fake-agent", "--name", ${JSON.stringify(role)}]\n`;
  }
  return toml;
}

/** Starts `ourocodus serve` on a free port and reads the links it prints: the
 * monitor's one-time login link, and the token (`#tkn=` links open the page too). */
async function startHub() {
  const dir = mkdtempSync(join(tmpdir(), "ourocodus-monitor-"));
  for (const sub of ["config", "data", "project"]) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, "team.toml"), teamToml());
  // Its stdout is a pipe: the login link only when asked for.
  const args = ["serve", "--listen", "127.0.0.1:0", "--print-login-link", "--config", join(dir, "team.toml"), "--store", join(dir, "store.db")];
  const env = { ...process.env, XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "data") };
  mkdirSync(artifacts, { recursive: true });
  const log = openSync(join(artifacts, "hub.log"), "w");
  const child = spawn(BIN, args, { cwd: join(dir, "project"), env, stdio: ["ignore", "pipe", log] });
  const lines = createInterface({ input: child.stdout });
  const printed = [];
  const monitor = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no monitor link in 20s: ${printed.join("\n")}`)), 20_000);
    child.on("exit", (code) => fail(new Error(`serve exited (${code}): ${printed.join("\n")}`)));
    lines.on("line", (line) => {
      printed.push(line);
      const link = /^monitor: (http:\/\/\S+)$/.exec(line);
      if (link) {
        clearTimeout(timer);
        done(link[1]);
      }
    });
  });
  assert.match(printed[0], /^ourocodus hub on ws:\/\/127\.0\.0\.1:\d+ /);
  assert.match(monitor, /^http:\/\/127\.0\.0\.1:\d+\/login\?code=[0-9a-f]{64}$/);
  // The token is never printed; clients read its file, as `ourocodus token` does.
  const token = readFileSync(join(dir, "config", "ourocodus", "token"), "utf8").trim();
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.ok(printed.every((line) => !line.includes(token)), "the token is not on stdout");
  const origin = new URL(monitor).origin;
  return { child, dir, login: monitor, monitor: `${origin}/#tkn=${token}`, token, origin };
}

async function stopHub() {
  if (!hub) return;
  const exited = new Promise((done) => hub.child.once("exit", done));
  hub.child.kill("SIGTERM");
  const timer = setTimeout(() => hub.child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
  rmSync(hub.dir, { recursive: true, force: true });
}

/** A page with CSP violations and dialogs collected. */
async function openPage(url) {
  const opened = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  opened.on("dialog", (dialog) => void dialog.dismiss());
  await opened.addInitScript(`
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.effectiveDirective));
  `);
  const response = await opened.goto(url);
  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  return { opened, response };
}

const chat = (role) => page.locator(`.chat[data-role="${role}"]`);

/** Starts a session from the page and waits until it is the one shown, its chats empty. */
async function newSession() {
  const before = await page.locator(".session[data-uri]").count();
  await page.getByRole("button", { name: "New session" }).click();
  await page.waitForFunction(
    (n) => {
      const sessions = document.querySelectorAll(".session[data-uri]");
      const shown = sessions.length === n + 1 && sessions[0].classList.contains("selected");
      return shown && document.querySelector('.chat[data-role="lead"]') && !document.querySelector(".chat .turn");
    },
    before,
    { timeout: 15_000 },
  );
}

/** Types a prompt into the box and sends it with Enter. */
async function prompt(text) {
  const box = page.locator("#prompt");
  await box.fill(text);
  await box.press("Escape");
  await box.press("Enter");
}

async function shot(name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  if (skip) return;
  hub = await startHub();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  await stopHub();
});

test("the printed one-time link logs the page in with an HttpOnly cookie and a page key in localStorage, and works once", T, async () => {
  const { opened, response } = await openPage(hub.login);
  assert.equal(response.status(), 200);
  assert.equal(new URL(opened.url()).pathname, "/", "redirected to the monitor");
  assert.equal(new URL(opened.url()).search, "", "the code is gone from the address bar");
  assert.equal(new URL(opened.url()).hash, "", "the page key is gone from the address bar");
  assert.equal(await opened.evaluate(() => sessionStorage.getItem("ourocodus.hub.token")), null, "no token: the login let it in");
  const pageKey = await opened.evaluate(() => localStorage.getItem("ourocodus.hub.pageKey"));
  assert.match(pageKey ?? "", /^[0-9a-f]{64}$/, "the page key is kept for this origin");
  // The key the login's redirect put in the address (browser history may keep it) was
  // renewed as soon as it let the page in: it opens nothing more, the kept one does.
  const redirect = await response.request().redirectedFrom()?.response();
  assert.equal(redirect?.status(), 303);
  const urlKey = new URL(redirect.headers()["location"], hub.origin).hash.replace(/^#sk=/, "");
  assert.match(urlKey, /^[0-9a-f]{64}$/);
  assert.notEqual(pageKey, urlKey, "the key kept is a renewed one");
  const opens = (key) =>
    opened.evaluate(
      (key) =>
        new Promise((done) => {
          const socket = new WebSocket(`ws://${location.host}/?sk=${key}`);
          socket.onopen = () => {
            socket.close();
            done(true);
          };
          socket.onerror = () => done(false);
        }),
      key,
    );
  assert.equal(await opens(urlKey), false, "the key from the address opens nothing more");
  assert.equal(await opens(pageKey), true, "the renewed key opens the socket");
  const cookies = await opened.context().cookies();
  assert.equal(cookies.length, 1, JSON.stringify(cookies.map((c) => c.name)));
  const [cookie] = cookies;
  assert.equal(cookie.name, "ourocodus_session");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.ok(cookies.every((c) => !c.value.includes(pageKey) && !c.name.includes(pageKey)), "the page key is in no cookie");
  assert.notEqual(cookie.value, pageKey);
  assert.equal(await opened.evaluate(() => document.cookie), "", "scripts never see it");
  await opened.locator('#agents tr[data-role="backend"]').waitFor();
  await opened.reload();
  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  assert.equal(new URL(opened.url()).hash, "", "connected again on a reload, from storage");

  // Storage cleared, the cookie kept: the cookie alone opens nothing, and the page says what to do.
  await opened.evaluate(() => localStorage.clear());
  await opened.reload();
  await opened.waitForFunction(() => /ourocodus login-link/.test(document.querySelector("#connection").textContent));
  assert.equal(await opened.getAttribute("#connection", "data-state"), "error");
  assert.match(await opened.textContent("#connection"), /not logged in/);
  assert.equal((await opened.context().cookies()).length, 1, "the cookie is still there");
  await opened.close();
  const again = await browser.newPage();
  const refused = await again.goto(hub.login);
  assert.equal(refused.status(), 401);
  assert.match(await again.textContent("body"), /ourocodus login-link/);
  await again.close();
});

/** A new one-time login link, asked of the hub as `ourocodus login-link` does. */
async function newLoginLink() {
  const asked = await cli(["login-link"]);
  assert.equal(asked.code, 0, asked.out);
  const link = /http:\/\/\S+\/login\?code=[0-9a-f]{64}/.exec(asked.out)?.[0];
  assert.ok(link, asked.out);
  return link;
}

const storedKey = (on) => on.evaluate(() => localStorage.getItem("ourocodus.hub.pageKey"));

/** Waits until the page has tried to connect: open, or an error it shows after a refusal. */
async function settled(on) {
  await on.waitForFunction(() => {
    const shown = document.querySelector("#connection");
    return shown.dataset.state === "open" || /not connected|not logged in/.test(shown.textContent);
  }, null, { timeout: 15_000 });
}

test("a page key another site puts in the address is tried, refused and never stored: the monitor stays logged in, and a real new login replaces the key", T, async () => {
  // One browser context: its pages share the cookie and localStorage, as a browser's tabs do.
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
  const opened = await context.newPage();
  await opened.goto(await newLoginLink());
  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  const good = await storedKey(opened);
  assert.match(good ?? "", /^[0-9a-f]{64}$/, "the login's page key is kept");

  // What any site can do with window.open: the same browser, the monitor's origin, a key of its own.
  const forged = await context.newPage();
  await forged.goto(`${hub.origin}/#sk=${"0".repeat(64)}`);
  assert.equal(new URL(forged.url()).hash, "", "the fragment is gone from the address bar at once");
  await settled(forged);
  assert.equal(await storedKey(forged), good, "the refused key never replaced the good one");
  assert.equal(await forged.getAttribute("#connection", "data-state"), "open", "refused, it connected with the kept key");
  await forged.close();

  await opened.reload();
  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  await opened.locator('#agents tr[data-role="backend"]').waitFor({ timeout: 15_000 });
  assert.equal(await storedKey(opened), good);

  // A new login in the same browser: its key, let in, replaces the old one (its cookie did too).
  const relogin = await context.newPage();
  await relogin.goto(await newLoginLink());
  await relogin.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  const fresh = await storedKey(relogin);
  assert.match(fresh ?? "", /^[0-9a-f]{64}$/);
  assert.notEqual(fresh, good, "the new login's key is kept in place of the old one");
  await relogin.close();
  await opened.reload();
  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  await context.close();
});

test("the page takes the token from its fragment, forgets the fragment, and starts a session", T, async () => {
  const { opened, response } = await openPage(hub.monitor);
  page = opened;
  const csp = response.headers()["content-security-policy"];
  assert.ok(csp.includes(`connect-src 'self' ws://${new URL(hub.origin).host}`), csp);
  assert.equal(new URL(page.url()).hash, "", "the token is gone from the address bar");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("ourocodus.hub.token")), hub.token);
  await newSession();
  for (const role of ["lead", ...ROLES]) await chat(role).waitFor();
  await page.locator('#agents tr[data-role="backend"]').waitFor();
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
});

test("a prompt with an @mention streams the role's reply, as text, into its transcript and the event stream", T, async () => {
  const box = page.locator("#prompt");
  await box.fill("");
  await box.pressSequentially("@ba");
  await page.locator('.completion[data-role="backend"]').waitFor();
  await box.press("Tab");
  assert.equal(await box.inputValue(), "@backend ");
  await box.pressSequentially("echo hello <script>window.__pwned=1</script> <img src=x onerror=window.__pwned=2> world");
  await box.press("Enter");
  const reply = chat("backend").locator(".text", { hasText: "world" });
  await reply.waitFor({ timeout: 20_000 });
  const text = await reply.last().textContent();
  assert.ok(text.includes("<script>window.__pwned=1</script>"), text);
  assert.equal(await page.locator(".chats script, .chats img, .events script").count(), 0, "agent text is never markup");
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.locator('.event[data-role="backend"][data-type="chat/delta"]').first().waitFor();
  assert.ok((await page.locator(".event .seq").first().textContent()).match(/^\d+$/));
  await page.selectOption("#filter-role", "backend");
  const roles = await page.locator(".event .event-role").allTextContents();
  assert.ok(roles.length > 0 && roles.every((role) => role === "backend"), roles.join(","));
  await page.selectOption("#filter-kind", "chat/delta");
  const kinds = await page.locator(".event .event-type").allTextContents();
  assert.ok(kinds.length > 0 && kinds.every((kind) => kind === "chat/delta"), kinds.join(","));
  await page.selectOption("#filter-role", "");
  await page.selectOption("#filter-kind", "");
  await shot("reply");
});

test("a permission request is answered by clicking one of its options", T, async () => {
  await prompt("@backend ask permission execute as Bash cargo test");
  const request = page.locator(".permission");
  await request.first().waitFor({ timeout: 20_000 });
  await shot("permission");
  await request.first().locator('.option[data-option="allow-once"]').click();
  await chat("backend").getByText("permission: allow-once").waitFor({ timeout: 20_000 });
  await page.locator(".permission").first().waitFor({ state: "detached", timeout: 10_000 });
});

test("a task that needs approval waits in review, is rejected with feedback, then approved from the board", T, async () => {
  const plan = [
    String.raw`mcp delegate {"role": "backend", "title": "api", "requires_approval": true, "description": "mcp complete_task {\"id\": \"t1\", \"summary\": \"api done\"}"}`,
    String.raw`mcp delegate {"role": "backend", "title": "docs", "depends_on": ["t1"], "description": "say docs written"}`,
  ].join("; ");
  await prompt(`@architect ${plan}`);
  const t1 = page.locator('.column[data-status="review"] .task[data-task="t1"]');
  await t1.waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('.task[data-task="t2"] .deps').textContent(), "after t1");
  await shot("review");
  // Rejected: back to its role, whose next prompt is the feedback (a script for the fake agent).
  await t1.locator(".feedback").fill(String.raw`mcp complete_task {"id": "t1", "summary": "second try"}`);
  await t1.getByRole("button", { name: "Reject" }).click();
  await page.locator('.column[data-status="review"] .task[data-task="t1"] .summary', { hasText: "second try" }).waitFor({ timeout: 20_000 });
  await t1.getByRole("button", { name: "Approve" }).click();
  await page.locator('.column[data-status="done"] .task[data-task="t1"]').waitFor({ timeout: 20_000 });
  // The gate asked as a permission request is settled by the approval.
  await page.locator('.permission[data-tool-call="ourocodus-gate-t1"]').waitFor({ state: "detached", timeout: 10_000 });
  await chat("backend").getByText("docs written").waitFor({ timeout: 20_000 });
});

test("Cancel stops the running turn", T, async () => {
  await prompt("@backend say started; sleep 20s; say too late");
  await chat("backend").getByText("started").waitFor({ timeout: 20_000 });
  const cancel = page.getByRole("button", { name: "Cancel" });
  await page.waitForFunction(() => !document.querySelector("#cancel").disabled, null, { timeout: 10_000 });
  await cancel.click();
  await chat("lead").locator('.turn[data-state="cancelled"]').last().waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector("#cancel").disabled, null, { timeout: 10_000 });
  assert.equal(await chat("backend").getByText("too late").count(), 0);
});

test("restarting a role from the agents table counts one more restart", T, async () => {
  const row = page.locator('#agents tr[data-role="backend"]');
  await page.locator('#agents tr[data-role="backend"] .status[data-status="idle"]').waitFor({ timeout: 20_000 });
  const before = Number(await row.locator(".restarts").textContent());
  await row.getByRole("button", { name: "Restart" }).click();
  await page.waitForFunction((n) => Number(document.querySelector('#agents tr[data-role="backend"] .restarts')?.textContent) === n, before + 1, { timeout: 20_000 });
  await page.locator('#agents tr[data-role="backend"] .status[data-status="idle"]').waitFor({ timeout: 20_000 });
});

/** Runs `ourocodus ARGS` against the hub; resolves with its exit code and output. */
function cli(args) {
  const env = { ...process.env, OUROCODUS_HUB: new URL(hub.origin).host, OUROCODUS_TOKEN: hub.token, NO_COLOR: "1" };
  const child = spawn(BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return new Promise((done) => child.on("exit", (code) => done({ code, out })));
}

test("a page whose connection drops catches up with reconnect: what was said meanwhile shows once, and its prompts go through after", T, async () => {
  const opened = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  const routes = [];
  const fromPage = [];
  let away = false;
  // Every socket of this page passes through here: the test can cut it, and see what the page sends.
  await opened.routeWebSocket(/.*/, (ws) => {
    if (away) return ws.close({ code: 1001, reason: "test: the network is gone" });
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      fromPage.push(String(message));
      server.send(message);
    });
    routes.push({ ws, server });
  });
  await opened.goto(hub.monitor);
  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 15_000 });
  const backend = opened.locator('.chat[data-role="backend"]');
  await backend.waitFor({ timeout: 15_000 });
  await opened.locator("body[data-ready=true]").waitFor({ timeout: 15_000 });
  const say = async (text) => {
    const box = opened.locator("#prompt");
    await box.fill(`@backend say ${text}`);
    await box.press("Escape");
    await box.press("Enter");
    await backend.locator(".text", { hasText: text }).first().waitFor({ timeout: 20_000 });
  };
  await say("typed before the drop");

  away = true;
  await routes[0].ws.close({ code: 1001, reason: "test: the network is gone" });
  await routes[0].server.close();
  await opened.locator("#connection[data-state=error]").waitFor({ timeout: 10_000 });
  const sent = await cli(["send", "--role", "backend", "say said while away"]);
  assert.equal(sent.code, 0, sent.out);
  const before = fromPage.length;
  away = false;

  await opened.locator("#connection[data-state=open]").waitFor({ timeout: 30_000 });
  await backend.locator(".text", { hasText: "said while away" }).first().waitFor({ timeout: 15_000 });
  assert.equal(await backend.locator(".text", { hasText: "said while away" }).count(), 1, "shown once");
  const methods = fromPage.slice(before).map((frame) => JSON.parse(frame).method);
  assert.ok(methods.includes("reconnect"), methods.join(","));
  assert.ok(!methods.includes("initialize"), `resumed, not started over: ${methods.join(",")}`);

  // Its dispatches count on from where they were, so the hub takes them as new.
  await say("typed after the drop");
  await opened.close();
});

test("the page's policy blocks an injected inline script", T, async () => {
  const ran = await page.evaluate(async () => {
    const script = document.createElement("script");
    script.textContent = "window.__inline = 1";
    document.body.append(script);
    await new Promise((done) => setTimeout(done, 100));
    return window.__inline;
  });
  assert.equal(ran, undefined);
  assert.ok((await page.evaluate(() => window.__violations)).includes("script-src-elem"));
  await shot("monitor");
  if (process.env.UPDATE_SCREENSHOT === "1") copyFileSync(join(artifacts, "monitor.png"), join(repo, "docs/monitor.png"));
});

test("a session of 10,000 events loads and renders (time printed, not asserted)", T, async () => {
  await newSession();
  await prompt("@backend stream 10000 chunks of 40 bytes");
  const last = (on) => on.locator('.chat[data-role="backend"] .text', { hasText: "#10000 " });
  const streamed = Date.now();
  await last(page).waitFor({ timeout: 120_000 });
  console.log(`monitor: 10,000 chunks streamed live and rendered in ${Date.now() - streamed} ms`);
  const started = Date.now();
  const { opened } = await openPage(hub.monitor);
  await last(opened).waitFor({ timeout: 120_000 });
  const rendered = Date.now() - started;
  const events = await opened.evaluate(() => performance.getEntriesByType("navigation")[0]?.domContentLoadedEventEnd ?? 0);
  console.log(`monitor: page load with a session of 10,000 events: first full render in ${rendered} ms (DOMContentLoaded at ${Math.round(events)} ms)`);
  await opened.close();
});
