// board.js: the session's task graph as Kanban columns (inbox … failed), each
// card with its role, priority, dependencies and, in review, Approve and Reject
// (with feedback). Knows the Task shape (or a plan entry's `_meta` when no task
// list came); nothing of the socket.

import { el, fill } from "./dom.js";

const COLUMNS = [
  ["inbox", "inbox"],
  ["ready", "ready"],
  ["in_flight", "in flight"],
  ["review", "review"],
  ["done", "done"],
  ["blocked", "blocked"],
  ["failed", "failed"],
];

/** Tasks from a plan's entries, when only the plan is known. */
export function tasksFromPlan(plan) {
  return (plan ?? [])
    .map((entry) => ({ entry, meta: entry?._meta ?? {} }))
    .filter(({ meta }) => typeof meta.task === "string")
    .map(({ entry, meta }) => ({ id: meta.task, role: meta.role, status: meta.status, title: String(entry.content ?? ""), priority: entry.priority, depends_on: [] }));
}

/** `actions`: { approve(id), reject(id, feedback) }. */
export function renderBoard(container, tasks, actions) {
  const columns = COLUMNS.map(([status, label]) => {
    const mine = tasks.filter((t) => t.status === status);
    return el(
      "div",
      { class: "column", dataset: { status } },
      el("h3", {}, label, el("span", { class: "count", text: String(mine.length) })),
      mine.map((task) => card(task, actions)),
    );
  });
  fill(container, columns);
}

function card(task, actions) {
  const deps = task.depends_on ?? [];
  return el(
    "article",
    { class: "task", dataset: { task: task.id } },
    el("div", { class: "task-head" }, el("span", { class: "task-id", text: task.id }), el("span", { class: "task-role", text: task.role ? `@${task.role}` : "" }), task.priority && el("span", { class: "priority", dataset: { priority: task.priority }, text: task.priority })),
    el("div", { class: "task-title", text: task.title ?? "" }),
    deps.length > 0 && el("div", { class: "deps", text: `after ${deps.join(", ")}` }),
    task.requires_approval && task.status !== "review" && el("div", { class: "muted", text: "needs approval" }),
    task.summary && el("div", { class: "summary", text: task.summary }),
    task.status === "review" && review(task, actions),
  );
}

function review(task, actions) {
  const feedback = el("input", { type: "text", class: "feedback", placeholder: "feedback for a rejection", "aria-label": `feedback on ${task.id}` });
  return el(
    "div",
    { class: "review" },
    el("button", { type: "button", class: "approve", onclick: () => actions.approve(task.id), text: "Approve" }),
    el("button", { type: "button", class: "reject", onclick: () => actions.reject(task.id, feedback.value), text: "Reject" }),
    feedback,
  );
}
