/**
 * DOM helpers for the panel: elements built with text content only. Nothing in
 * the panel assigns `innerHTML`; agent text reaches the page through these.
 */

/** Creates `<tag class=...>` with optional text content (set as text, never parsed). */
export function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A CSS-class-safe form of a status word (`waiting-on-you`, `in_progress`, `not started`). */
export function token(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
}

/** Removes every child of `node`. */
export function clear(node: Node): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}
