/**
 * A tool call's card: title, kind, status, locations, text and diffs (as a line
 * diff), plus a slot for permission buttons that re-renders leave alone.
 */

import type { ToolCallModel } from "../model.js";
import { lineDiff } from "./diff.js";
import { clear, el, token } from "./dom.js";

/** Creates an empty card for tool call `id`; `renderToolCard` fills it. */
export function createToolCard(doc: Document, id: string): HTMLElement {
  const card = el(doc, "div", "tool-card");
  card.dataset.toolCallId = id;
  card.append(el(doc, "div", "tool-body"), el(doc, "div", "tool-actions"));
  return card;
}

/** Re-renders the card's body from the call's latest state. */
export function renderToolCard(doc: Document, card: HTMLElement, call: Pick<ToolCallModel, "title" | "kind" | "status"> & Partial<ToolCallModel>): void {
  const body = card.querySelector<HTMLElement>(":scope > .tool-body")!;
  clear(body);
  const status = call.status ?? "pending";
  card.dataset.status = token(status);
  const header = el(doc, "div", "tool-header");
  header.append(el(doc, "span", "tool-title", call.title || "(untitled tool call)"));
  if (call.kind) header.append(el(doc, "span", "tool-kind", call.kind));
  header.append(el(doc, "span", `tool-status status-${token(status)}`, status));
  body.append(header);
  for (const location of call.locations ?? []) {
    body.append(el(doc, "div", "tool-location", location.line === undefined ? location.path : `${location.path}:${location.line}`));
  }
  for (const text of call.text ?? []) body.append(el(doc, "pre", "tool-text", text));
  for (const diff of call.diffs ?? []) {
    const box = el(doc, "div", "diff");
    box.append(el(doc, "div", "diff-path", diff.oldText === null ? `${diff.path} (new file)` : diff.path));
    const pre = el(doc, "pre", "diff-lines");
    for (const line of lineDiff(diff.oldText, diff.newText)) {
      const cls = line.op === "+" ? "diff-add" : line.op === "-" ? "diff-del" : "diff-same";
      pre.append(el(doc, "span", `diff-line ${cls}`, `${line.op} ${line.text}\n`));
    }
    box.append(pre);
    body.append(box);
  }
}
