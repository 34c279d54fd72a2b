// prompt.js: the prompt box: Enter sends (Shift+Enter a new line), `@` offers the
// session's roles (Tab or Enter takes the highlighted one, arrows move, Escape
// hides), Cancel stops the running turn. Knows the text box; nothing of AHP.

import { el, fill } from "./dom.js";

/** `hooks`: { roles(), send(text), cancel() }. Returns `setRunning(bool)`. */
export function setupPrompt({ form, box, completions, cancel }, hooks) {
  let offered = [];
  let highlighted = 0;

  const mentionAtCursor = () => {
    const before = box.value.slice(0, box.selectionStart);
    const match = /(^|\s)@([\w.-]*)$/.exec(before);
    return match ? { start: before.length - match[2].length - 1, word: match[2] } : null;
  };

  const show = () => {
    const mention = mentionAtCursor();
    offered = mention ? hooks.roles().filter((r) => r.startsWith(mention.word)) : [];
    highlighted = Math.min(highlighted, Math.max(0, offered.length - 1));
    completions.hidden = offered.length === 0;
    fill(
      completions,
      offered.map((role, i) =>
        el("li", { class: i === highlighted ? "completion active" : "completion", dataset: { role }, onmousedown: (e) => (e.preventDefault(), take(role)), text: `@${role}` }),
      ),
    );
  };

  const take = (role) => {
    const mention = mentionAtCursor();
    if (!mention) return;
    const after = box.value.slice(box.selectionStart);
    const head = `${box.value.slice(0, mention.start)}@${role} `;
    box.value = head + after.replace(/^\S*/, "").replace(/^\s/, "");
    box.setSelectionRange(head.length, head.length);
    show();
    box.focus();
  };

  const submit = () => {
    const text = box.value.trim();
    if (!text) return;
    hooks.send(text);
    box.value = "";
    show();
  };

  box.addEventListener("input", () => {
    highlighted = 0;
    show();
  });
  box.addEventListener("keydown", (event) => {
    if (!completions.hidden && offered.length > 0) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        highlighted = (highlighted + (event.key === "ArrowDown" ? 1 : offered.length - 1)) % offered.length;
        show();
        event.preventDefault();
        return;
      }
      if (event.key === "Tab" || event.key === "Enter") {
        take(offered[highlighted]);
        event.preventDefault();
        return;
      }
      if (event.key === "Escape") {
        completions.hidden = true;
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  cancel.addEventListener("click", () => hooks.cancel());
  return (running) => {
    cancel.disabled = !running;
  };
}
