// events.js: the live event stream: every action with its serverSeq, the role it
// came from, its channel and type, filtered by role and by kind. Keeps the latest
// 20,000 and renders at most the latest 2,000 that pass the filters, so a long
// session stays fast. Knows the action envelope; nothing of the socket.

import { el, fill, plain } from "./dom.js";

const KEPT = 20_000;
const SHOWN = 2_000;

export class EventStream {
  constructor(container, roleSelect, kindSelect, counter) {
    Object.assign(this, { container, roleSelect, kindSelect, counter });
    this.rows = [];
    this.unrendered = [];
    this.roles = new Set();
    this.kinds = new Set();
    roleSelect.addEventListener("change", () => this.rerender());
    kindSelect.addEventListener("change", () => this.rerender());
  }

  /** Adds one action (`{ seq, role, channel, type, detail }`); shown at the next `flush`. */
  add(row) {
    this.rows.push(row);
    if (this.rows.length > KEPT) this.rows.splice(0, this.rows.length - KEPT);
    this.unrendered.push(row);
    this.offer(this.roleSelect, this.roles, row.role);
    this.offer(this.kindSelect, this.kinds, row.type);
  }

  clear() {
    this.rows = [];
    this.unrendered = [];
    this.rerender();
  }

  /** Renders what came since the last flush. */
  flush() {
    const fresh = this.unrendered.filter((row) => this.passes(row));
    this.unrendered = [];
    if (fresh.length === 0) return;
    const atBottom = this.container.scrollTop + this.container.clientHeight >= this.container.scrollHeight - 4;
    this.container.append(...fresh.slice(-SHOWN).map(line));
    while (this.container.childElementCount > SHOWN) this.container.firstElementChild.remove();
    if (atBottom) this.container.scrollTop = this.container.scrollHeight;
    this.count();
  }

  rerender() {
    this.unrendered = [];
    fill(this.container, this.rows.filter((row) => this.passes(row)).slice(-SHOWN).map(line));
    this.container.scrollTop = this.container.scrollHeight;
    this.count();
  }

  passes(row) {
    const role = this.roleSelect.value;
    const kind = this.kindSelect.value;
    return (!role || row.role === role) && (!kind || row.type === kind);
  }

  count() {
    this.counter.textContent = `${this.container.childElementCount} shown of ${this.rows.length}`;
  }

  offer(select, known, value) {
    if (!value || known.has(value)) return;
    known.add(value);
    select.append(el("option", { value, text: value }));
  }
}

function line(row) {
  return el(
    "div",
    { class: "event", dataset: { role: row.role ?? "", type: row.type } },
    el("span", { class: "seq", text: String(row.seq) }),
    el("span", { class: "event-role", text: row.role ?? "–" }),
    el("span", { class: "event-type", text: row.type }),
    el("span", { class: "event-detail", text: row.detail }),
  );
}

/** A short line saying what an action carries. */
export function detailOf(action) {
  const text = action.content ?? action.part?.content ?? action.message?.text ?? action.displayName ?? action.invocationMessage ?? action.reason ?? "";
  const shown = plain(text);
  return shown.length > 160 ? `${shown.slice(0, 160)}…` : shown;
}
