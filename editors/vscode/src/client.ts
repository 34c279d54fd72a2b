/**
 * The extension's ACP client for Ourocodus (no `vscode` import): starts
 * `ourocodus acp`, speaks ACP through the official TypeScript SDK, answers the
 * proxy's requests (permissions through a callback, files through `FileAccess`),
 * calls the `_ourocodus/*` methods, and keeps what the proxy streams as a typed
 * model (`TeamModel`) sorted by role.
 */

import * as acp from "@agentclientprotocol/sdk";
import { localFiles, sliceLines, type FileAccess } from "./fs.js";
import { GATE_PREFIX, META_FIELDS, META_KEY, METHODS, NOTIFICATIONS, PROXY_ROLE, isObject, ourMeta } from "./extensions.js";
import { TeamModel } from "./model.js";
import { ProxyProcess, type Exit, type ProcessOptions } from "./process.js";
import type { AgentSummary, MergeResult, Task, TasksResult, UsageResult } from "./types.js";

export interface PermissionOption {
  optionId: string;
  name: string;
  kind: string;
}

/** A permission request, as the callback sees it. */
export interface PermissionRequest {
  /** The team session (the parent of a subagent session). */
  sessionId: string;
  /** The session the request was sent on (a subagent session for editors with `subagents`). */
  requestSessionId: string;
  /** Who asks (for an approval gate, the role whose task it is; `ourocodus` if untagged). */
  role: string;
  toolCall: { id: string; title: string; kind?: string };
  options: PermissionOption[];
  /** Present when the proxy asks to approve a finished task (an approval gate). */
  gate?: { task: string };
}

/** The callback's answer: an option (and, for a gate's `reject`, why), or cancelled. */
export type PermissionAnswer = { optionId: string; feedback?: string } | { cancelled: true };

export type PermissionHandler = (request: PermissionRequest, signal: AbortSignal) => Promise<PermissionAnswer> | PermissionAnswer;

export interface ClientOptions extends ProcessOptions {
  /** Answers permission requests. Default: every request is cancelled (nothing is allowed). */
  onPermission?: PermissionHandler;
  /** File access for the agents; `false` advertises no `fs` capability. Default: the local disk. */
  files?: FileAccess | false;
  /** Name and version sent in `initialize`. */
  clientInfo?: { name: string; version: string; title?: string };
}

/** Picks the first option of a kind (ACP: choose by kind, never by position or text). */
export function optionOfKind(options: PermissionOption[], kind: string): PermissionOption | undefined {
  return options.find((o) => o.kind === kind);
}

export class OurocodusClient {
  readonly model = new TeamModel();
  /** Each role's latest summary (from `_ourocodus/agent_status` and `agents()`). */
  readonly agents = new Map<string, AgentSummary>();
  initializeResult!: acp.InitializeResponse;
  private readonly proc: ProxyProcess;
  private readonly connection: acp.ClientConnection;
  private readonly statusListeners = new Set<(summary: AgentSummary) => void>();
  /** Pending permission requests by team session, so that cancel can answer them. */
  private readonly pendingPermissions = new Map<string, Set<(answer: PermissionAnswer) => void>>();
  private readonly options: ClientOptions;

  private constructor(options: ClientOptions) {
    this.options = options;
    this.proc = new ProxyProcess(options, (message) => this.observe(message));
    const files = options.files === undefined ? localFiles : options.files;
    let app = acp
      .client({ name: "ourocodus-vscode" })
      .onRequest("session/request_permission", ({ params, signal }) => this.permission(params, signal));
    if (files) {
      app = app
        .onRequest("fs/read_text_file", async ({ params }) => ({
          content: sliceLines(await files.read(params.path), params.line, params.limit),
        }))
        .onRequest("fs/write_text_file", async ({ params }) => {
          await files.write(params.path, params.content);
          return {};
        });
    }
    this.connection = app.connect(this.proc.stream);
  }

  /** Starts the proxy and initializes it. Rejects (with the proxy's stderr) if it cannot. */
  static async start(options: ClientOptions = {}): Promise<OurocodusClient> {
    const client = new OurocodusClient(options);
    try {
      client.initializeResult = await client.initialize();
      return client;
    } catch (error) {
      // Most often the proxy could not start or stopped (a bad config): say why.
      const exit = await Promise.race([client.proc.exited, delay(2000).then(() => undefined)]);
      await client.close();
      const why = client.proc.recentStderr.join("\n");
      const what = exit ? `ourocodus exited (${describeExit(exit)}) before answering initialize` : `initialize failed: ${String(error)}`;
      throw new Error(why ? `${what}\n${why}` : what, { cause: error });
    }
  }

