// agents.js: the team's agents as a table: status, uptime (counted on from the
// hub's last word), restarts, tokens used in the selected session, and a Restart
// button. Knows AgentSummary and the usage result's shape; nothing of the socket.

import { duration, el, fill } from "./dom.js";

/**
 * `agents`: Map role → { summary, at } (`at`: when the summary came, ms);
 * `usage`: the session's `_ourocodus/usage` result, or null.
 */
export function renderAgents(tbody, agents, usage, onRestart) {
  const tokens = new Map((usage?.roles ?? []).map((r) => [r.role, r.tokens?.totalTokens]));
  const rows = [...agents.values()].map(({ summary, at }) => {
    const running = typeof summary.uptimeSecs === "number";
    const uptime = running ? duration(summary.uptimeSecs + (Date.now() - at) / 1000) : "–";
    const title = [summary.prompt && `working on: ${summary.prompt}`, summary.reason && `reason: ${summary.reason}`, summary.sandbox && `sandbox: ${summary.sandbox}`]
      .filter(Boolean)
      .join("\n");
    return el(
      "tr",
      { dataset: { role: summary.role }, title },
      el("td", { class: "role", text: summary.role }),
      el("td", {}, el("span", { class: "status", dataset: { status: summary.status }, text: summary.status })),
      el("td", { class: "uptime", text: uptime }),
      el("td", { class: "restarts", text: String(summary.restarts ?? 0) }),
      el("td", { class: "tokens", text: tokens.has(summary.role) ? String(tokens.get(summary.role)) : "–" }),
      el("td", {}, el("button", { type: "button", class: "restart", onclick: () => onRestart(summary.role), text: "Restart" })),
    );
  });
  fill(tbody, rows);
}
