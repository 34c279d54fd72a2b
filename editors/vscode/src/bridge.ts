/**
 * One team session behind the panel, with no `vscode` import: the client and its
 * session, everything the panel has been sent (so a panel opened or reopened
 * later shows the whole session), the permission requests waiting on the user,
 * and what the page asks for. The VS Code host gives it a way to post to the
 * page and, optionally, a second place to ask (a notification); it does not know
 * how either is shown.
 */

import type * as acp from "@agentclientprotocol/sdk";
import { OurocodusClient, type ClientOptions, type PermissionAnswer, type PermissionRequest } from "./client.js";
import { PROXY_ROLE } from "./extensions.js";
import type { ModelEvent } from "./model.js";
import { Replay } from "./replay.js";
import { asFromPanel, type FromPanel, type Layout, type PermissionPrompt, type ToPanel } from "./webview/protocol.js";

/** Lines `first..last` (1-based, inclusive) of a file, as the user selected them. */
export interface Selection {
  path: string;
  first: number;
  last: number;
  text: string;
  languageId?: string;
}

/** ACP's content for a question about a selection: the words, then the lines as an embedded resource. */
export function selectionPrompt(text: string, selection?: Selection, label?: string): acp.ContentBlock[] {
  if (!selection) return [{ type: "text", text }];
  const where = `(selection: ${label ?? selection.path}, lines ${selection.first}-${selection.last})`;
  const uri = `${new URL(`file://${selection.path.startsWith("/") ? "" : "/"}${selection.path}`).href}#L${selection.first}-L${selection.last}`;
  const body = selection.text.endsWith("\n") ? selection.text : `${selection.text}\n`;
  return [
    { type: "text", text: text.trim() === "" ? where : `${text}\n\n${where}` },
    {
      type: "resource",
      resource: { uri, mimeType: selection.languageId ? `text/x-${selection.languageId}` : "text/plain", text: body },
    },
  ];
}

export interface BridgeOptions extends Omit<ClientOptions, "onPermission"> {
  /** The workspace the session is opened in. */
  cwd: string;
  layout?: Layout;
  /** Asks the user somewhere besides the panel (first answer wins); `undefined` means not answered there. */
  notify?: (request: PermissionRequest, signal: AbortSignal) => Promise<PermissionAnswer | undefined>;
  /** The user picked a layout in the page (the host saves it). */
  onLayout?: (layout: Layout) => void;
  /** The page's "Sessions" button: the host asks which session to open (`sessions()`, then `load()`). */
  onSessions?: () => void;
  /** How many messages a late panel is replayed at most (default 50,000; older ones are dropped first). */
  backlog?: number;
  /** And how many bytes of them (default 32 MiB). */
  backlogBytes?: number;
}

interface Waiting {
  prompt: PermissionPrompt;
  answer: (answer: PermissionAnswer) => void;
}

export class TeamBridge {
  private readonly panels = new Set<(message: ToPanel) => void>();
  private replay: Replay;
  private readonly waiting = new Map<string, Waiting>();
  private nextRequest = 1;
  /** Request ids differ from any earlier bridge's, so a page that saw those shows these. */
  private readonly requestPrefix = `r${globalThis.crypto.randomUUID().slice(0, 8)}-`;
  private layout: Layout;

  client!: OurocodusClient;
  sessionId!: string;

  private constructor(private readonly options: BridgeOptions) {
    this.layout = options.layout ?? "tabs";
    this.replay = this.newReplay();
  }

  /** Starts the proxy, opens a session in `cwd`, and lists the team's roles. */
  static async start(options: BridgeOptions): Promise<TeamBridge> {
    const bridge = new TeamBridge(options);
    const { notify: _n, onLayout: _l, onSessions: _s, backlog: _b, backlogBytes: _bb, layout: _y, ...clientOptions } = options;
    bridge.client = await OurocodusClient.start({
      ...clientOptions,
      onPermission: (request, signal) => bridge.permission(request, signal),
    });
    bridge.client.model.subscribe((event) => bridge.modelEvent(event));
    bridge.client.onAgentStatus((summary) => bridge.broadcast({ type: "agent-status", summary }));
    try {
      bridge.sessionId = (await bridge.client.newSession(options.cwd)).sessionId;
      for (const summary of await bridge.client.listAgents()) bridge.broadcast({ type: "agent-status", summary });
    } catch (error) {
      await bridge.client.close();
      throw error;
    }
    return bridge;
  }

