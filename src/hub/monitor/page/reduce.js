// reduce.js: the few AHP reducers the monitor needs, applied to local copies of
// chat and session state (as the hub's snapshots give them): turns, streamed
// parts, tool calls and their confirmation, usage, the session's `_meta`.
// Unknown actions change nothing. Knows AHP's state shapes; nothing of the DOM.

/** An empty chat state, for a chat whose snapshot has not come. */
export function emptyChat(resource) {
  return { resource, turns: [], activeTurn: null };
}

/** Applies one action to a chat state in place; returns whether it changed. */
export function applyChatAction(chat, action) {
  const reducer = CHAT_REDUCERS[action?.type];
  if (!reducer) return false;
  const changed = reducer(chat, action) !== false;
  // The turns a view has to draw again (`touched`), the rest it may keep.
  if (changed && action.turnId !== undefined) (chat.touched ??= new Set()).add(action.turnId);
  return changed;
}

/** Applies one action to a session state in place; returns whether it changed. */
export function applySessionAction(session, action) {
  switch (action?.type) {
    case "session/metaChanged":
      session._meta = action._meta ?? undefined;
      return true;
    case "session/titleChanged":
      session.title = action.title;
      return true;
    default:
      return false;
  }
}

/** The turn an action names: the active one, else a finished one. */
function turnOf(chat, turnId) {
  if (chat.activeTurn && chat.activeTurn.id === turnId) return chat.activeTurn;
  return chat.turns.find((t) => t.id === turnId) ?? null;
}

function toolCallOf(turn, toolCallId) {
  const part = turn?.responseParts.find((p) => p.kind === "toolCall" && p.toolCall?.toolCallId === toolCallId);
  return part ?? null;
}

function endTurn(chat, action, state, extraPart) {
  const turn = chat.activeTurn;
  if (!turn || turn.id !== action.turnId) return false;
  if (extraPart) turn.responseParts.push(extraPart);
  // Whatever still waits for an answer is over with its turn.
  for (const part of turn.responseParts) {
    const call = part.toolCall;
    if (call && !["completed", "cancelled"].includes(call.status)) part.toolCall = { ...call, status: "cancelled", reason: "skipped" };
  }
  chat.turns.push({ ...turn, duration: action.duration, state });
  chat.activeTurn = null;
  return true;
}

const CHAT_REDUCERS = {
  "chat/turnStarted"(chat, a) {
    if (chat.activeTurn) chat.turns.push({ ...chat.activeTurn, state: "complete" });
    chat.activeTurn = { id: a.turnId, startedAt: a.startedAt, message: a.message, responseParts: [], _meta: a._meta };
  },
  "chat/responsePart"(chat, a) {
    const turn = turnOf(chat, a.turnId);
    if (!turn || !a.part) return false;
    const at = a.part.id === undefined ? -1 : turn.responseParts.findIndex((p) => p.id === a.part.id && p.kind === a.part.kind);
    if (at >= 0) turn.responseParts[at] = { ...a.part };
    else turn.responseParts.push({ ...a.part, _actionMeta: a._meta });
  },
  "chat/delta"(chat, a) {
    return appendTo(chat, a, "markdown");
  },
  "chat/reasoning"(chat, a) {
    return appendTo(chat, a, "reasoning");
  },
  "chat/toolCallStart"(chat, a) {
    const turn = turnOf(chat, a.turnId);
    if (!turn || toolCallOf(turn, a.toolCallId)) return false;
    const toolCall = { status: "streaming", toolCallId: a.toolCallId, toolName: a.toolName, displayName: a.displayName, _meta: a._meta };
    turn.responseParts.push({ kind: "toolCall", toolCall });
  },
  "chat/toolCallReady"(chat, a) {
    const part = toolCallOf(turnOf(chat, a.turnId), a.toolCallId);
    if (!part) return false;
    const status = a.confirmed ? "running" : "pending-confirmation";
    const call = part.toolCall;
    part.toolCall = { ...call, status, invocationMessage: a.invocationMessage, toolInput: a.toolInput, options: a.options, confirmed: a.confirmed, _meta: a._meta ?? call._meta };
  },
  "chat/toolCallConfirmed"(chat, a) {
    const part = toolCallOf(turnOf(chat, a.turnId), a.toolCallId);
    if (!part || part.toolCall.status !== "pending-confirmation") return false;
    const status = a.approved ? "running" : "cancelled";
    part.toolCall = { ...part.toolCall, status, confirmed: a.confirmed, reason: a.reason, selectedOptionId: a.selectedOptionId };
  },
  "chat/toolCallComplete"(chat, a) {
    const part = toolCallOf(turnOf(chat, a.turnId), a.toolCallId);
    if (!part) return false;
    part.toolCall = { ...part.toolCall, status: "completed", result: a.result };
  },
  "chat/usage"(chat, a) {
    const turn = turnOf(chat, a.turnId);
    if (!turn) return false;
    turn.usage = a.usage;
  },
  "chat/turnComplete"(chat, a) {
    return endTurn(chat, a, "complete");
  },
  "chat/turnCancelled"(chat, a) {
    return endTurn(chat, a, "cancelled");
  },
  "chat/error"(chat, a) {
    return endTurn(chat, a, "error", a.part ? { kind: "error", ...a.part } : undefined);
  },
};

/** Appends streamed text to the part it names (made if it is not there yet). */
function appendTo(chat, a, kind) {
  const turn = turnOf(chat, a.turnId);
  if (!turn) return false;
  let part = turn.responseParts.find((p) => p.id === a.partId && (p.kind === "markdown" || p.kind === "reasoning"));
  if (!part) {
    part = { kind, id: a.partId, content: "", _actionMeta: a._meta };
    turn.responseParts.push(part);
  }
  part.content += a.content ?? "";
  return true;
}

/** The pending permission requests of a chat: `{ turnId, part }` for each tool call awaiting confirmation. */
export function pendingConfirmations(chat) {
  const turn = chat.activeTurn;
  if (!turn) return [];
  return turn.responseParts.filter((p) => p.kind === "toolCall" && p.toolCall?.status === "pending-confirmation").map((part) => ({ turnId: turn.id, call: part.toolCall }));
}

/** The role an action came from (`_meta.ourocodus.role`), if it says. */
export function roleOfAction(action) {
  const role = action?._meta?.ourocodus?.role;
  return typeof role === "string" ? role : null;
}
