/**
 * The typed model the panel renders: what the proxy streamed, sorted by role.
 *
 * Input is the raw `params` of each `session/update` notification, in wire order.
 * The role of an update is `_meta.ourocodus.role` (set by the proxy; an agent
 * cannot choose it), else the role of the subagent session it was sent on
 * (`<session>:<role>:<turn>`, announced by `subagent_update`), else the role of
 * the task a proxy-written prompt is for, else `ourocodus` (the proxy: its own
 * notices, the user's prompts as `session/load` replays them).
 *
 * Agents are not trusted: every field an agent wrote is kept as a plain string
 * (or dropped when it is not one). Nothing here interprets or evaluates it.
 */

import { META_FIELDS, PROXY_ROLE, isObject, ourMeta } from "./extensions.js";
import type { TaskPlanEntry } from "./types.js";

export type Severity = "info" | "warning" | "error";

export interface Notice {
  severity: Severity;
  title: string;
  description?: string;
}

export interface Diff {
  path: string;
  oldText: string | null;
  newText: string;
}

export interface ToolCallModel {
  /** The id the editor sees (`role/<agent's id>`), or the gate's id. */
  id: string;
  title: string;
  kind?: string;
  status?: string;
  /** Text content of the call (each text block). */
  text: string[];
  diffs: Diff[];
  /** Terminal ids embedded in the call. */
  terminals: string[];
  locations: { path: string; line?: number }[];
  rawInput?: unknown;
  rawOutput?: unknown;
}

export interface PlanEntry {
  content: string;
  priority: string;
  status: string;
}

export interface PermissionRecord {
  toolCallId?: string;
  title: string;
  /** The optionId chosen, or "cancelled". */
  outcome: string;
}

/** What a role's pane shows, in order. Consecutive chunks of one kind are merged. */
export type Entry =
  | { kind: "text"; text: string }
  | { kind: "thought"; text: string }
  | { kind: "user"; text: string; from?: Record<string, unknown> }
  | { kind: "tool"; id: string }
  | { kind: "notice"; notice: Notice }
  | { kind: "permission"; permission: PermissionRecord }
  | { kind: "turn-end"; state: string; subagentSessionId?: string };

export interface RoleModel {
  role: string;
  entries: Entry[];
  toolCalls: Map<string, ToolCallModel>;
  /** The role's own latest plan (the task graph is `SessionModel.tasks`). */
  plan?: PlanEntry[];
  /** The subagent sessions this role's turns ran in, with their last state. */
  subagents: Map<string, { turn?: number; state?: string; name?: string }>;
  /** `usage_update`: the role's last context window and cost, as sent. */
  usage?: { used?: number; size?: number; cost?: unknown };
}

export interface TurnRecord {
  /** ACP's stop reason, or `error` when the prompt was answered with an error. */
  stopReason: string;
  /** The prompt's error; `roles` is each role's own (from `error.data.ourocodus.roles`, when every routed role failed). */
  error?: { code: number; message: string; roles?: Record<string, { code?: number; message?: string }> };
  /** Milliseconds from the prompt being sent to its answer. */
  elapsedMs?: number;
}

export interface SessionModel {
  sessionId: string;
  roles: Map<string, RoleModel>;
  /** The task graph as the session's plan (`_meta.ourocodus.tasks`), latest. */
  tasks?: TaskPlanEntry[];
  /** `available_commands_update`: command names and descriptions. */
  commands: { name: string; description: string }[];
  currentMode?: string;
  configOptions?: unknown[];
  title?: string;
  turns: TurnRecord[];
  /** `sessionUpdate` variants this model does not render, with counts. */
  ignored: Map<string, number>;
}

/** One change, for a view to re-render just what changed. */
export type ModelEvent = { sessionId: string } & (
  | { kind: "text" | "thought"; role: string; delta: string }
  | { kind: "user"; role: string; delta: string }
  | { kind: "tool"; role: string; toolCall: ToolCallModel; created: boolean }
  | { kind: "plan"; role: string; entries: PlanEntry[] }
  | { kind: "tasks"; entries: TaskPlanEntry[] }
  | { kind: "notice"; role: string; notice: Notice }
  | { kind: "permission"; role: string; permission: PermissionRecord }
  | { kind: "subagent"; role: string; subagentSessionId: string; state?: string }
  | { kind: "turn-end"; stopReason: string }
  | { kind: "session"; what: "commands" | "mode" | "config" | "info" | "usage" }
  | { kind: "ignored"; sessionUpdate: string }
);

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function severity(v: unknown): Severity {
  return v === "error" || v === "warning" ? v : "info";
}