  /** The roles the proxy knows, in its order. */
  roles(): string[] {
    return [...this.client.agents.keys()];
  }

  /**
   * Shows the session in a panel: its layout and everything sent so far, then
   * what comes. Returns a function that detaches it.
   */
  attach(post: (message: ToPanel) => void): () => void {
    post({ type: "config", layout: this.layout });
    this.replayTo(post);
    this.panels.add(post);
    return () => this.panels.delete(post);
  }

  private newReplay(): Replay {
    return new Replay(Math.max(100, this.options.backlog ?? 50_000), Math.max(64 * 1024, this.options.backlogBytes ?? 32 << 20));
  }

  /** The session so far, for one panel: what is kept, then what the dropped part may have held and still matters. */
  private replayTo(post: (message: ToPanel) => void): void {
    if (this.replay.trimmed > 0) post(this.trimNotice());
    for (const message of this.replay.messages()) post(message);
    // The page takes each of these again harmlessly.
    if (this.replay.trimmed > 0) {
      const tasks = this.client.model.sessions.get(this.sessionId)?.tasks;
      if (tasks) post({ type: "event", event: { sessionId: this.sessionId, kind: "tasks", entries: tasks } });
      for (const summary of this.client.agents.values()) post({ type: "agent-status", summary });
    }
    for (const { prompt } of this.waiting.values()) post({ type: "permission-request", request: prompt });
  }

  /** Acts on a message from the page; anything malformed is dropped. Errors become notices in the panel. */
  async receive(data: unknown): Promise<void> {
    const message = asFromPanel(data);
    if (!message) return;
    try {
      await this.act(message);
    } catch (error) {
      this.notice("error", `${message.type} failed`, error instanceof Error ? error.message : String(error));
    }
  }

  /** Asks the team (mentions in `text` route it), with a selection when there is one. Usage is sent after. */
  async ask(text: string, selection?: Selection, label?: string): Promise<acp.PromptResponse | undefined> {
    try {
      return await this.client.prompt(this.sessionId, selectionPrompt(text, selection, label));
    } catch (error) {
      this.notice("error", "The prompt failed", error instanceof Error ? error.message : String(error));
      return undefined;
    } finally {
      await this.sendUsage();
    }
  }

