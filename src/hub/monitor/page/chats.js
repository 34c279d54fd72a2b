// chats.js: the selected session's transcripts (the lead chat and one per role,
// from the local chat states) and its permission requests (tool calls waiting for
// confirmation) with their options as buttons. Knows AHP's turn and response part
// shapes; nothing of the socket.

import { el, fill, plain } from "./dom.js";
import { pendingConfirmations } from "./reduce.js";

/** Turns shown per chat (the latest ones). */
const SHOWN_TURNS = 30;

/** `chats`: [{ label, role, channel, state }] in the order shown. */
export function renderChats(container, chats) {
  fill(
    container,
    chats.map(({ label, role, state }) =>
      el(
        "section",
        { class: "chat", dataset: { role } },
        el("h3", {}, label, state.activeTurn && el("span", { class: "working", text: "working" })),
        el("div", { class: "turns" }, turns(state).map((turn) => renderTurn(turn, role === "lead"))),
      ),
    ),
  );
  for (const body of container.querySelectorAll(".turns")) body.scrollTop = body.scrollHeight;
}

function turns(state) {
  const all = state.activeTurn ? [...state.turns, state.activeTurn] : state.turns;
  return all.slice(-SHOWN_TURNS);
}

function renderTurn(turn, isLead) {
  const text = turn.message?.text ?? "";
  const state = turn.state ?? "active";
  return el(
    "div",
    { class: "turn", dataset: { turn: turn.id, state } },
    el("div", { class: "turn-head" }, el("span", { class: "turn-id", text: turn.id }), el("span", { class: "turn-state", text: state })),
    isLead && text && el("div", { class: "user", text }),
    (turn.responseParts ?? []).map(renderPart),
  );
}

function renderPart(part) {
  switch (part.kind) {
    case "markdown":
      return el("div", { class: "text", text: part.content ?? "" });
    case "reasoning":
      return el("div", { class: "reasoning", text: part.content ?? "" });
    case "toolCall":
      return toolCall(part.toolCall ?? {});
    case "systemNotification":
      return el("div", { class: "notice", text: plain(part.content) });
    case "error":
      return el("div", { class: "error", text: part.error?.message ?? plain(part) });
    default:
      return el("div", { class: "other", text: plain(part) });
  }
}

function toolCall(call) {
  const failed = call.result && call.result.success === false;
  return el(
    "div",
    { class: "tool", dataset: { status: failed ? "failed" : call.status } },
    el("span", { class: "tool-name", text: call.displayName || call.toolName || "tool" }),
    el("span", { class: "tool-status", text: failed ? "failed" : call.status }),
    call.invocationMessage && el("span", { class: "tool-message", text: plain(call.invocationMessage) }),
  );
}

/**
 * The permission requests of every chat, each once (a role's request is in the
 * lead chat and in its role chat). `onAnswer({ channel, turnId, call, option })`.
 */
export function renderPermissions(list, chats, onAnswer) {
  const seen = new Set();
  const items = [];
  for (const { channel, state } of chats) {
    for (const { turnId, call } of pendingConfirmations(state)) {
      if (seen.has(call.toolCallId)) continue;
      seen.add(call.toolCallId);
      const role = call._meta?.ourocodus?.role;
      const options = (call.options ?? []).map((option) =>
        el("button", { type: "button", class: "option", dataset: { kind: option.kind, option: option.id }, onclick: () => onAnswer({ channel, turnId, call, option }), text: option.label || option.id }),
      );
      items.push(
        el(
          "li",
          { class: "permission", dataset: { toolCall: call.toolCallId } },
          el("div", {}, role && el("span", { class: "task-role", text: `@${role}` }), el("span", { class: "tool-name", text: plain(call.invocationMessage) || call.displayName || call.toolCallId })),
          el("div", { class: "options" }, options),
        ),
      );
    }
  }
  if (items.length === 0) items.push(el("li", { class: "muted", text: "none waiting" }));
  fill(list, items);
}
