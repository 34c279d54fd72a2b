// monitor.js: the web monitor's controller. Connects to the hub it was served from
// as an AHP client, with the browser session a `/login` link began (its cookie goes
// with the upgrade by itself; its page key, from the redirect's fragment `#sk=`, is
// sent as `?sk=` and kept in localStorage once the hub let it in), or with a token
// taken from the URL fragment `#tkn=` (kept in sessionStorage); either fragment is
// removed from the address bar. Keeps local copies of the sessions, the selected
// session, its chats, agents and tasks, and renders them. Knows the hub's AHP
// contract (docs/hub.md); the DOM is built by the view modules.

import { AhpClient } from "./ahp.js";
import { renderAgents } from "./agents.js";
import { renderBoard, tasksFromPlan } from "./board.js";
import { renderChats, renderPermissions } from "./chats.js";
import { byId, el, fill, throttled, uuid } from "./dom.js";
import { EventStream, detailOf } from "./events.js";
import { setupPrompt } from "./prompt.js";
import { applyChatAction, applySessionAction, emptyChat, roleOfAction } from "./reduce.js";

const ROOT = "ahp-root://";
const TOKEN_KEY = "ourocodus.hub.token";
// Per origin, and an origin includes the port: no other local server's page reads it.
const PAGE_KEY = "ourocodus.hub.pageKey";
const RELOGIN = "run `ourocodus login-link` where the hub runs for a new link (it works once, for 10 minutes)";

const state = {
  client: null,
  clientId: `ourocodus-monitor-${uuid()}`,
  /** uri → SessionSummary */
  sessions: new Map(),
  selected: null,
  /** The selected session's state (its snapshot, kept current). */
  session: null,
  /** channel → { role, label, state, fromSeq, queued } (queued: actions before the snapshot) */
  chats: new Map(),
  /** role → { summary, at } */
  agents: new Map(),
  tasks: [],
  usage: null,
  retryMs: 500,
  /** A page key from `#sk=` not yet let in by the hub: never stored before it is. */
  candidateKey: null,
  /** The highest serverSeq up to which this page has every action of the channels it follows. */
  lastSeq: null,
  /** What changed since the last render (the board and transcripts are rebuilt only then). */
  dirty: { board: true, chats: "all" },
};

const view = {
  connection: byId("connection"),
  sessions: byId("sessions"),
  agents: byId("agents"),
  title: byId("session-title"),
  info: byId("session-info"),
  board: byId("board"),
  chats: byId("chats"),
  permissions: byId("permissions"),
  error: byId("prompt-error"),
};
const events = new EventStream(byId("events"), byId("filter-role"), byId("filter-kind"), byId("event-count"));

function meta() {
  return state.session?._meta?.ourocodus ?? {};
}

/**
 * What the socket is opened with: `query`, `?tkn=` with a token from `#tkn=` or the
 * one kept for this tab, else `?sk=` with a page key (the cookie, HttpOnly, is never
 * seen here); null with neither. `candidate`: the page key in `query` came from the
 * fragment and is not yet proven. The fragment is forgotten by the address bar at once.
 */
function credentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("tkn");
  const pageKey = fragment.get("sk");
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  // Only a candidate: any site can open this page with a `#sk=` of its choosing, and
  // storing it unseen would log every tab of this origin out.
  if (pageKey) state.candidateKey = pageKey;
  if (token || pageKey) history.replaceState(null, "", location.pathname + location.search);
  const kept = sessionStorage.getItem(TOKEN_KEY);
  if (kept) {
    // The token is used, so the candidate is never tried, and never proven.
    state.candidateKey = null;
    return { query: `?tkn=${encodeURIComponent(kept)}`, candidate: false };
  }
  const candidate = state.candidateKey !== null;
  const key = state.candidateKey ?? localStorage.getItem(PAGE_KEY);
  return { query: key ? `?sk=${encodeURIComponent(key)}` : null, candidate };
}

/**
 * The hub let the candidate in (the socket opened). The key kept for this origin, in
 * place of the old one, so reloads and other tabs use it, is a fresh one the hub
 * gives for it: the candidate came in the address, which browser history may keep,
 * and opens nothing once renewed. Should the renewal fail, the candidate is kept.
 */
async function keepCandidate(client) {
  const candidate = state.candidateKey;
  state.candidateKey = null;
  let renewed;
  try {
    renewed = (await client.request("_ourocodus/renewPageKey", { channel: ROOT }))?.pageKey;
  } catch {
    renewed = undefined;
  }
  localStorage.setItem(PAGE_KEY, typeof renewed === "string" && renewed ? renewed : candidate);
}

