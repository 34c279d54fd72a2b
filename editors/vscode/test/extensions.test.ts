/**
 * Every `_ourocodus/*` method and `_meta.ourocodus` field the client uses is in
 * docs/protocol-extensions.md, the one list of what Ourocodus adds to ACP.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { GATE_OPTIONS, GATE_PREFIX, META_FIELDS, METHODS, NOTIFICATIONS, PROXY_ROLE } from "../src/extensions.js";

const DOC = fileURLToPath(new URL("../../../docs/protocol-extensions.md", import.meta.url));

/** The code spans of a markdown text (`like this`). */
function codeSpans(markdown: string): string[] {
  return [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
}

/** The document's `_meta.ourocodus` section: from its heading to the next one. */
function metaSection(markdown: string): string {
  const start = markdown.indexOf("## `_meta.ourocodus`");
  if (start < 0) return "";
  const end = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The names the client uses that the document does not mention, each with why. */
export function undocumented(markdown: string): string[] {
  const spans = codeSpans(markdown);
  const missing: string[] = [];
  for (const method of [...Object.values(METHODS), ...Object.values(NOTIFICATIONS)]) {
    if (!spans.includes(method)) missing.push(`method ${method}`);
  }
  // A field is documented by a code span in the `_meta.ourocodus` section that
  // starts with it (`role: string`, `notice: { severity, title }`, `task`), or by
  // one anywhere that names it in full (`_meta.ourocodus.from`).
  const section = codeSpans(metaSection(markdown));
  for (const field of Object.values(META_FIELDS)) {
    const starts = new RegExp(`^${field}\\b`);
    const full = new RegExp(`^_meta\\.ourocodus\\.${field}\\b`);
    if (!section.some((s) => starts.test(s)) && !spans.some((s) => full.test(s))) {
      missing.push(`_meta.ourocodus field ${field}`);
    }
  }
  if (!spans.some((s) => s.startsWith(GATE_PREFIX))) missing.push(`gate tool call id ${GATE_PREFIX}tN`);
  for (const option of Object.values(GATE_OPTIONS)) {
    if (!spans.some((s) => s === option || s.startsWith(`${option} `))) missing.push(`gate option ${option}`);
  }
  if (!spans.some((s) => s.includes(`"${PROXY_ROLE}"`))) missing.push(`proxy role ${PROXY_ROLE}`);
  if (!spans.includes("<session>:<role>:<turn>")) missing.push("subagent session ids <session>:<role>:<turn>");
  return missing;
}

test("every extension the client uses is in docs/protocol-extensions.md", () => {
  assert.deepEqual(undocumented(readFileSync(DOC, "utf8")), []);
});

test("the check notices a name the document lacks", () => {
  const doc = readFileSync(DOC, "utf8");
  const withoutUsage = doc.replaceAll("`_ourocodus/usage`", "usage");
  assert.deepEqual(undocumented(withoutUsage), ["method _ourocodus/usage"]);
  const withoutFeedback = doc.replaceAll("_meta.ourocodus.feedback", "x");
  assert.deepEqual(undocumented(withoutFeedback), ["_meta.ourocodus field feedback"]);
  const withoutLabel = doc.replace("`label: true`", "label");
  assert.deepEqual(undocumented(withoutLabel), ["_meta.ourocodus field label"]);
});