/** Splits a subagent session id `<session>:<role>:<turn>`. */
export function parseSubagentId(id: string): { parent: string; role: string; turn: number } | undefined {
  const last = id.lastIndexOf(":");
  if (last <= 0) return undefined;
  const middle = id.lastIndexOf(":", last - 1);
  if (middle <= 0) return undefined;
  const turn = Number(id.slice(last + 1));
  const role = id.slice(middle + 1, last);
  if (!Number.isInteger(turn) || turn < 0 || role === "") return undefined;
  return { parent: id.slice(0, middle), role, turn };
}

/** All sessions of one connection. */
export class TeamModel {
  readonly sessions = new Map<string, SessionModel>();
  /** Subagent session id → its parent session and role. */
  private readonly children = new Map<string, { parent: string; role: string; turn?: number }>();
  private readonly listeners = new Set<(event: ModelEvent) => void>();

  /** Calls `listener` for every change; returns a function that unsubscribes. */
  subscribe(listener: (event: ModelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  session(sessionId: string): SessionModel {
    let session = this.sessions.get(sessionId);
    if (!session) {
      session = {
        sessionId,
        roles: new Map(),
        commands: [],
        turns: [],
        ignored: new Map(),
      };
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  role(session: SessionModel, role: string): RoleModel {
    let model = session.roles.get(role);
    if (!model) {
      model = { role, entries: [], toolCalls: new Map(), subagents: new Map() };
      session.roles.set(role, model);
    }
    return model;
  }

  /** Where a notification sent on `sessionId` belongs: its parent session, and the role of a subagent session. */
  locate(sessionId: string): { session: SessionModel; role?: string } {
    const child = this.children.get(sessionId);
    if (child) return { session: this.session(child.parent), role: child.role };
    if (this.sessions.has(sessionId)) return { session: this.session(sessionId) };
    const parsed = parseSubagentId(sessionId);
    if (parsed && this.sessions.has(parsed.parent)) {
      this.children.set(sessionId, parsed);
      return { session: this.session(parsed.parent), role: parsed.role };
    }
    return { session: this.session(sessionId) };
  }

  /** Applies one `session/update` notification's params. */
  apply(params: unknown): void {
    if (!isObject(params) || typeof params.sessionId !== "string" || !isObject(params.update)) return;
    const update = params.update;
    const { session, role: sessionRole } = this.locate(params.sessionId);
    const meta = ourMeta(update);
    const role = str(meta?.[META_FIELDS.role]) ?? sessionRole ?? this.taskRole(session, meta) ?? PROXY_ROLE;
    const kind = str(update.sessionUpdate) ?? "";
    const sessionId = session.sessionId;
    switch (kind) {
      case "agent_message_chunk":
      case "agent_thought_chunk":
      case "user_message_chunk": {
        const text = isObject(update.content) && update.content.type === "text" ? str(update.content.text) : undefined;
        if (text === undefined) return this.ignore(session, `${kind} (non-text)`);
        if (meta?.[META_FIELDS.label] === true) return; // a speaker label, not anyone's words
        const notice = meta?.[META_FIELDS.notice];
        if (isObject(notice)) {
          return this.notice(session, role, { severity: severity(notice.severity), title: str(notice.title) ?? "notice" });
        }
        const entryKind = kind === "agent_message_chunk" ? "text" : kind === "agent_thought_chunk" ? "thought" : "user";
        const model = this.role(session, role);
        const last = model.entries[model.entries.length - 1];
        if (last && last.kind === entryKind) {
          last.text += text;
        } else if (entryKind === "user") {
          const from = meta?.[META_FIELDS.from];
          model.entries.push(isObject(from) ? { kind: "user", text, from } : { kind: "user", text });
        } else {
          model.entries.push({ kind: entryKind, text });
        }
        this.emit(entryKind === "user" ? { sessionId, kind: "user", role, delta: text } : { sessionId, kind: entryKind, role, delta: text });
        return;
      }
      case "tool_call":
      case "tool_call_update": {
        const id = str(update.toolCallId);
        if (id === undefined) return this.ignore(session, `${kind} (no id)`);
        const model = this.role(session, role);
        let call = model.toolCalls.get(id);
        const created = !call;
        if (!call) {
          call = { id, title: "", text: [], diffs: [], terminals: [], locations: [] };
          model.toolCalls.set(id, call);
          model.entries.push({ kind: "tool", id });
        }
        mergeToolCall(call, update);
        this.emit({ sessionId, kind: "tool", role, toolCall: call, created });
        return;
      }
      case "plan": {
        const entries = Array.isArray(update.entries) ? update.entries.filter(isObject) : [];
        if (meta?.[META_FIELDS.tasks] === true) {
          session.tasks = entries.map(taskEntry);
          this.emit({ sessionId, kind: "tasks", entries: session.tasks });
        } else {
          const plan = entries.map((e) => ({
            content: str(e.content) ?? "",
            priority: str(e.priority) ?? "medium",
            status: str(e.status) ?? "pending",
          }));
          this.role(session, role).plan = plan;
          this.emit({ sessionId, kind: "plan", role, entries: plan });
        }
        return;
      }
      case "notice":
        return this.notice(session, role, {
          severity: severity(update.severity),
          title: str(update.title) ?? "notice",
          ...(str(update.description) ? { description: str(update.description) } : {}),
        });
      case "subagent_update":
        return this.subagent(session, role, update);
      case "available_commands_update": {
        const list = Array.isArray(update.availableCommands) ? update.availableCommands.filter(isObject) : [];
        session.commands = list.map((c) => ({ name: str(c.name) ?? "", description: str(c.description) ?? "" }));
        return this.emit({ sessionId, kind: "session", what: "commands" });
      }
      case "current_mode_update":
        session.currentMode = str(update.currentModeId);
        return this.emit({ sessionId, kind: "session", what: "mode" });
      case "config_option_update":
        session.configOptions = Array.isArray(update.configOptions) ? update.configOptions : [];
        return this.emit({ sessionId, kind: "session", what: "config" });
      case "session_info_update":
        if (str(update.title) !== undefined) session.title = str(update.title);
        return this.emit({ sessionId, kind: "session", what: "info" });
      case "usage_update": {
        const model = this.role(session, role);
        model.usage = {
          ...(typeof update.used === "number" ? { used: update.used } : {}),
          ...(typeof update.size === "number" ? { size: update.size } : {}),
          ...(update.cost !== undefined ? { cost: update.cost } : {}),
        };
        return this.emit({ sessionId, kind: "session", what: "usage" });
      }
      default:
        // ACP's list of updates keeps growing: unknown variants are counted, never fatal.
        return this.ignore(session, kind || "(none)");
    }
  }

  /** Records a permission request and how it was answered, in the asking role's stream. */
  permission(sessionId: string, role: string, permission: PermissionRecord): void {
    const { session } = this.locate(sessionId);
    this.role(session, role).entries.push({ kind: "permission", permission });
    this.emit({ sessionId: session.sessionId, kind: "permission", role, permission });
  }

  /** Records the answer to a prompt. */
  turnEnded(sessionId: string, turn: TurnRecord): void {
    const session = this.session(sessionId);
    session.turns.push(turn);
    this.emit({ sessionId, kind: "turn-end", stopReason: turn.stopReason });
  }

  private subagent(session: SessionModel, metaRole: string, update: Record<string, unknown>): void {
    // ACP's shape: the child's `sessionId`, `title`, and a `state` object (running,
    // idle, ...); how a role's turn ended is `_meta.ourocodus.outcome`. The older
    // draft's `subagentSessionId`, `name` and string state are read too.
    const child = str(update.sessionId) ?? str(update.subagentSessionId);
    if (child === undefined) return this.ignore(session, "subagent_update (no id)");
    const parsed = parseSubagentId(child);
    const role = metaRole !== PROXY_ROLE ? metaRole : str(update.name) ?? parsed?.role ?? str(update.title) ?? PROXY_ROLE;
    this.children.set(child, { parent: session.sessionId, role, ...(parsed ? { turn: parsed.turn } : {}) });
    const model = this.role(session, role);
    const known = model.subagents.get(child) ?? {};
    const name = str(update.name) ?? str(update.title);
    if (name !== undefined) known.name = name;
    if (parsed) known.turn = parsed.turn;
    const outcome = str(ourMeta(update)?.[META_FIELDS.outcome]);
    const state = outcome ?? str(update.state) ?? (isObject(update.state) ? str(update.state.state) ?? str(update.state.type) : undefined);
    if (state !== undefined) known.state = state;
    model.subagents.set(child, known);
    if (state === "completed" || state === "failed" || state === "cancelled") {
      model.entries.push({ kind: "turn-end", state, subagentSessionId: child });
    }
    this.emit({ sessionId: session.sessionId, kind: "subagent", role, subagentSessionId: child, ...(state ? { state } : {}) });
  }

  /** A task's prompt (`_meta.ourocodus.from.task`) belongs to the task's role. */
  private taskRole(session: SessionModel, meta: Record<string, unknown> | undefined): string | undefined {
    const from = meta?.[META_FIELDS.from];
    const task = isObject(from) ? str(from.task) : undefined;
    return task === undefined ? undefined : session.tasks?.find((e) => e.task === task)?.role;
  }

  private notice(session: SessionModel, role: string, notice: Notice): void {
    this.role(session, role).entries.push({ kind: "notice", notice });
    this.emit({ sessionId: session.sessionId, kind: "notice", role, notice });
  }

  private ignore(session: SessionModel, what: string): void {
    session.ignored.set(what, (session.ignored.get(what) ?? 0) + 1);
    this.emit({ sessionId: session.sessionId, kind: "ignored", sessionUpdate: what });
  }

  private emit(event: ModelEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A view's error must not stop the model.
      }
    }
  }
}

function taskEntry(e: Record<string, unknown>): TaskPlanEntry {
  const meta = ourMeta(e);
  const entry: TaskPlanEntry = {
    content: str(e.content) ?? "",
    priority: str(e.priority) ?? "medium",
    status: str(e.status) ?? "pending",
  };
  const task = str(meta?.[META_FIELDS.task]);
  const role = str(meta?.[META_FIELDS.role]);
  const status = str(meta?.[META_FIELDS.status]);
  if (task !== undefined) entry.task = task;
  if (role !== undefined) entry.role = role;
  if (status !== undefined) entry.taskStatus = status;
  return entry;
}

function mergeToolCall(call: ToolCallModel, u: Record<string, unknown>): void {
  const title = str(u.title);
  if (title !== undefined) call.title = title;
  const kind = str(u.kind);
  if (kind !== undefined) call.kind = kind;
  const status = str(u.status);
  if (status !== undefined) call.status = status;
  if (Array.isArray(u.content)) {
    // ACP: content in an update replaces the call's content.
    call.text = [];
    call.diffs = [];
    call.terminals = [];
    for (const c of u.content.filter(isObject)) {
      if (c.type === "diff" && typeof c.path === "string" && typeof c.newText === "string") {
        call.diffs.push({ path: c.path, oldText: str(c.oldText) ?? null, newText: c.newText });
      } else if (c.type === "content" && isObject(c.content) && c.content.type === "text") {
        const text = str(c.content.text);
        if (text !== undefined) call.text.push(text);
      } else if (c.type === "terminal" && typeof c.terminalId === "string") {
        call.terminals.push(c.terminalId);
      }
    }
  }
  if (Array.isArray(u.locations)) {
    call.locations = u.locations
      .filter(isObject)
      .filter((l) => typeof l.path === "string")
      .map((l) => (typeof l.line === "number" ? { path: l.path as string, line: l.line } : { path: l.path as string }));
  }
  if ("rawInput" in u) call.rawInput = u.rawInput;
  if ("rawOutput" in u) call.rawOutput = u.rawOutput;
}
