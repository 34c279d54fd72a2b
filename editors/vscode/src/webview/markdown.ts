/**
 * A small, safe markdown subset, rendered straight into DOM nodes as it streams:
 * paragraphs (blank-line separated, single newlines kept as line breaks), fenced
 * code blocks, and within a line inline code and **bold**. Everything else stays
 * literal text.
 *
 * Agent text is never parsed as HTML: every piece ends up in a text node
 * (`textContent` / `createTextNode`), so `<script>` or `<img onerror>` in it
 * is shown as those characters and creates no element.
 *
 * Streaming is incremental: a finished line is rendered once and kept; the
 * unfinished last line is shown as plain text in one text node (its inline code
 * and bold appear when its newline arrives, or `finish()` says it is complete), so a long answer costs about what
 * its length costs, not its length times its chunk count.
 */

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const INLINE = /(`+)([^`]|[^`].*?[^`])\1(?!`)|\*\*([^*].*?)\*\*/g;

/** Appends one line's text with `inline code` and **bold** to `parent`; all else as text nodes. */
function inline(doc: Document, parent: Node, text: string): void {
  const add = (node: Node) => parent.appendChild(node);
  let last = 0;
  INLINE.lastIndex = 0;
  for (let m = INLINE.exec(text); m; m = INLINE.exec(text)) {
    if (m.index > last) add(doc.createTextNode(text.slice(last, m.index)));
    const node = doc.createElement(m[1] !== undefined ? "code" : "strong");
    node.textContent = m[1] !== undefined ? m[2]! : m[3]!;
    add(node);
    last = INLINE.lastIndex;
  }
  if (last < text.length) add(doc.createTextNode(text.slice(last)));
}

/** Renders markdown that arrives in pieces into `container`. */
export class MarkdownStream {
  /** The unfinished last line. */
  private partial = "";
  /** The open fence's marker, while inside a fenced block. */
  private fence: string | undefined;
  private paragraph: HTMLElement | undefined;
  private code: HTMLElement | undefined;
  private codeHasLine = false;
  /** The unfinished line, shown as plain text in one text node until its newline arrives. */
  private provisional: { nodes: Node[]; text: Text; prefix: string } | undefined;

  constructor(
    private readonly doc: Document,
    private readonly container: Node,
  ) {}

  append(delta: string): void {
    const lines = (this.partial + delta).split("\n");
    this.partial = lines.pop()!;
    if (lines.length > 0) {
      this.dropProvisional();
      for (const line of lines) this.line(line);
    }
    if (this.provisional) this.provisional.text.data = this.provisional.prefix + this.partial;
    else this.provisional = this.openProvisional(this.partial);
  }

  /** Renders the unfinished line as finished (the block is over: its turn ended, or another block began). */
  finish(): void {
    if (this.partial === "") return;
    this.dropProvisional();
    this.line(this.partial);
    this.partial = "";
  }

  private dropProvisional(): void {
    for (const node of this.provisional?.nodes ?? []) node.parentNode?.removeChild(node);
    this.provisional = undefined;
  }

  private openProvisional(line: string): MarkdownStream["provisional"] {
    if (line === "") return undefined;
    if (this.fence !== undefined) {
      const prefix = this.codeHasLine ? "\n" : "";
      const text = this.code!.appendChild(this.doc.createTextNode(prefix + line));
      return { nodes: [text], text, prefix };
    }
    if (line.trim() === "") return undefined;
    const text = this.doc.createTextNode(line);
    if (this.paragraph) {
      const br = this.paragraph.appendChild(this.doc.createElement("br"));
      this.paragraph.appendChild(text);
      return { nodes: [br, text], text, prefix: "" };
    }
    const p = this.container.appendChild(this.doc.createElement("p"));
    p.appendChild(text);
    return { nodes: [p], text, prefix: "" };
  }

  /** A finished line. */
  private line(line: string): void {
    if (this.fence !== undefined) {
      if (line.trimStart().startsWith(this.fence)) {
        this.fence = undefined;
        this.code = undefined;
      } else {
        this.code!.appendChild(this.doc.createTextNode((this.codeHasLine ? "\n" : "") + line));
        this.codeHasLine = true;
      }
      return;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      this.paragraph = undefined;
      const pre = this.doc.createElement("pre");
      const code = this.doc.createElement("code");
      if (/^[\w+-]+$/.test(fence[2] ?? "")) code.dataset.lang = fence[2]!;
      pre.appendChild(code);
      this.container.appendChild(pre);
      this.fence = fence[1]!;
      this.code = code;
      this.codeHasLine = false;
      return;
    }
    if (line.trim() === "") {
      this.paragraph = undefined;
      return;
    }
    if (this.paragraph) {
      this.paragraph.appendChild(this.doc.createElement("br"));
    } else {
      this.paragraph = this.doc.createElement("p");
      this.container.appendChild(this.paragraph);
    }
    inline(this.doc, this.paragraph, line);
  }
}

/** Renders `markdown` as a fragment of `<p>` and `<pre><code>` elements built from text nodes only. */
export function renderMarkdown(doc: Document, markdown: string): DocumentFragment {
  const fragment = doc.createDocumentFragment();
  const stream = new MarkdownStream(doc, fragment);
  stream.append(markdown);
  stream.finish();
  return fragment;
}
