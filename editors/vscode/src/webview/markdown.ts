/**
 * A small, safe markdown subset, rendered straight into DOM nodes: paragraphs
 * (blank-line separated, single newlines kept as line breaks), fenced code
 * blocks, inline code and **bold**. Everything else stays literal text.
 *
 * Agent text is never parsed as HTML: every piece ends up in a text node
 * (`textContent` / `createTextNode`), so `<script>` or `<img onerror>` in it
 * is shown as those characters and creates no element.
 */

type Block = { kind: "paragraph"; text: string } | { kind: "code"; lang: string; text: string };

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)/;

/** Splits markdown into paragraphs and fenced code blocks. An unclosed fence runs to the end (it is still streaming). */
export function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push({ kind: "paragraph", text: paragraph.join("\n") });
    paragraph = [];
  };
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const marker = fence[1]!;
      const code: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trimStart().startsWith(marker)) code.push(lines[i++]!);
      out.push({ kind: "code", lang: fence[2] ?? "", text: code.join("\n") });
      continue;
    }
    if (line.trim() === "") flush();
    else paragraph.push(line);
  }
  flush();
  return out;
}

/** Appends `text` to `parent` with `inline code`, **bold** and line breaks; all else as text nodes. */
function inline(doc: Document, parent: Node, text: string): void {
  const pattern = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*([^*\n][^\n]*?)\*\*|\n/g;
  let last = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) parent.appendChild(doc.createTextNode(text.slice(last, m.index)));
    if (m[0] === "\n") {
      parent.appendChild(doc.createElement("br"));
    } else if (m[1] !== undefined) {
      const code = doc.createElement("code");
      code.textContent = m[2]!;
      parent.appendChild(code);
    } else {
      const strong = doc.createElement("strong");
      strong.textContent = m[3]!;
      parent.appendChild(strong);
    }
    last = pattern.lastIndex;
  }
  if (last < text.length) parent.appendChild(doc.createTextNode(text.slice(last)));
}

/** Renders `markdown` as a fragment of `<p>` and `<pre><code>` elements built from text nodes only. */
export function renderMarkdown(doc: Document, markdown: string): DocumentFragment {
  const fragment = doc.createDocumentFragment();
  for (const block of blocks(markdown)) {
    if (block.kind === "code") {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      if (/^[\w+-]+$/.test(block.lang)) code.dataset.lang = block.lang;
      code.textContent = block.text;
      pre.appendChild(code);
      fragment.appendChild(pre);
    } else {
      const p = doc.createElement("p");
      inline(doc, p, block.text);
      fragment.appendChild(p);
    }
  }
  return fragment;
}