/**
 * The candidate's socket closed before it opened: taken as refused (a browser is not
 * told why an upgrade failed). It is forgotten, so the next attempt, the usual retry,
 * uses the key kept for this origin, if any.
 */
function dropCandidate() {
  state.candidateKey = null;
  setConnection("the login key in the address was refused (no live login of this hub); trying the key kept here", "error");
}

function notConnected(error) {
  // A browser is not told why an upgrade failed: the hub is down, or this login is over.
  setConnection(`not connected (${error.message}): if the hub runs, ${RELOGIN}; retrying`, "error");
}

function setConnection(text, kind) {
  view.connection.textContent = text;
  view.connection.dataset.state = kind;
}

function showError(message) {
  view.error.hidden = !message;
  view.error.textContent = message ?? "";
}

/** Runs a request, showing its failure instead of throwing. */
async function ask(method, params) {
  try {
    return await state.client.request(method, params);
  } catch (error) {
    showError(`${method}: ${error.message}`);
    return undefined;
  }
}

async function connect() {
  const { query, candidate } = credentials();
  if (query === null) {
    // A cookie alone opens nothing: without its page key (storage cleared, or never
    // logged in here) only a new login helps. Looked at again, in case another tab logs in.
    setConnection(`not logged in (this browser holds no login key for this page): ${RELOGIN}; waiting`, "error");
    return retryLater();
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const clientSeq = state.client?.clientSeq ?? 0;
  const client = new AhpClient(`${scheme}//${location.host}/${query}`, state.clientId, { onNotification, onClose }, clientSeq);
  state.client = client;
  try {
    await client.open();
  } catch (error) {
    // The close that refused it has already scheduled the retry (onClose).
    return candidate ? dropCandidate() : notConnected(error);
  }
  if (candidate) await keepCandidate(client);
  let resumed;
  try {
    resumed = await resume();
    if (resumed === null) {
      const init = await client.request("initialize", {
        channel: ROOT,
        protocolVersions: ["1.0.0"],
        clientId: state.clientId,
        clientInfo: { name: "ourocodus-monitor", version: "1" },
        initialSubscriptions: [ROOT],
      });
      seen(init?.serverSeq);
    }
  } catch (error) {
    return notConnected(error);
  }
  state.retryMs = 500;
  setConnection(resumed ? "connected (caught up)" : "connected", "open");
  await Promise.all([loadSessions(), loadAgents()]);
  if (resumed) {
    document.body.dataset.ready = "true";
    return render();
  }
  const again = state.selected;
  state.selected = null;
  const newest = [...state.sessions.keys()][0];
  if (again ?? newest) await select(again ?? newest);
  document.body.dataset.ready = "true";
  render();
}

/** Notes that every action up to `seq` on the followed channels is here. */
function seen(seq) {
  if (Number.isSafeInteger(seq)) state.lastSeq = Math.max(state.lastSeq ?? 0, seq);
}

/**
 * After a drop, asks the hub with `reconnect` for what this page missed since the
 * last serverSeq it saw. True: replayed (each missed action once, as if live);
 * false: the hub sent fresh snapshots instead (too long ago), to be loaded again;
 * null: nothing to resume, a first connection.
 */
async function resume() {
  if (state.lastSeq === null || !state.selected) return null;
  const followed = [ROOT, state.selected, ...state.chats.keys()];
  const result = await state.client.request("reconnect", {
    channel: ROOT,
    clientId: state.clientId,
    lastSeenServerSeq: state.lastSeq,
    subscriptions: followed,
  });
  if (result?.type !== "replay") {
    // Snapshots (too long ago, or another hub since): the session is loaded again,
    // and only the numbers of this hub count from now on.
    state.lastSeq = null;
    return false;
  }
  for (const envelope of result.actions ?? []) onAction(envelope);
  const missing = result.missing ?? [];
  if (missing.includes(state.selected)) return false;
  for (const channel of missing) {
    const chat = state.chats.get(channel);
    if (chat) {
      chat.fromSeq = null;
      void loadChat(channel);
    }
  }
  return true;
}

function onClose(reason) {
  setConnection(`disconnected (${reason}); retrying`, "error");
  retryLater();
}

function retryLater() {
  const wait = state.retryMs;
  state.retryMs = Math.min(wait * 2, 10_000);
  setTimeout(connect, wait);
}

async function loadSessions() {
  const listed = await ask("listSessions", { channel: ROOT });
  const items = [...(listed?.items ?? [])].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  state.sessions = new Map(items.map((s) => [s.resource, s]));
}

async function loadAgents() {
  const listed = await ask("_ourocodus/agents", { channel: ROOT });
  for (const summary of listed?.agents ?? []) state.agents.set(summary.role, { summary, at: Date.now() });
}

/** Shows a session: subscribes to it and its chats (dropping the previous one's). */
async function select(uri) {
  if (state.selected === uri) return;
  for (const channel of [state.selected, ...state.chats.keys()]) {
    if (channel) state.client.send({ jsonrpc: "2.0", method: "unsubscribe", params: { channel } });
  }
  Object.assign(state, { selected: uri, session: null, chats: new Map(), tasks: [], usage: null });
  state.dirty = { board: true, chats: "all" };
  events.clear();
  render();
  const subscribed = await ask("subscribe", { channel: uri });
  if (state.selected !== uri) return;
  seen(subscribed?.snapshot?.fromSeq);
  state.session = subscribed?.snapshot?.state ?? { title: uri };
  await Promise.all([syncChats(), refreshTasks(), refreshUsage()]);
  render();
}

/** Subscribes to the lead chat and every role chat the session's `_meta` names, once each. */
async function syncChats() {
  const m = meta();
  const wanted = [];
  if (m.leadChat) wanted.push({ channel: m.leadChat, role: "lead", label: "lead chat" });
  for (const role of m.roles ?? []) {
    const channel = m.roleChats?.[role];
    if (channel) wanted.push({ channel, role, label: `@${role}` });
  }
  const fresh = wanted.filter(({ channel }) => !state.chats.has(channel));
  for (const chat of fresh) state.chats.set(chat.channel, { ...chat, state: emptyChat(chat.channel), fromSeq: null, queued: [] });
  await Promise.all(fresh.map(({ channel }) => loadChat(channel)));
}

async function loadChat(channel) {
  const subscribed = await ask("subscribe", { channel });
  const chat = state.chats.get(channel);
  if (!chat) return;
  const snapshot = subscribed?.snapshot;
  seen(snapshot?.fromSeq);
  chat.state = { ...emptyChat(channel), ...(snapshot?.state ?? {}) };
  chat.state.turns = chat.state.turns ?? [];
  chat.fromSeq = snapshot?.fromSeq ?? 0;
  for (const envelope of chat.queued) applyToChat(chat, envelope);
  chat.queued = [];
  markChat(channel);
  render();
}

/** Asks for a chat to be drawn again at the next render. */
function markChat(channel) {
  if (state.dirty.chats !== "all") state.dirty.chats.add(channel);
}

function applyToChat(chat, envelope) {
  if (envelope.serverSeq > chat.fromSeq) applyChatAction(chat.state, envelope.action);
}

const refreshTasksSoon = debounce(refreshTasks, 100);
const refreshUsageSoon = debounce(refreshUsage, 500);

async function refreshTasks() {
  const uri = state.selected;
  if (!uri) return;
  let result;
  try {
    result = await state.client.request("_ourocodus/tasks", { channel: uri });
  } catch {
    result = undefined;
  }
  if (state.selected !== uri) return;
  state.tasks = Array.isArray(result?.tasks) ? result.tasks : tasksFromPlan(meta().plan);
  state.dirty.board = true;
  render();
}

async function refreshUsage() {
  const uri = state.selected;
  if (!uri) return;
  const usage = await state.client.request("_ourocodus/usage", { channel: uri }).catch(() => null);
  if (state.selected === uri) state.usage = usage;
  render();
}

function onNotification(method, params) {
  switch (method) {
    case "action":
      return onAction(params);
    case "root/sessionAdded":
      if (params.summary?.resource) {
        state.sessions = new Map([[params.summary.resource, params.summary], ...state.sessions]);
        if (!state.selected) void select(params.summary.resource);
      }
      return render();
    case "root/sessionRemoved":
      state.sessions.delete(params.session);
      return render();
    case "root/sessionSummaryChanged": {
      const known = state.sessions.get(params.session);
      if (known) state.sessions.set(params.session, { ...known, ...params.changes });
      return render();
    }
    case "_ourocodus/agentStatus":
      if (params.agent?.role) state.agents.set(params.agent.role, { summary: params.agent, at: Date.now() });
      return render();
    default:
      return undefined;
  }
}

function onAction(envelope) {
  const action = envelope?.action;
  if (!action || typeof action.type !== "string") return;
  seen(envelope.serverSeq);
  const chat = state.chats.get(envelope.channel);
  const role = roleOfAction(action) ?? (chat ? chat.role : envelope.channel === ROOT ? "root" : "session");
  const detail = envelope.rejectionReason ? `rejected: ${envelope.rejectionReason}` : detailOf(action);
  events.add({ seq: envelope.serverSeq, role, channel: envelope.channel, type: action.type, detail });
  if (envelope.rejectionReason) return render();
  if (envelope.channel === state.selected && state.session) {
    if (applySessionAction(state.session, action) && action.type === "session/metaChanged") {
      void syncChats();
      refreshTasksSoon();
    }
  } else if (chat) {
    if (chat.fromSeq === null) chat.queued.push(envelope);
    else applyToChat(chat, envelope);
    markChat(envelope.channel);
    if (action.type === "chat/usage" || action.type === "chat/turnComplete") refreshUsageSoon();
  }
  render();
}

/** The chats in the order shown: the lead chat, then the roles'. */
function chatList() {
  return [...state.chats.values()];
}

/** The running turn to cancel: the lead chat's, else any role's. */
function activeTurn() {
  const chats = chatList();
  const lead = chats.find((c) => c.role === "lead");
  return lead?.state.activeTurn ?? chats.map((c) => c.state.activeTurn).find(Boolean) ?? null;
}

const setRunning = setupPrompt(
  { form: byId("prompt-form"), box: byId("prompt"), completions: byId("completions"), cancel: byId("cancel") },
  {
    roles: () => meta().roles ?? [...state.agents.keys()],
    send(text) {
      const lead = meta().leadChat;
      if (!lead) return showError("select or start a session first");
      showError(null);
      state.client.dispatch(lead, { type: "chat/turnStarted", turnId: uuid(), startedAt: new Date().toISOString(), message: { text, origin: { kind: "user" } } });
    },
    cancel() {
      const lead = meta().leadChat;
      const turn = activeTurn();
      if (!lead || !turn) return;
      const duration = Math.max(0, Date.now() - (Date.parse(turn.startedAt) || Date.now()));
      state.client.dispatch(lead, { type: "chat/turnCancelled", turnId: turn.id, duration });
    },
  },
);

function answerPermission({ channel, turnId, call, option }) {
  const approved = option.kind === "approve";
  const answer = approved ? { confirmed: "user-action" } : { reason: "denied" };
  state.client.dispatch(channel, { type: "chat/toolCallConfirmed", turnId, toolCallId: call.toolCallId, approved, selectedOptionId: option.id, ...answer });
}

const taskActions = {
  async approve(task) {
    if (await ask("_ourocodus/approve", { channel: state.selected, task })) refreshTasksSoon();
  },
  async reject(task, feedback) {
    const params = { channel: state.selected, task, ...(feedback ? { feedback } : {}) };
    if (await ask("_ourocodus/reject", params)) refreshTasksSoon();
  },
};

async function restart(role) {
  const summary = await ask("_ourocodus/restart", { channel: ROOT, role });
  if (summary?.role) state.agents.set(summary.role, { summary, at: Date.now() });
  render();
}

async function newSession() {
  const uri = `ahp-session:/${uuid()}`;
  if ((await ask("createSession", { channel: uri, provider: "ourocodus" })) === undefined) return;
  await select(uri);
}

function renderSessions() {
  const items = [...state.sessions.values()].map((s) =>
    el(
      "li",
      { class: s.resource === state.selected ? "session selected" : "session", dataset: { uri: s.resource } },
      el("button", { type: "button", onclick: () => select(s.resource) }, el("span", { class: "session-title", text: s.title || "(untitled)" }), el("span", { class: "muted", text: s.createdAt ? new Date(s.createdAt).toLocaleString() : "" })),
    ),
  );
  if (items.length === 0) items.push(el("li", { class: "muted", text: "no sessions yet" }));
  fill(view.sessions, items);
}

function renderSessionHead() {
  const m = meta();
  view.title.textContent = state.session ? state.session.title || state.selected : "No session selected";
  const parts = [m.sessionId && `session ${m.sessionId}`, m.cwd && `in ${m.cwd}`, m.roles && `roles: ${m.roles.map((r) => `@${r}`).join(" ")}`];
  view.info.textContent = parts.filter(Boolean).join(" · ");
}

const render = throttled(() => {
  renderSessions();
  renderSessionHead();
  renderAgents(view.agents, state.agents, state.usage, restart);
  if (state.dirty.board) renderBoard(view.board, state.tasks, taskActions);
  const chats = chatList();
  const changed = state.dirty.chats;
  if (changed === "all" || changed.size > 0) {
    renderChats(view.chats, chats, changed === "all" ? null : changed);
    renderPermissions(view.permissions, chats, answerPermission);
  }
  state.dirty = { board: false, chats: new Set() };
  events.flush();
  setRunning(Boolean(activeTurn()));
}, 100);

function debounce(run, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
}

byId("new-session").addEventListener("click", () => void newSession());
// The agents' uptimes count on between the hub's reports.
setInterval(() => renderAgents(view.agents, state.agents, state.usage, restart), 1000);
void connect();