  /** What the client really implements, and nothing more. */
  get clientCapabilities(): acp.ClientCapabilities {
    const caps: Record<string, unknown> = {
      // Each role as its own subagent session (`<session>:<role>:<turn>`).
      subagents: {},
      // Notices as `notice` updates rather than quoted text.
      session: { notices: {} },
    };
    if (this.options.files !== false) caps.fs = { readTextFile: true, writeTextFile: true };
    return caps as acp.ClientCapabilities;
  }

  private initialize(): Promise<acp.InitializeResponse> {
    return this.connection.agent.request("initialize", {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: this.clientCapabilities,
      clientInfo: this.options.clientInfo ?? { name: "ourocodus-vscode", version: "0.0.0" },
    });
  }

  /** The team at start-up (`_meta.ourocodus.roles` of the initialize result). */
  get roles(): string[] {
    const roles = ourMeta(this.initializeResult)?.[META_FIELDS.roles];
    return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [];
  }

  /** Where prompts without a mention go (`_meta.ourocodus.route`). */
  get route(): string[] {
    const route = ourMeta(this.initializeResult)?.[META_FIELDS.route];
    return Array.isArray(route) ? route.filter((r): r is string => typeof r === "string") : [];
  }

  get exited(): Promise<Exit> {
    return this.proc.exited;
  }

  get pid(): number | undefined {
    return this.proc.child.pid;
  }

  /** Calls `listener` on every `_ourocodus/agent_status`; returns an unsubscribe function. */
  onAgentStatus(listener: (summary: AgentSummary) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  async newSession(cwd: string, request: Partial<acp.NewSessionRequest> = {}): Promise<acp.NewSessionResponse> {
    const response = await this.connection.agent.request("session/new", { mcpServers: [], ...request, cwd });
    this.model.session(response.sessionId);
    return response;
  }

  /**
   * Sends a prompt; resolves with the answer once the turn ends. The end (or the
   * error, with each role's own when every routed role failed) is recorded in the model.
   */
  async prompt(sessionId: string, prompt: string | acp.ContentBlock[]): Promise<acp.PromptResponse> {
    const blocks: acp.ContentBlock[] = typeof prompt === "string" ? [{ type: "text", text: prompt }] : prompt;
    this.model.session(sessionId);
    const started = performance.now();
    let response: acp.PromptResponse;
    try {
      response = await this.connection.agent.request("session/prompt", { sessionId, prompt: blocks });
    } catch (error) {
      const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown };
      // The proxy sends `data.ourocodus.roles`; `data._meta.ourocodus.roles` is read too.
      const ours = isObject(data) && isObject(data[META_KEY]) ? data[META_KEY] : ourMeta(data);
      const roles = ours?.[META_FIELDS.roles];
      this.model.turnEnded(sessionId, {
        stopReason: "error",
        elapsedMs: performance.now() - started,
        error: {
          code: typeof code === "number" ? code : -32603,
          message: typeof message === "string" ? message : String(error),
          ...(isObject(roles) ? { roles: roles as Record<string, { code?: number; message?: string }> } : {}),
        },
      });
      throw error;
    }
    this.model.turnEnded(sessionId, { stopReason: response.stopReason, elapsedMs: performance.now() - started });
    return response;
  }

  /**
   * Cancels the session's running turns. Pending permission requests of the session
   * are answered `cancelled` first, as ACP asks of clients.
   */
  async cancel(sessionId: string): Promise<void> {
    for (const resolve of this.pendingPermissions.get(sessionId) ?? []) resolve({ cancelled: true });
    await this.connection.agent.notify("session/cancel", { sessionId });
  }

  /** The proxy's saved sessions (it has a store unless started with `--no-store`), newest first. */
  async listSessions(cwd?: string, cursor?: string): Promise<acp.ListSessionsResponse> {
    return this.connection.agent.request("session/list", { ...(cwd ? { cwd } : {}), ...(cursor ? { cursor } : {}) });
  }

  /**
   * Opens a saved session: the proxy replays its history (each role's part as a
   * subagent session) into the model before answering, then brings the team back.
   */
  async loadSession(sessionId: string, cwd: string, mcpServers: acp.McpServer[] = []): Promise<acp.LoadSessionResponse> {
    this.model.session(sessionId);
    return this.connection.agent.request("session/load", { sessionId, cwd, mcpServers });
  }

  async setMode(sessionId: string, modeId: string): Promise<void> {
    await this.connection.agent.request("session/set_mode", { sessionId, modeId });
  }

  // ---- Ourocodus's own methods (docs/protocol-extensions.md) ----

  async listAgents(): Promise<AgentSummary[]> {
    const result = await this.ext<{ agents: AgentSummary[] }>(METHODS.agents, {});
    for (const agent of result.agents) this.agents.set(agent.role, agent);
    return result.agents;
  }

  spawn(role: string, extra: { persona?: string; command?: string; args?: string[] } = {}): Promise<AgentSummary> {
    return this.ext(METHODS.spawn, { role, ...extra });
  }

