/**
 * The messages between the extension host and the panel's page, both ways.
 *
 * Inbound messages carry the `TeamModel`'s own events (plain data, safe for
 * `postMessage`), agent statuses, and the permission requests waiting for the
 * user. Outbound messages are what the user asked for by clicking or typing.
 * Nothing here touches the DOM or `vscode`.
 */

import type { ModelEvent } from "../model.js";
import type { PermissionOption } from "../client.js";
import type { AgentSummary, UsageResult } from "../types.js";

/** A permission request shown as buttons until it is answered or settled. */
export interface PermissionPrompt {
  /** Chosen by the extension host; echoed in the answer. */
  requestId: string;
  role: string;
  toolCall: { id: string; title: string; kind?: string };
  options: PermissionOption[];
  gate?: { task: string };
}

/** How the panes are laid out: one at a time behind tabs, or all side by side. */
export type Layout = "tabs" | "split";

export const LAYOUTS: readonly Layout[] = ["tabs", "split"];

export type ToPanel =
  /** Sent first on every (re)attach: the user's layout. */
  | { type: "config"; layout: Layout }
  | { type: "event"; event: ModelEvent }
  | { type: "agent-status"; summary: AgentSummary }
  | { type: "permission-request"; request: PermissionPrompt }
  /** The request was answered elsewhere (or cancelled): its buttons go away. */
  | { type: "permission-settled"; requestId: string; outcome: string }
  /** Tokens, context and cost per role and in all (`_ourocodus/usage`), after each turn. */
  | { type: "usage"; usage: UsageResult }
  /** Another session is shown from now on (an earlier one was opened): the panel starts empty. */
  | { type: "reset"; title?: string };

export type FromPanel =
  /** The page's script runs and listens: the host (re)sends what the panel shows. */
  | { type: "ready" }
  /** `feedback` is what the user wrote for a gate's reject. */
  | { type: "permission"; requestId: string; optionId: string; feedback?: string }
  | { type: "cancel" }
  | { type: "restart"; role: string }
  | { type: "prompt"; text: string }
  | { type: "layout"; layout: Layout }
  /** The user wants to reopen an earlier session (the host asks which). */
  | { type: "sessions" };

/** The one outlet the page has to the extension host (`acquireVsCodeApi().postMessage` in VS Code). */
export type PostMessage = (message: FromPanel) => void;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks the envelope of a message posted to the page; anything else is dropped. */
export function asToPanel(data: unknown): ToPanel | undefined {
  if (!isRecord(data) || typeof data.type !== "string") return undefined;
  switch (data.type) {
    case "config":
      return LAYOUTS.includes(data.layout as Layout) ? (data as ToPanel) : undefined;
    case "event":
      return isRecord(data.event) && typeof data.event.kind === "string" ? (data as ToPanel) : undefined;
    case "agent-status":
      return isRecord(data.summary) && typeof data.summary.role === "string" && typeof data.summary.status === "string"
        ? (data as ToPanel)
        : undefined;
    case "permission-request": {
      const r = data.request;
      return isRecord(r) &&
        typeof r.requestId === "string" &&
        typeof r.role === "string" &&
        isRecord(r.toolCall) &&
        typeof r.toolCall.id === "string" &&
        Array.isArray(r.options)
        ? (data as ToPanel)
        : undefined;
    }
    case "permission-settled":
      return typeof data.requestId === "string" && typeof data.outcome === "string" ? (data as ToPanel) : undefined;
    case "usage":
      return isRecord(data.usage) && Array.isArray(data.usage.roles) ? (data as ToPanel) : undefined;
    case "reset":
      return data.title === undefined || typeof data.title === "string" ? (data as ToPanel) : undefined;
    default:
      return undefined;
  }
}

const MAX_TEXT = 1 << 20;
const shortString = (v: unknown): v is string => typeof v === "string" && v.length <= MAX_TEXT;

/**
 * Checks a message from the page before the host acts on it, and copies only the
 * fields it knows: the page renders agent text, so it is treated as untrusted too.
 */
export function asFromPanel(data: unknown): FromPanel | undefined {
  if (!isRecord(data) || typeof data.type !== "string") return undefined;
  switch (data.type) {
    case "ready":
    case "cancel":
    case "sessions":
      return { type: data.type };
    case "permission":
      if (!shortString(data.requestId) || !shortString(data.optionId)) return undefined;
      if (data.feedback !== undefined && !shortString(data.feedback)) return undefined;
      return {
        type: "permission",
        requestId: data.requestId,
        optionId: data.optionId,
        ...(typeof data.feedback === "string" && data.feedback.trim() !== "" ? { feedback: data.feedback } : {}),
      };
    case "restart":
      return shortString(data.role) && data.role !== "" ? { type: "restart", role: data.role } : undefined;
    case "prompt":
      return shortString(data.text) && data.text.trim() !== "" ? { type: "prompt", text: data.text } : undefined;
    case "layout":
      return LAYOUTS.includes(data.layout as Layout) ? { type: "layout", layout: data.layout as Layout } : undefined;
    default:
      return undefined;
  }
}