  /** The proxy's saved sessions of this workspace, newest first (empty when it runs without a store). */
  async sessions(): Promise<acp.SessionInfo[]> {
    const found: acp.SessionInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.client.listSessions(this.options.cwd, cursor);
      found.push(...page.sessions);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && found.length < 1000);
    return found;
  }

  /**
   * Shows an earlier session instead of the current one: panels are reset, then
   * sent its history as the proxy replays it, and it is the session prompts go to.
   */
  async load(sessionId: string, title?: string): Promise<void> {
    const previous = { sessionId: this.sessionId, replay: this.replay };
    // The panel shows one session: the one it leaves stops working (its questions answered cancelled).
    await this.cancel().catch(() => undefined);
    this.sessionId = sessionId;
    this.replay = this.newReplay();
    this.broadcast({ type: "reset", ...(title ? { title } : {}) });
    try {
      await this.client.loadSession(sessionId, this.options.cwd);
    } catch (error) {
      // Back to the session it showed, as it was.
      this.sessionId = previous.sessionId;
      this.replay = previous.replay;
      for (const post of this.panels) {
        post({ type: "reset" });
        this.replayTo(post);
      }
      this.notice("error", "The session could not be opened", error instanceof Error ? error.message : String(error));
      return;
    }
    for (const summary of await this.client.listAgents()) this.broadcast({ type: "agent-status", summary });
    await this.sendUsage();
  }

  /** Cancels the team's turn; the requests waiting on the user are answered `cancelled` first, as ACP asks. */
  cancel(): Promise<void> {
    for (const waiting of [...this.waiting.values()]) waiting.answer({ cancelled: true });
    return this.client.cancel(this.sessionId);
  }

  async restart(role: string): Promise<void> {
    await this.client.restart(role);
  }

  /** Requests still waiting on the user. */
  pendingRequests(): PermissionPrompt[] {
    return [...this.waiting.values()].map((w) => w.prompt);
  }

  async close(): Promise<void> {
    for (const waiting of this.waiting.values()) waiting.answer({ cancelled: true });
    this.panels.clear();
    await this.client.close();
  }

  private async act(message: FromPanel): Promise<void> {
    switch (message.type) {
      case "ready":
        return;
      case "permission":
        this.answer(message.requestId, { optionId: message.optionId, ...(message.feedback ? { feedback: message.feedback } : {}) });
        return;
      case "cancel":
        return this.cancel();
      case "restart":
        return this.restart(message.role);
      case "prompt":
        await this.ask(message.text);
        return;
      case "layout":
        this.layout = message.layout;
        this.options.onLayout?.(message.layout);
        return;
      case "sessions":
        this.options.onSessions?.();
        return;
    }
  }

  /** The client's permission callback: shown in every panel (and the host's notification); the first answer wins. */
  private permission(request: PermissionRequest, signal: AbortSignal): Promise<PermissionAnswer> {
    // A question from a session the panel no longer shows cannot be seen, so it is not allowed.
    if (request.sessionId !== this.sessionId) return Promise.resolve({ cancelled: true });
    const requestId = `${this.requestPrefix}${this.nextRequest++}`;
    const prompt: PermissionPrompt = {
      requestId,
      role: request.role,
      toolCall: request.toolCall,
      options: request.options,
      ...(request.gate ? { gate: request.gate } : {}),
    };
    return new Promise<PermissionAnswer>((resolve) => {
      const asked = new AbortController();
      const answer = (choice: PermissionAnswer) => {
        if (!this.waiting.delete(requestId)) return;
        asked.abort();
        signal.removeEventListener("abort", onAbort);
        this.broadcast({ type: "permission-settled", requestId, outcome: "optionId" in choice ? choice.optionId : "cancelled" });
        resolve(choice);
      };
      const onAbort = () => answer({ cancelled: true });
      this.waiting.set(requestId, { prompt, answer });
      signal.addEventListener("abort", onAbort);
      this.broadcast({ type: "permission-request", request: prompt });
      if (signal.aborted) return onAbort();
      this.options
        .notify?.(request, asked.signal)
        .then((choice) => choice && answer(choice))
        .catch(() => undefined);
    });
  }

  /** An answer from a panel; one for a request already settled (or never made) is ignored. */
  private answer(requestId: string, choice: { optionId: string; feedback?: string }): void {
    const waiting = this.waiting.get(requestId);
    if (!waiting || !waiting.prompt.options.some((o) => o.optionId === choice.optionId)) return;
    waiting.answer(choice);
  }

  /** Sends each role's usage so far; a proxy that cannot say is not an error worth showing. */
  private async sendUsage(): Promise<void> {
    try {
      this.broadcast({ type: "usage", usage: await this.client.usage(this.sessionId) });
    } catch {
      // An older proxy without `_ourocodus/usage`, or one that has exited: nothing to show.
    }
  }

  private modelEvent(event: ModelEvent): void {
    if (event.sessionId === this.sessionId) this.broadcast({ type: "event", event });
  }

  private notice(severity: "error" | "warning" | "info", title: string, description?: string): void {
    const notice = { severity, title, ...(description ? { description } : {}) };
    this.broadcast({ type: "event", event: { sessionId: this.sessionId, kind: "notice", role: PROXY_ROLE, notice } });
  }

  private trimNotice(): ToPanel {
    const title = `${this.replay.trimmed} earlier updates are not shown (the panel keeps the latest ${this.replay.maxMessages}, at most ${Math.round(this.replay.maxBytes / 1024)} KiB)`;
    return { type: "event", event: { sessionId: this.sessionId, kind: "notice", role: PROXY_ROLE, notice: { severity: "info", title } } };
  }

  /** Sends to every attached panel and keeps it for panels attached later. */
  private broadcast(message: ToPanel): void {
    this.replay.push(message);
    for (const post of this.panels) post(message);
  }
}
