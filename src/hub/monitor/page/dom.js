// dom.js: building the page's DOM from data, as text only. Every string an agent
// or the hub sends goes through textContent or a text node, never parsed as HTML.

/** An element: `props` are attributes (`class`, `text`, `dataset`, `on<event>`), then children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** Appends children (nodes or strings, as text; null and false skipped). */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** The element with this id (the page's own skeleton). */
export function byId(id) {
  return document.getElementById(id);
}

/** A string a value shows as: plain text, `{ markdown }` as its source, else JSON. */
export function plain(value) {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value.markdown === "string") return value.markdown;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Seconds as "1h 02m", "3m 07s" or "12s". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${s}s`;
}

/** A random UUID (v4) that does not need a secure context. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Calls `render` at most once a frame and at most every `gapMs`, however often it
 * is asked for: a flood of actions is drawn in a few batches, not one by one.
 */
export function throttled(render, gapMs = 0) {
  let asked = false;
  let last = 0;
  return () => {
    if (asked) return;
    asked = true;
    const wait = Math.max(0, last + gapMs - performance.now());
    setTimeout(() =>
      requestAnimationFrame(() => {
        asked = false;
        last = performance.now();
        render();
      }), wait);
  };
}
