// chats.js: the selected session's transcripts (the lead chat and one per role,
// from the local chat states) and its permission requests (tool calls waiting for
// confirmation) with their options as buttons. A chat is drawn again only when it
// changed, and in it only the turns that changed; a very long part shows its
// latest text. Knows AHP's turn and response part shapes; nothing of the socket.

import { el, fill, plain } from "./dom.js";
import { pendingConfirmations } from "./reduce.js";

/** Turns shown per chat (the latest ones). */
const SHOWN_TURNS = 30;
/** Characters of one part shown (its end). */
const SHOWN_CHARS = 64 * 1024;

/** What is on screen for each chat: its section and its turns' nodes. */
const drawn = new Map();

/**
 * `chats`: [{ label, role, channel, state }] in the order shown; `changed`: the
 * channels to draw again (all when null).
 */
export function renderChats(container, chats, changed) {
  const sections = chats.map((chat) => {
    let view = drawn.get(chat.channel);
    if (!view) {
      const body = el("div", { class: "turns" });
      const title = el("h3", {});
      view = { section: el("section", { class: "chat", dataset: { role: chat.role } }, title, body), title, body, turns: new Map() };
      drawn.set(chat.channel, view);
      changed = null;
    }
    if (!changed || changed.has(chat.channel)) drawChat(view, chat);
    return view.section;
  });
  for (const channel of [...drawn.keys()]) if (!chats.some((c) => c.channel === channel)) drawn.delete(channel);
  if (sections.some((s, i) => container.children[i] !== s) || container.children.length !== sections.length) fill(container, sections);
}

function drawChat(view, { label, role, state }) {
  fill(view.title, label, state.activeTurn && el("span", { class: "working", text: "working" }));
  if (view.state !== state) {
    // A fresh snapshot: nothing drawn before is known to match it.
    view.turns = new Map();
    view.state = state;
  }
  const touched = state.touched ?? new Set();
  state.touched = new Set();
  const shown = turns(state);
  const nodes = new Map();
  for (const turn of shown) {
    const key = `${turn.id}/${turn.state ?? "active"}`;
    const kept = view.turns.get(key);
    nodes.set(key, kept && !touched.has(turn.id) ? kept : renderTurn(turn, role === "lead"));
  }
  view.turns = nodes;
  const atBottom = view.body.scrollTop + view.body.clientHeight >= view.body.scrollHeight - 8;
  const list = [...nodes.values()];
  if (list.some((n, i) => view.body.children[i] !== n) || view.body.children.length !== list.length) fill(view.body, list);
  if (atBottom) view.body.scrollTop = view.body.scrollHeight;
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

/** The end of a long text, saying how much is left out. */
function tail(text) {
  if (text.length <= SHOWN_CHARS) return [text];
  return [el("span", { class: "muted", text: `… ${text.length - SHOWN_CHARS} characters before\n` }), text.slice(-SHOWN_CHARS)];
}

function renderPart(part) {
  switch (part.kind) {
    case "markdown":
      return el("div", { class: "text" }, tail(part.content ?? ""));
    case "reasoning":
      return el("div", { class: "reasoning" }, tail(part.content ?? ""));
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
