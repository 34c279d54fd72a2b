/**
 * The panel's page logic, as a controller with no `vscode` import: it takes the
 * messages the extension host posts (the `TeamModel`'s events, agent statuses,
 * permission requests) and renders them into the DOM element it is given, and it
 * sends what the user does through the injected `postMessage`.
 *
 * Layout: a tab per role plus a team tab (every role interleaved, each run
 * labelled with its role); a status badge on each role's tab; the session's task
 * graph as a checklist; tool cards with diffs and permission buttons; cancel,
 * restart and a prompt box. Clicks are handled by one delegated listener (no
 * inline handlers, so the page works under a CSP without 'unsafe-inline').
 */

import { PROXY_ROLE } from "../extensions.js";
import type { ModelEvent, Notice, PermissionRecord, PlanEntry, ToolCallModel } from "../model.js";
import type { AgentSummary, TaskPlanEntry, UsageResult } from "../types.js";
import { clear, el, token } from "./dom.js";
import { MarkdownStream, renderMarkdown } from "./markdown.js";
import { MentionCompleter } from "./mentions.js";
import { feedbackFor, isRejection, permissionBox, settleBox } from "./permission.js";
import { asToPanel, type Layout, type PermissionPrompt, type PostMessage, type ToPanel } from "./protocol.js";
import { createToolCard, renderToolCard } from "./toolcard.js";
import { usageLine } from "./usage.js";

/** The team tab's key (role names come from the proxy; this one is not a role). */
export const TEAM = "\u0000team";

type StreamKind = "text" | "thought" | "user";

interface Pane {
  element: HTMLElement;
  /** The block the next chunk of the same role and kind extends. */
  open?: { role: string; kind: StreamKind; markdown: MarkdownStream };
  cards: Map<string, HTMLElement>;
}

interface Pending {
  request: PermissionPrompt;
  answered?: string;
}

export class PanelController {
  private readonly doc: Document;
  private readonly tabs: HTMLElement;
  private readonly panes: HTMLElement;
  private readonly title: HTMLElement;
  private readonly taskList: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly paneOf = new Map<string, Pane>();
  private readonly tabOf = new Map<string, HTMLButtonElement>();
  private readonly pending = new Map<string, Pending>();
  /** Requests answered or withdrawn: never shown again. */
  private readonly settled = new Set<string>();
  /** The latest state of each tool call, by id (a permission card may come before or after it). */
  private readonly calls = new Map<string, ToolCallModel>();
  private selected = TEAM;
  private layout: Layout = "tabs";
  private readonly layoutButton: HTMLButtonElement;
  readonly mentions: MentionCompleter;

