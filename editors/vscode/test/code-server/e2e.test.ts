/**
 * The packaged extension (`ourocodus.vsix`) installed into code-server, a real VS
 * Code workbench and extension host served to Debian's headless Chromium, with
 * the real `ourocodus` binary and fake agents behind it: the activity-bar
 * container, the webview view under VS Code's own webview CSP, a prompt with
 * `@` completion, a permission clicked on its card, Ask About Selection through
 * the Command Palette, its quick pick and input box. A screenshot goes to
 * `test-artifacts/code-server.png` (and `media/code-server.png` with
 * `UPDATE_SCREENSHOT=1`).
 *
 * Needs `test/code-server/install.sh` and `npm run package` first; skipped without
 * code-server unless `OUROCODUS_REQUIRE_CODE_SERVER=1` (as in `.ci/run`).
 */

import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Frame, type Page } from "playwright-core";
import { ourocodusBin, teamToml } from "../support.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const CODE_SERVER = here("./node_modules/.bin/code-server");
const VSIX = here("../../ourocodus.vsix");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const required = process.env.OUROCODUS_REQUIRE_CODE_SERVER === "1";
const skip = !existsSync(CODE_SERVER) && !required ? "code-server is not installed (bash test/code-server/install.sh)" : false;

let dir: string;
let server: ChildProcess | undefined;
let browser: Browser;
let origin: string;
let serverLog = "";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(VSIX), "package the extension first: npm run package");
  dir = await mkdtemp(join(tmpdir(), "ourocodus-code-server-"));
  const [data, extensions, workspace] = ["data", "extensions", "workspace"].map((d) => join(dir, d));
  await mkdir(join(data, "User"), { recursive: true });
  await mkdir(join(workspace, "src"), { recursive: true });
  await writeFile(join(workspace, "ourocodus.toml"), teamToml(["alpha", "beta"]));
  await writeFile(join(workspace, "src/a.rs"), "fn one() {}\nfn two() {}\n");
  await writeFile(
    join(data, "User/settings.json"),
    JSON.stringify({
      "ourocodus.path": ourocodusBin(),
      "ourocodus.args": ["--no-store"],
      "workbench.startupEditor": "none",
      "security.workspace.trust.enabled": false,
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "update.mode": "none",
      "telemetry.telemetryLevel": "off",
    }),
  );
  const dirs = ["--user-data-dir", data, "--extensions-dir", extensions];
  execFileSync(CODE_SERVER, [...dirs, "--install-extension", VSIX], { stdio: "pipe", timeout: 60_000 });
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  server = spawn(CODE_SERVER, [...dirs, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", workspace], {
    detached: true, // its own process group: the extension host, our proxy and its agents end with it
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${serverLog}`)), 30_000);
    const read = (chunk: Buffer) => {
      serverLog += chunk.toString();
      if (serverLog.includes("HTTP server listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    server!.stdout!.on("data", read);
    server!.stderr!.on("data", read);
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  if (server?.pid) {
    try {
      process.kill(-server.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(-server.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The frame holding the panel's page (VS Code nests a webview two frames deep). */
async function panelFrame(page: Page): Promise<Frame> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    for (const frame of page.frames()) {
      if (await frame.locator(".ourocodus-panel").count().catch(() => 0)) return frame;
    }
    await page.waitForTimeout(200);
  }
  throw new Error("the Ourocodus panel never appeared");
}

test("the installed .vsix in a real VS Code workbench: the view, a prompt, a permission click, Ask About Selection", { timeout: 120_000, skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /ourocodus/i.test(m.text())) errors.push(m.text());
  });
  await page.goto(`${origin}/?folder=${encodeURIComponent(join(dir, "workspace"))}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
  // The activity bar has the extension's container; its view is the panel.
  await page.locator('.activitybar .action-label[aria-label="Ourocodus"]').click();
  const panel = await panelFrame(page);
  await panel.locator('.tab[data-tab="beta"]').waitFor({ timeout: 30_000 });
  assert.deepEqual(await panel.locator(".tab .tab-name").allInnerTexts(), ["Team", "alpha", "beta"]);

  const box = panel.locator("form.prompt textarea");
  await box.click();
  await box.pressSequentially("@");
  assert.deepEqual(await panel.locator(".mentions li").allInnerTexts(), ["@alpha", "@beta", "@all"]);
  await box.press("Tab");
  await box.pressSequentially("alpha> say hello from code-server; alpha> tool call then ask permission execute as Bash ls");
  await box.press("Enter");
  const team = panel.locator('.pane[data-pane="team"]');
  await team.locator("button.permission-option").first().waitFor({ timeout: 30_000 });
  assert.deepEqual(await team.locator("button.permission-option").allInnerTexts(), ["Allow once", "Always allow", "Reject", "Always reject"]);
  await team.locator("button.permission-option", { hasText: "Allow once" }).click();
  await team.getByText("permission: allow-once").waitFor({ timeout: 30_000 });
  assert.match(await team.innerText(), /hello from code-server/);

  // Ask About Selection: open a file, select it, run the command from the palette.
  // (Keys typed while the webview has focus stay in the webview: focus the workbench first.)
  await page.locator(".part.editor").click();
  await page.keyboard.press("Control+P");
  await page.keyboard.type("a.rs");
  // Enter only once the file is listed (the workspace is searched first).
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "a.rs" }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("F1");
  await page.keyboard.type("Ourocodus: Ask About Selection");
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "Ask About Selection" }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "@beta" }).first().waitFor();
  await page.keyboard.type("@beta");
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget input").waitFor();
  await page.keyboard.type("say seen it");
  await page.keyboard.press("Enter");
  await panel.locator('.tab[data-tab="beta"]').click();
  const beta = panel.locator('.pane[data-pane="beta"]');
  await beta.getByText("seen it").first().waitFor({ timeout: 30_000 });
  assert.match(await beta.innerText(), /\(selection: src\/a\.rs, lines 1-2\)/);
  await panel.locator('.tab[data-tab="alpha"]').click();

  await mkdir(here("../../test-artifacts"), { recursive: true });
  const shot = here("../../test-artifacts/code-server.png");
  await page.screenshot({ path: shot });
  if (process.env.UPDATE_SCREENSHOT === "1") await copyFile(shot, here("../../media/code-server.png"));
  assert.deepEqual(errors, [], "no error from the extension in the workbench's console");
  await page.close();
});
