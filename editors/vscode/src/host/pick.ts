/**
 * The small questions the commands ask in VS Code's own pickers: which role,
 * and what the editor's selection is (whole lines, 1-based, with its file).
 */

import type * as vscode from "vscode";
import type { Selection } from "../bridge.js";

/** A role name, `""` for the team (when offered), or `undefined` if the user dismissed the picker. */
export async function pickRole(api: typeof vscode, roles: string[], offer: { team: boolean }): Promise<string | undefined> {
  const items = roles.map((role) => ({ label: `@${role}`, role }));
  if (offer.team) items.unshift({ label: "The team", role: "" });
  const picked = await api.window.showQuickPick(items, { placeHolder: offer.team ? "Ask whom?" : "Which role?" });
  return picked?.role;
}

/** The selected lines of `editor` (the cursor's line when nothing is selected). */
export function selectionOf(api: typeof vscode, editor: vscode.TextEditor): Selection | undefined {
  const doc = editor.document;
  if (doc.uri.scheme !== "file") return undefined;
  const { start, end } = editor.selection;
  // A selection ending at column 0 of a line does not take that line.
  const lastLine = end.line > start.line && end.character === 0 ? end.line - 1 : end.line;
  const range = new api.Range(start.line, 0, lastLine, doc.lineAt(lastLine).range.end.character);
  return { path: doc.uri.fsPath, first: start.line + 1, last: lastLine + 1, text: doc.getText(range), languageId: doc.languageId };
}
