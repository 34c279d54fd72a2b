/**
 * The extension host's glue: settings, commands, the panel's webview view, the
 * log, and the open documents as the agents' files. Takes the `vscode` module as
 * a parameter (`src/extension.ts` passes the real one), so the glue can be driven
 * by a test double; the session itself is the `TeamBridge`'s.
 */

import type * as vscode from "vscode";
import { TeamBridge } from "../bridge.js";
import type { PermissionAnswer, PermissionRequest } from "../client.js";
import { newNonce, panelHtml } from "../webview/html.js";
import { LAYOUTS, type Layout } from "../webview/protocol.js";
import { PROXY_ROLE } from "../extensions.js";
import { documentFiles } from "./files.js";
import { pickRole, selectionOf } from "./pick.js";

export type VsCode = typeof vscode;

export const VIEW = "ourocodus.panel";
export const COMMANDS = {
  open: "ourocodus.openPanel",
  ask: "ourocodus.askSelection",
  cancel: "ourocodus.cancel",
  restart: "ourocodus.restartRole",
  log: "ourocodus.showLog",
  sessions: "ourocodus.openSession",
} as const;

/** The settings under `ourocodus.*`, with their defaults. */
export interface Settings {
  path: string;
  args: string[];
  layout: Layout;
}

export function readSettings(api: VsCode): Settings {
  const config = api.workspace.getConfiguration("ourocodus");
  const path = config.get<string>("path");
  const args = config.get<unknown>("args");
  const layout = config.get<string>("layout");
  return {
    path: typeof path === "string" && path.trim() !== "" ? path : "ourocodus",
    args: Array.isArray(args) ? args.filter((a): a is string => typeof a === "string") : [],
    layout: LAYOUTS.includes(layout as Layout) ? (layout as Layout) : "tabs",
  };
}

export class Host implements vscode.WebviewViewProvider {
  readonly log: vscode.LogOutputChannel;
  private bridge?: Promise<TeamBridge>;
  private view?: vscode.WebviewView;
  /** The bridge the view's page is fed by, and how to stop that. */
  private attached?: { bridge: TeamBridge; detach: () => void };

  constructor(
    private readonly api: VsCode,
    private readonly context: vscode.ExtensionContext,
  ) {
    this.log = api.window.createOutputChannel("Ourocodus", { log: true });
  }

