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
import type { AgentSummary } from "../types.js";

/** A permission request shown as buttons until it is answered or settled. */
export interface PermissionPrompt {
  /** Chosen by the extension host; echoed in the answer. */
  requestId: string;
  role: string;
  toolCall: { id: string; title: string; kind?: string };
  options: PermissionOption[];
  gate?: { task: string };
}

export type ToPanel =
  | { type: "event"; event: ModelEvent }
  | { type: "agent-status"; summary: AgentSummary }
  | { type: "permission-request"; request: PermissionPrompt }
  /** The request was answered elsewhere (or cancelled): its buttons go away. */
  | { type: "permission-settled"; requestId: string; outcome: string };

export type FromPanel =
  | { type: "permission"; requestId: string; optionId: string }
  | { type: "cancel" }
  | { type: "restart"; role: string }
  | { type: "prompt"; text: string };

/** The one outlet the page has to the extension host (`acquireVsCodeApi().postMessage` in VS Code). */
export type PostMessage = (message: FromPanel) => void;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks the envelope of a message posted to the page; anything else is dropped. */
export function asToPanel(data: unknown): ToPanel | undefined {
  if (!isRecord(data) || typeof data.type !== "string") return undefined;
  switch (data.type) {
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
    default:
      return undefined;
  }
}