  kill(role: string): Promise<AgentSummary> {
    return this.ext(METHODS.kill, { role });
  }

  restart(role: string): Promise<AgentSummary> {
    return this.ext(METHODS.restart, { role });
  }

  usage(sessionId: string): Promise<UsageResult> {
    return this.ext(METHODS.usage, { sessionId });
  }

  tasks(sessionId: string): Promise<TasksResult> {
    return this.ext(METHODS.tasks, { sessionId });
  }

  approve(sessionId: string, task: string): Promise<{ task: Task }> {
    return this.ext(METHODS.approve, { sessionId, task });
  }

  reject(sessionId: string, task: string, feedback?: string): Promise<{ task: Task }> {
    return this.ext(METHODS.reject, feedback === undefined ? { sessionId, task } : { sessionId, task, feedback });
  }

  merge(sessionId: string, role: string): Promise<MergeResult> {
    return this.ext(METHODS.merge, { sessionId, role });
  }

  /** Ends the connection and the proxy (which ends its agents). */
  async close(): Promise<Exit> {
    for (const pending of this.pendingPermissions.values()) for (const resolve of pending) resolve({ cancelled: true });
    const exit = await this.proc.stop();
    this.connection.close();
    return exit;
  }

  private ext<T>(method: string, params: unknown): Promise<T> {
    return this.connection.agent.request<T>(method, params);
  }

  private observe(message: { method: string; params?: unknown }): void {
    if (message.method === NOTIFICATIONS.agentStatus) {
      const summary = message.params;
      if (!isObject(summary) || typeof summary.role !== "string" || typeof summary.status !== "string") return;
      this.agents.set(summary.role, summary as unknown as AgentSummary);
      for (const listener of this.statusListeners) {
        try {
          listener(summary as unknown as AgentSummary);
        } catch {
          // A view's error must not stop the client.
        }
      }
    } else if (message.method === acp.methods.client.session.update) {
      this.model.apply(message.params);
    }
    // Other `_ourocodus/` notifications are newer than this client: ignored.
  }

  private async permission(params: acp.RequestPermissionRequest, signal: AbortSignal): Promise<acp.RequestPermissionResponse> {
    const { session } = this.model.locate(params.sessionId);
    const toolCall = params.toolCall;
    const role =
      stringAt(ourMeta(params)?.[META_FIELDS.role]) ??
      stringAt(ourMeta(toolCall)?.[META_FIELDS.role]) ??
      this.model.locate(params.sessionId).role ??
      PROXY_ROLE;
    const request: PermissionRequest = {
      sessionId: session.sessionId,
      requestSessionId: params.sessionId,
      role,
      toolCall: {
        id: toolCall.toolCallId,
        title: toolCall.title ?? "",
        ...(toolCall.kind ? { kind: toolCall.kind } : {}),
      },
      options: params.options.map((o) => ({ optionId: o.optionId, name: o.name, kind: o.kind })),
      ...(toolCall.toolCallId.startsWith(GATE_PREFIX) ? { gate: { task: toolCall.toolCallId.slice(GATE_PREFIX.length) } } : {}),
    };
    const handler: PermissionHandler = this.options.onPermission ?? (() => ({ cancelled: true }));
    let settle!: (answer: PermissionAnswer) => void;
    const cancelled = new Promise<PermissionAnswer>((resolve) => (settle = resolve));
    const pending = this.pendingPermissions.get(session.sessionId) ?? new Set();
    pending.add(settle);
    this.pendingPermissions.set(session.sessionId, pending);
    const onAbort = () => settle({ cancelled: true });
    signal.addEventListener("abort", onAbort, { once: true });
    let answer: PermissionAnswer;
    try {
      answer = await Promise.race([Promise.resolve(handler(request, signal)), cancelled]);
    } catch {
      answer = { cancelled: true };
    } finally {
      pending.delete(settle);
      signal.removeEventListener("abort", onAbort);
    }
    if ("optionId" in answer) {
      const chosen = answer.optionId;
      // Never send an option the request did not offer.
      if (!params.options.some((o) => o.optionId === chosen)) answer = { cancelled: true };
    }
    this.model.permission(params.sessionId, role, {
      toolCallId: toolCall.toolCallId,
      title: request.toolCall.title,
      outcome: "optionId" in answer ? answer.optionId : "cancelled",
    });
    if (!("optionId" in answer)) return { outcome: { outcome: "cancelled" } };
    const response: acp.RequestPermissionResponse = { outcome: { outcome: "selected", optionId: answer.optionId } };
    if (answer.feedback !== undefined) response._meta = { [META_KEY]: { [META_FIELDS.feedback]: answer.feedback } };
    return response;
  }
}

function stringAt(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
