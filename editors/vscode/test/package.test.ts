/**
 * What the .vsix carries (`vsce ls`, the same file list `vsce package` zips):
 * the two bundles, the page's stylesheet and the icon, the README and its
 * screenshots, the manifest; no sources, tests or node_modules.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

test("the .vsix holds the bundles, the page's assets, the README and the manifest, nothing else", { timeout: 60_000 }, () => {
  const vsce = fileURLToPath(new URL("../node_modules/@vscode/vsce/vsce", import.meta.url));
  const listed = execFileSync(process.execPath, [vsce, "ls", "--no-dependencies"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter((line) => line.trim() !== "")
    .sort();
  assert.deepEqual(listed, ["README.md", "dist/extension.cjs", "dist/webview.js", "media/code-server.png", "media/icon.svg", "media/panel.css", "media/panel.png", "package.json"]);
  // Every file the manifest and the glue name is in it.
  const manifest = JSON.parse(readFileSync(`${root}/package.json`, "utf8"));
  assert.ok(listed.includes(manifest.main.replace(/^\.\//, "")));
  assert.ok(listed.includes(manifest.contributes.viewsContainers.activitybar[0].icon));
});
