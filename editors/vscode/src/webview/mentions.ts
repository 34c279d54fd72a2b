/**
 * `@role` completion in the prompt box: while the caret ends an `@word`, the
 * known roles starting with it are offered (plus `@all`); Tab or Enter takes the
 * highlighted one, arrows move, Escape closes, a click takes the one clicked.
 * Knows the input element and a list of role names, nothing of the panel.
 */

import { clear, el } from "./dom.js";

/** What the proxy reads as a mention: `@` then a role name's characters, at the start or after a space. */
const MENTION = /(^|\s)@([a-z0-9_-]*)$/i;

export class MentionCompleter {
  readonly element: HTMLUListElement;
  private matches: string[] = [];
  private active = 0;
  private start = 0;

  constructor(
    private readonly doc: Document,
    private readonly input: HTMLTextAreaElement,
    private readonly roles: () => string[],
  ) {
    this.element = el(doc, "ul", "mentions");
    this.element.hidden = true;
    this.element.setAttribute("role", "listbox");
    input.addEventListener("input", () => this.update());
    input.addEventListener("keydown", (event) => this.onKey(event), { capture: true });
    input.addEventListener("blur", () => this.hide());
    // mousedown, not click: the input keeps its focus and caret.
    this.element.addEventListener("mousedown", (event) => {
      const item = (event.target as Element | null)?.closest?.("li");
      if (!item?.dataset.role) return;
      event.preventDefault();
      this.accept(item.dataset.role);
    });
  }

  /** The roles offered right now (empty when closed). */
  get offered(): string[] {
    return this.element.hidden ? [] : [...this.matches];
  }

  /** Recomputes the offer from the text before the caret. */
  update(): void {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const match = MENTION.exec(this.input.value.slice(0, caret));
    if (!match) return this.hide();
    const prefix = match[2]!.toLowerCase();
    this.start = caret - prefix.length - 1;
    this.matches = [...this.roles(), "all"].filter((role, i, all) => role.startsWith(prefix) && all.indexOf(role) === i);
    if (this.matches.length === 0 || (this.matches.length === 1 && this.matches[0] === prefix)) return this.hide();
    this.active = 0;
    this.render();
  }

  /** Replaces the `@word` at the caret with `@role `. */
  accept(role: string): void {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const before = this.input.value.slice(0, this.start);
    const inserted = `@${role} `;
    this.input.value = before + inserted + this.input.value.slice(caret);
    const at = before.length + inserted.length;
    this.input.setSelectionRange(at, at);
    this.hide();
  }

  hide(): void {
    this.element.hidden = true;
    this.matches = [];
  }

  private render(): void {
    clear(this.element);
    this.matches.forEach((role, i) => {
      const item = el(this.doc, "li", i === this.active ? "mention active" : "mention", `@${role}`);
      item.dataset.role = role;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(i === this.active));
      this.element.append(item);
    });
    this.element.hidden = false;
  }

  private onKey(event: KeyboardEvent): void {
    if (this.element.hidden) return;
    const move = (by: number) => {
      this.active = (this.active + by + this.matches.length) % this.matches.length;
      this.render();
    };
    switch (event.key) {
      case "ArrowDown":
        move(1);
        break;
      case "ArrowUp":
        move(-1);
        break;
      case "Tab":
      case "Enter":
        this.accept(this.matches[this.active]!);
        break;
      case "Escape":
        this.hide();
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}
