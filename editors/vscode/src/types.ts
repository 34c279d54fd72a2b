/**
 * The shapes of Ourocodus's own results, as `docs/protocol-extensions.md`
 * describes them. The proxy is trusted to send these; the agents behind it are
 * not, so everything an agent wrote stays plain data (strings), never markup or code.
 */

export type AgentStatus =
  | "not started"
  | "starting"
  | "idle"
  | "working"
  | "waiting-on-you"
  | "restarting"
  | "stopped"
  | "failed";

/** One role's agent, from `_ourocodus/agents` and `_ourocodus/agent_status`. */
export interface AgentSummary {
  role: string;
  status: AgentStatus | string;
  pid?: number;
  uptimeSecs?: number;
  restarts?: number;
  command?: string;
  prompt?: string;
  reason?: string;
  sandbox?: string;
}

export type TaskStatus =
  | "inbox"
  | "ready"
  | "in_flight"
  | "review"
  | "done"
  | "blocked"
  | "failed";

export interface TaskArtifact {
  kind: string;
  ref: string;
}

/** A task of the session's graph. */
export interface Task {
  id: string;
  role: string;
  title: string;
  description?: string;
  acceptance_criteria?: string[];
  depends_on?: string[];
  priority?: string;
  requires_approval?: boolean;
  status: TaskStatus | string;
  created_by?: string;
  attempts?: number;
  runs?: number;
  summary?: string;
  artifacts?: TaskArtifact[];
  notes?: string[];
  held?: boolean;
  retry_at_ms?: number;
  created_at_ms?: number;
  updated_at_ms?: number;
}

/** An ACP plan entry as the proxy sends it for the task graph. */
export interface TaskPlanEntry {
  /** `role: title`. */
  content: string;
  priority: string;
  /** ACP's coarse status: pending, in_progress, completed. */
  status: string;
  /** `_meta.ourocodus.task`. */
  task?: string;
  /** `_meta.ourocodus.role`. */
  role?: string;
  /** `_meta.ourocodus.status`: the task's own status. */
  taskStatus?: string;
}

export interface TasksResult {
  tasks: Task[];
  plan: unknown[];
}

export interface Tokens {
  totalTokens?: number;
  inputTokens?: number;
  outputTokens?: number;
  thoughtTokens?: number;
  cachedReadTokens?: number;
  cachedWriteTokens?: number;
}

export interface Cost {
  amount: number;
  currency: string;
}

export interface RoleUsage {
  role: string;
  tokens?: Tokens;
  context?: { used: number; size: number };
  cost?: Cost[];
}

export interface TaskUsage extends RoleUsage {
  task: string;
}

export interface UsageResult {
  roles: RoleUsage[];
  tasks: TaskUsage[];
  total: { tokens?: Tokens; cost?: Cost[] };
}

export interface MergeResult {
  role: string;
  branch: string;
  into: string;
  outcome: "merged" | "nothing" | "conflict" | string;
  commit?: string;
  files?: string[];
  summary?: string;
  committed?: { commit: string; files: number };
}