  /** The running team, started on first use; a failed start is reported and retried on the next use. */
  team(): Promise<TeamBridge> {
    this.bridge ??= this.start().catch((error: unknown) => {
      this.bridge = undefined;
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`ourocodus did not start: ${message}`);
      void this.api.window.showErrorMessage(`Ourocodus did not start: ${message}`, "Show Log").then((choice) => {
        if (choice) this.log.show();
      });
      throw error;
    });
    return this.bridge;
  }

  private async start(): Promise<TeamBridge> {
    const settings = readSettings(this.api);
    const cwd = this.api.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
    this.log.info(`starting ${settings.path} acp ${settings.args.join(" ")} in ${cwd}`);
    const bridge = await TeamBridge.start({
      command: settings.path,
      args: settings.args,
      cwd,
      layout: settings.layout,
      files: documentFiles(this.api),
      clientInfo: { name: "ourocodus-vscode", version: String(this.context.extension.packageJSON.version ?? "0") },
      onStderr: (line) => this.log.info(`[proxy] ${line}`),
      notify: (request, signal) => this.notify(request, signal),
      onSessions: () => void this.openSession(),
      onLayout: (layout) => {
        void this.api.workspace.getConfiguration("ourocodus").update("layout", layout, this.api.ConfigurationTarget.Global);
      },
    });
    this.log.info(`ourocodus started (pid ${bridge.client.pid ?? "?"})`);
    void bridge.client.exited.then((exit) => {
      const how = `ourocodus exited (${exit.signal ?? exit.code}); the next prompt starts it again`;
      this.log.warn(how);
      this.bridge = undefined;
      if (this.attached?.bridge === bridge) {
        const notice = { severity: "warning" as const, title: how };
        void this.view?.webview.postMessage({ type: "event", event: { sessionId: bridge.sessionId, kind: "notice", role: PROXY_ROLE, notice } });
      }
    });
    // A page already open follows the new team (after a restart of the proxy).
    if (this.view && this.attached) this.attach(this.view, bridge, true);
    return bridge;
  }

  /** While the panel is not visible, a permission request is also a notification with its options as buttons. */
  private async notify(request: PermissionRequest, signal: AbortSignal): Promise<PermissionAnswer | undefined> {
    if (this.view?.visible) return undefined;
    const question = request.gate ? `Approve task ${request.gate.task}: ${request.toolCall.title}?` : `${request.role} asks: ${request.toolCall.title}`;
    const picked = await this.api.window.showInformationMessage(question, ...request.options.map((o) => o.name));
    if (signal.aborted || picked === undefined) return undefined;
    const option = request.options.find((o) => o.name === picked);
    return option ? { optionId: option.optionId } : undefined;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = this.api.Uri.joinPath(this.context.extensionUri, "dist");
    const media = this.api.Uri.joinPath(this.context.extensionUri, "media");
    view.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    view.webview.html = panelHtml({
      cspSource: view.webview.cspSource,
      nonce: newNonce(),
      scriptUri: view.webview.asWebviewUri(this.api.Uri.joinPath(dist, "webview.js")).toString(),
      styleUri: view.webview.asWebviewUri(this.api.Uri.joinPath(media, "panel.css")).toString(),
    });
    const received = view.webview.onDidReceiveMessage(async (message: unknown) => {
      let bridge: TeamBridge;
      try {
        bridge = await this.team();
      } catch (error) {
        const description = error instanceof Error ? error.message : String(error);
        const notice = { severity: "error" as const, title: "Ourocodus did not start", description };
        void view.webview.postMessage({ type: "event", event: { sessionId: "", kind: "notice", role: PROXY_ROLE, notice } });
        return;
      }
      if ((message as { type?: unknown })?.type === "ready") {
        // A (re)loaded page: it gets the session so far, then what comes.
        this.attach(view, bridge, false);
        return;
      }
      // A message for a team that has since ended goes to the one now running, and the
      // page is switched over to it first.
      if (this.attached?.bridge !== bridge) this.attach(view, bridge, true);
      await bridge.receive(message);
    });
    view.onDidDispose(() => {
      this.attached?.detach();
      this.attached = undefined;
      received.dispose();
      if (this.view === view) this.view = undefined;
    });
  }

  /** Feeds the view's page from `bridge` (emptied first when it showed another team). */
  private attach(view: vscode.WebviewView, bridge: TeamBridge, reset: boolean): void {
    this.attached?.detach();
    if (reset) void view.webview.postMessage({ type: "reset" });
    const detach = bridge.attach((m) => void view.webview.postMessage(m));
    this.attached = { bridge, detach };
  }

  async openPanel(): Promise<void> {
    await this.api.commands.executeCommand(`${VIEW}.focus`);
  }

  /** Asks a role (picked) or the team about the editor's selection, with its file and lines. */
  async askSelection(): Promise<void> {
    const editor = this.api.window.activeTextEditor;
    const bridge = await this.team();
    const role = await pickRole(this.api, bridge.roles(), { team: true });
    if (role === undefined) return;
    const question = await this.api.window.showInputBox({ prompt: role ? `Ask @${role}` : "Ask the team", placeHolder: "What about it?" });
    if (question === undefined) return;
    const selection = editor ? selectionOf(this.api, editor) : undefined;
    await this.openPanel();
    const text = role ? `@${role} ${question}` : question;
    await bridge.ask(text, selection, selection ? this.api.workspace.asRelativePath(selection.path) : undefined);
  }

  /** Picks one of the workspace's saved sessions and shows it in the panel, history first. */
  async openSession(): Promise<void> {
    const bridge = await this.team();
    const sessions = (await bridge.sessions()).filter((s) => s.sessionId !== bridge.sessionId);
    if (sessions.length === 0) {
      void this.api.window.showInformationMessage("Ourocodus: no earlier session in this workspace.");
      return;
    }
    const items = sessions.map((s) => ({ label: s.title ?? s.sessionId, description: s.updatedAt ?? "", detail: s.sessionId, sessionId: s.sessionId }));
    const picked = await this.api.window.showQuickPick(items, { placeHolder: "Open which session?" });
    if (!picked) return;
    await this.openPanel();
    await bridge.load(picked.sessionId, picked.label);
  }

  async cancel(): Promise<void> {
    if (this.bridge) await (await this.bridge).cancel();
  }

  async restartRole(role?: string): Promise<void> {
    const bridge = await this.team();
    const picked = typeof role === "string" ? role : await pickRole(this.api, bridge.roles(), { team: false });
    if (!picked) return;
    try {
      await bridge.restart(picked);
      this.log.info(`restarted ${picked}`);
    } catch (error) {
      void this.api.window.showErrorMessage(`Restarting ${picked} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async dispose(): Promise<void> {
    const bridge = this.bridge;
    this.bridge = undefined;
    if (bridge) await (await bridge.catch(() => undefined))?.close();
  }
}

/** Registers the view, the commands and the log; returns the host (for `deactivate` and tests). */
export function activateWith(api: VsCode, context: vscode.ExtensionContext): Host {
  const host = new Host(api, context);
  context.subscriptions.push(
    host.log,
    api.window.registerWebviewViewProvider(VIEW, host, { webviewOptions: { retainContextWhenHidden: true } }),
    api.commands.registerCommand(COMMANDS.open, () => host.openPanel()),
    api.commands.registerCommand(COMMANDS.ask, () => host.askSelection()),
    api.commands.registerCommand(COMMANDS.cancel, () => host.cancel()),
    api.commands.registerCommand(COMMANDS.restart, (role?: unknown) => host.restartRole(typeof role === "string" ? role : undefined)),
    api.commands.registerCommand(COMMANDS.log, () => host.log.show()),
    api.commands.registerCommand(COMMANDS.sessions, () => host.openSession()),
  );
  return host;
}
