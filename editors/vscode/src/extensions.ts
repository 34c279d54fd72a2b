/**
 * Everything Ourocodus adds to ACP that this client uses, in one place.
 *
 * The single source of truth is `docs/protocol-extensions.md` at the top of the
 * repository; `test/extensions.test.ts` fails when a name here is missing there.
 * Nothing outside this module spells an `_ourocodus/` method or a
 * `_meta.ourocodus` field.
 */

/** Requests (editor → proxy). */
export const METHODS = {
  agents: "_ourocodus/agents",
  spawn: "_ourocodus/spawn",
  kill: "_ourocodus/kill",
  restart: "_ourocodus/restart",
  usage: "_ourocodus/usage",
  tasks: "_ourocodus/tasks",
  approve: "_ourocodus/approve",
  reject: "_ourocodus/reject",
  merge: "_ourocodus/merge",
} as const;

/** Notifications (proxy → editor). */
export const NOTIFICATIONS = {
  agentStatus: "_ourocodus/agent_status",
} as const;

/** The key under `_meta` that holds Ourocodus's data. */
export const META_KEY = "ourocodus";

/**
 * The `_meta.ourocodus` fields this client reads or writes, each with where it
 * lives. The name is what the documentation's table spells.
 */
export const META_FIELDS = {
  /** `initialize` result: the team at start-up; a prompt error's `data`: each role's error. */
  roles: "roles",
  /** `initialize` result: where un-mentioned prompts go. */
  route: "route",
  /** Every `session/update` from a role; `request_permission`, `fs/*` params. */
  role: "role",
  /** A text chunk that is a speaker label, not a role's words. */
  label: "label",
  /** A text chunk that is a notice (`{ severity, title }`). */
  notice: "notice",
  /** The task graph's `plan` update. */
  tasks: "tasks",
  /** Each entry of the task graph's plan: its task id (its role and status too). */
  task: "task",
  /** Each entry of the task graph's plan: the task's own status. */
  status: "status",
  /** A prompt's `user_message_chunk`: who the proxy wrote it for. */
  from: "from",
  /** An approval gate's permission result: why the user rejects. */
  feedback: "feedback",
  /** A `subagent_update` ending a role's turn: completed, cancelled or failed. */
  outcome: "outcome",
} as const;

/** The speaker name the proxy uses for its own updates (the task graph, notices). */
export const PROXY_ROLE = "ourocodus";

/** Tool call id prefix of an approval gate's permission request (`ourocodus-gate-tN`). */
export const GATE_PREFIX = "ourocodus-gate-";

/** Option ids of an approval gate. */
export const GATE_OPTIONS = { approve: "approve", reject: "reject" } as const;

/** Reads `_meta.ourocodus` of any value, or undefined. */
export function ourMeta(value: unknown): Record<string, unknown> | undefined {
  if (!isObject(value)) return undefined;
  const meta = value["_meta"];
  if (!isObject(meta)) return undefined;
  const ours = meta[META_KEY];
  return isObject(ours) ? ours : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
