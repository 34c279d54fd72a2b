/**
 * The extension's entry point, as VS Code loads it (bundled into
 * `dist/extension.cjs`): hands the real `vscode` module to the glue.
 */

import * as vscode from "vscode";
import { activateWith, type Host } from "./host/activate.js";

let host: Host | undefined;

export function activate(context: vscode.ExtensionContext): void {
  host = activateWith(vscode, context);
}

export async function deactivate(): Promise<void> {
  await host?.dispose();
  host = undefined;
}
