/**
 * The agents' `fs/*` requests served from VS Code's open documents: a read sees
 * the editor's unsaved text, a write to an open document goes through a
 * `WorkspaceEdit` (undoable, shown at once) and is saved; files not open are the
 * disk's. The proxy has already held each path to the role's directories.
 */

import type * as vscode from "vscode";
import { localFiles, type FileAccess } from "../fs.js";

export function documentFiles(api: typeof vscode): FileAccess {
  const open = (path: string) => api.workspace.textDocuments.find((doc) => doc.uri.scheme === "file" && doc.uri.fsPath === path);
  return {
    async read(path) {
      const doc = open(path);
      return doc ? doc.getText() : localFiles.read(path);
    },
    async write(path, content) {
      const doc = open(path);
      if (!doc) return localFiles.write(path, content);
      const edit = new api.WorkspaceEdit();
      const end = doc.lineAt(doc.lineCount - 1).range.end;
      edit.replace(doc.uri, new api.Range(new api.Position(0, 0), end), content);
      if (!(await api.workspace.applyEdit(edit))) throw new Error(`VS Code refused the edit to ${path}`);
      await doc.save();
    },
  };
}