  constructor(
    private readonly root: HTMLElement,
    private readonly post: PostMessage,
  ) {
    this.doc = root.ownerDocument;
    clear(root);
    root.classList.add("ourocodus-panel");
    const toolbar = el(this.doc, "div", "toolbar");
    this.tabs = el(this.doc, "nav", "tabs");
    this.tabs.setAttribute("role", "tablist");
    const cancel = el(this.doc, "button", "cancel", "Cancel");
    cancel.type = "button";
    cancel.dataset.action = "cancel";
    this.layoutButton = el(this.doc, "button", "layout", "Split");
    this.layoutButton.type = "button";
    this.layoutButton.dataset.action = "layout";
    this.layoutButton.title = "Show every pane side by side, or one at a time";
    const sessions = el(this.doc, "button", "sessions", "Sessions");
    sessions.type = "button";
    sessions.dataset.action = "sessions";
    sessions.title = "Open an earlier session of this workspace";
    const actions = el(this.doc, "div", "actions");
    actions.append(sessions, this.layoutButton, cancel);
    toolbar.append(this.tabs, actions);
    const tasks = el(this.doc, "section", "tasks");
    tasks.hidden = true;
    tasks.append(el(this.doc, "h2", undefined, "Tasks"));
    this.taskList = el(this.doc, "ul", "task-list");
    tasks.append(this.taskList);
    this.title = el(this.doc, "div", "session-title");
    this.title.hidden = true;
    this.panes = el(this.doc, "div", "panes");
    const form = el(this.doc, "form", "prompt");
    this.input = el(this.doc, "textarea");
    this.input.name = "prompt";
    this.input.placeholder = "Prompt the team (@role to address one)";
    const send = el(this.doc, "button", "send", "Send");
    send.type = "submit";
    this.mentions = new MentionCompleter(this.doc, this.input, () => this.roles());
    form.append(this.mentions.element, this.input, send);
    root.append(toolbar, this.title, tasks, this.panes, form);
    root.dataset.layout = this.layout;
    this.ensurePane(TEAM);
    root.addEventListener("click", (event) => this.onClick(event));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    // Enter sends, Shift+Enter is a new line (the completer takes Enter first while it is open).
    this.input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      this.submit();
    });
  }

  /** The roles the panel knows, in the order their tabs appeared. */
  roles(): string[] {
    return [...this.paneOf.keys()].filter((key) => key !== TEAM);
  }

  /** Tabs (one pane at a time) or split (every pane side by side). */
  setLayout(layout: Layout): void {
    this.layout = layout;
    this.root.dataset.layout = layout;
    this.layoutButton.textContent = layout === "split" ? "Tabs" : "Split";
    this.select(this.selected);
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (text === "") return;
    this.post({ type: "prompt", text });
    this.input.value = "";
    this.mentions.hide();
  }

  /** Feeds the controller from `window`'s `message` events (what `webview.postMessage` delivers); returns a function that stops. */
  connect(target: Window): () => void {
    const listener = (event: MessageEvent) => {
      const message = asToPanel(event.data);
      if (message) this.handle(message);
    };
    target.addEventListener("message", listener);
    return () => target.removeEventListener("message", listener);
  }

  handle(message: ToPanel): void {
    switch (message.type) {
      case "config":
        return this.setLayout(message.layout);
      case "usage":
        return this.usage(message.usage);
      case "reset":
        return this.reset(message.title);
      case "event":
        return this.event(message.event);
      case "agent-status":
        return this.agentStatus(message.summary);
      case "permission-request":
        return this.permissionRequest(message.request);
      case "permission-settled":
        return this.settle(message.requestId, message.outcome);
    }
  }

  /** Renders one `TeamModel` event. */
  event(event: ModelEvent): void {
    switch (event.kind) {
      case "text":
      case "thought":
      case "user":
        this.stream(event.role, event.kind, event.delta);
        return;
      case "tool":
        this.tool(event.role, event.toolCall);
        return;
      case "plan":
        this.rolePlan(event.role, event.entries);
        return;
      case "tasks":
        this.tasks(event.entries);
        return;
      case "notice":
        this.notice(event.role, event.notice);
        return;
      case "permission":
        this.permissionRecord(event.role, event.permission);
        return;
      case "turn-end":
        for (const pane of this.paneOf.values()) this.close(pane);
        return;
      case "subagent":
        // A role's part of a turn ended: its next words start a new block.
        if (event.state && event.state !== "running") this.closeBlocks(event.role);
        return;
      default:
        return;
    }
  }

  /** Shows a role's status on its tab's badge. */
  agentStatus(summary: AgentSummary): void {
    this.ensurePane(summary.role);
    const badge = this.tabOf.get(summary.role)!.querySelector<HTMLElement>(".badge")!;
    badge.textContent = summary.status;
    badge.className = `badge status-${token(summary.status)}`;
    badge.title = summary.reason ?? "";
  }

  /** Each role's usage in its pane's header and tab tooltip; the total in the team pane's. */
  usage(usage: UsageResult): void {
    for (const role of usage.roles) {
      if (typeof role?.role !== "string" || role.role === PROXY_ROLE) continue;
      const line = usageLine(role);
      this.usageOf(this.ensurePane(role.role)).textContent = line;
      this.tabOf.get(role.role)!.title = line;
    }
    this.usageOf(this.paneOf.get(TEAM)!).textContent = usageLine(usage.total ?? {});
  }

  /** Empties the panel for another session (its history follows as events). */
  reset(title?: string): void {
    for (const [key, pane] of this.paneOf) if (key !== TEAM) pane.element.remove();
    for (const [key, tab] of this.tabOf) if (key !== TEAM) tab.remove();
    const team = this.paneOf.get(TEAM)!;
    clear(this.streamOf(team));
    team.cards.clear();
    team.open = undefined;
    this.paneOf.clear();
    this.paneOf.set(TEAM, team);
    const teamTab = this.tabOf.get(TEAM)!;
    this.tabOf.clear();
    this.tabOf.set(TEAM, teamTab);
    this.pending.clear();
    this.calls.clear();
    this.tasks([]);
    this.usageOf(team).textContent = "";
    this.title.textContent = title ?? "";
    this.title.hidden = !title;
    this.select(TEAM);
  }

  private usageOf(pane: Pane): HTMLElement {
    return pane.element.querySelector<HTMLElement>(":scope > .pane-header > .usage")!;
  }

  /** Shows the tab `key` (a role, or `TEAM`) and hides the others. */
  select(key: string): void {
    if (!this.paneOf.has(key)) return;
    this.selected = key;
    for (const [k, pane] of this.paneOf) pane.element.hidden = this.layout === "tabs" && k !== key;
    for (const [k, tab] of this.tabOf) tab.setAttribute("aria-selected", String(k === key));
  }

  private ensurePane(role: string): Pane {
    let pane = this.paneOf.get(role);
    if (pane) return pane;
    const isTeam = role === TEAM;
    const element = el(this.doc, "section", isTeam ? "pane team-pane" : "pane role-pane");
    element.dataset.pane = isTeam ? "team" : role;
    element.hidden = this.layout === "tabs" && role !== this.selected;
    const header = el(this.doc, "div", "pane-header");
    header.append(el(this.doc, "span", "usage"));
    element.append(header);
    if (!isTeam) {
      const restart = el(this.doc, "button", "restart", `Restart ${role}`);
      restart.type = "button";
      restart.dataset.action = "restart";
      restart.dataset.role = role;
      const plan = el(this.doc, "ul", "role-plan");
      plan.hidden = true;
      header.prepend(restart);
      element.append(plan);
    }
    const stream = el(this.doc, "div", "stream");
    element.append(stream);
    pane = { element, cards: new Map() };
    this.paneOf.set(role, pane);
    this.panes.append(element);
    const tab = el(this.doc, "button", "tab");
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.dataset.action = "tab";
    if (!isTeam) tab.dataset.tab = role;
    tab.setAttribute("aria-selected", String(role === this.selected));
    tab.append(el(this.doc, "span", "tab-name", isTeam ? "Team" : role));
    if (!isTeam) tab.append(el(this.doc, "span", "badge", ""));
    this.tabOf.set(role, tab);
    this.tabs.append(tab);
    return pane;
  }

  /** The panes an event of `role` shows in: its own and the team's. */
  private targets(role: string): { pane: Pane; labelled: boolean }[] {
    const team = { pane: this.paneOf.get(TEAM)!, labelled: true };
    // The proxy's own words (its notices, a replayed user prompt) are the team's: it is not a role with a tab.
    if (role === PROXY_ROLE) return [team];
    const own = this.ensurePane(role);
    return [
      { pane: own, labelled: false },
      team,
    ];
  }

  private streamOf(pane: Pane): HTMLElement {
    return pane.element.querySelector<HTMLElement>(":scope > .stream")!;
  }

  /** Starts an entry block in `pane`, labelled with its role in the team pane. */
  private block(pane: Pane, role: string, kind: string, labelled: boolean): HTMLElement {
    const entry = el(this.doc, "div", `entry entry-${kind}`);
    entry.dataset.role = role;
    if (labelled) entry.append(el(this.doc, "span", "role-label", role));
    this.streamOf(pane).append(entry);
    return entry;
  }

  private stream(role: string, kind: StreamKind, delta: string): void {
    for (const { pane, labelled } of this.targets(role)) {
      let open = pane.open;
      if (!open || open.role !== role || open.kind !== kind) {
        this.close(pane);
        const entry = this.block(pane, role, kind, labelled);
        if (kind === "user") entry.append(el(this.doc, "span", "entry-caption", "prompt"));
        const body = el(this.doc, "div", "entry-body");
        entry.append(body);
        open = { role, kind, markdown: new MarkdownStream(this.doc, body) };
        pane.open = open;
      }
      open.markdown.append(delta);
    }
  }

  private closeBlocks(role: string): void {
    for (const pane of this.paneOf.values()) if (pane.open?.role === role) this.close(pane);
  }

  /** Ends the pane's open text block: its last line is rendered as complete. */
  private close(pane: Pane): void {
    pane.open?.markdown.finish();
    pane.open = undefined;
  }

  private tool(role: string, call: ToolCallModel): void {
    this.calls.set(call.id, call);
    for (const { pane, labelled } of this.targets(role)) {
      const card = this.card(pane, role, call.id, labelled);
      renderToolCard(this.doc, card, call);
    }
  }

  /** The card of tool call `id` in `pane`, created (closing the open text block) if new. */
  private card(pane: Pane, role: string, id: string, labelled: boolean): HTMLElement {
    let card = pane.cards.get(id);
    if (!card) {
      this.close(pane);
      const entry = this.block(pane, role, "tool", labelled);
      card = createToolCard(this.doc, id);
      entry.append(card);
      pane.cards.set(id, card);
    }
    return card;
  }

  private rolePlan(role: string, entries: PlanEntry[]): void {
    const list = this.ensurePane(role).element.querySelector<HTMLElement>(":scope > .role-plan")!;
    this.checklist(list, entries.map((e) => ({ text: e.content, status: e.status })));
  }

  private tasks(entries: TaskPlanEntry[]): void {
    this.taskList.parentElement!.hidden = entries.length === 0;
    this.checklist(
      this.taskList,
      entries.map((e) => ({ text: e.content, status: e.status, detail: e.taskStatus, task: e.task })),
    );
  }

  private checklist(list: HTMLElement, items: { text: string; status: string; detail?: string; task?: string }[]): void {
    clear(list);
    list.hidden = items.length === 0;
    for (const item of items) {
      const li = el(this.doc, "li", `check status-${token(item.status)}`);
      li.dataset.status = item.status;
      if (item.task) li.dataset.task = item.task;
      const box = el(this.doc, "input");
      box.type = "checkbox";
      box.disabled = true;
      box.checked = item.status === "completed";
      li.append(box, el(this.doc, "span", "check-text", item.text));
      if (item.detail) li.append(el(this.doc, "span", "check-detail", item.detail));
      list.append(li);
    }
  }

  private notice(role: string, notice: Notice): void {
    for (const { pane, labelled } of this.targets(role)) {
      this.close(pane);
      const entry = this.block(pane, role, "notice", labelled);
      entry.classList.add(`severity-${notice.severity}`);
      entry.append(el(this.doc, "strong", "notice-title", notice.title));
      if (notice.description) entry.append(renderMarkdown(this.doc, notice.description));
    }
  }

  private permissionRequest(request: PermissionPrompt): void {
    // A request is shown once, however often the host sends it (a reattached panel gets the waiting ones again).
    if (this.pending.has(request.requestId) || this.settled.has(request.requestId)) return;
    this.pending.set(request.requestId, { request });
    for (const { pane, labelled } of this.targets(request.role)) {
      let card = pane.cards.get(request.toolCall.id);
      if (!card) {
        card = this.card(pane, request.role, request.toolCall.id, labelled);
        renderToolCard(this.doc, card, this.calls.get(request.toolCall.id) ?? { ...request.toolCall, status: "pending" });
      }
      card.querySelector<HTMLElement>(":scope > .tool-actions")!.append(permissionBox(this.doc, request));
    }
  }

  /** Disables a request's buttons everywhere and says how it ended. */
  private settle(requestId: string, outcome: string): void {
    const pending = this.pending.get(requestId);
    // Settled already (the host confirms a click made here): it keeps what it says.
    if (!pending) return;
    this.pending.delete(requestId);
    this.settled.add(requestId);
    const name = pending?.request.options.find((o) => o.optionId === outcome)?.name ?? outcome;
    for (const box of this.root.querySelectorAll<HTMLElement>(".permission")) {
      if (box.dataset.requestId === requestId) settleBox(this.doc, box, outcome, name);
    }
  }

  private permissionRecord(role: string, record: PermissionRecord): void {
    for (const [requestId, pending] of this.pending) {
      if (pending.request.toolCall.id === record.toolCallId) this.settle(requestId, record.outcome);
    }
    for (const { pane, labelled } of this.targets(role)) {
      this.close(pane);
      const entry = this.block(pane, role, "permission", labelled);
      entry.append(el(this.doc, "span", "permission-record", `${record.title}: ${record.outcome}`));
    }
  }

  private onClick(event: Event): void {
    const target = event.target as Element | null;
    const button = target?.closest?.("button");
    if (!button || button.disabled || !this.root.contains(button)) return;
    const data = button.dataset;
    switch (data.action) {
      case "tab":
        this.select(data.tab ?? TEAM);
        return;
      case "cancel":
        this.post({ type: "cancel" });
        return;
      case "sessions":
        this.post({ type: "sessions" });
        return;
      case "layout":
        this.setLayout(this.layout === "tabs" ? "split" : "tabs");
        this.post({ type: "layout", layout: this.layout });
        return;
      case "restart":
        if (data.role) this.post({ type: "restart", role: data.role });
        return;
      case "permission": {
        const requestId = data.requestId ?? "";
        const pending = this.pending.get(requestId);
        if (!pending || pending.answered || !data.optionId) return;
        pending.answered = data.optionId;
        const option = pending.request.options.find((o) => o.optionId === data.optionId);
        const feedback = option && pending.request.gate && isRejection(option) ? feedbackFor(button) : undefined;
        this.post({ type: "permission", requestId, optionId: data.optionId, ...(feedback ? { feedback } : {}) });
        this.settle(requestId, data.optionId);
        return;
      }
    }
  }
}
