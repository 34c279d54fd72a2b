/**
 * The panel's HTML page: a root element, the stylesheet and the script, under a
 * strict Content Security Policy. Nothing loads without the page's nonce (or,
 * for the stylesheet, from the webview's own resource origin), there are no
 * inline handlers, and `default-src 'none'` forbids everything else (images,
 * fonts, connections, frames).
 */

export interface PanelPage {
  /** `webview.cspSource` in VS Code: the origin its resources are served from. */
  cspSource: string;
  /** A fresh random nonce per page (`newNonce()`). */
  nonce: string;
  /** `webview.asWebviewUri(...)` of the bundled page script. */
  scriptUri: string;
  /** `webview.asWebviewUri(...)` of `media/panel.css`. */
  styleUri: string;
  title?: string;
}

/** 128 random bits, base64. */
export function newNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}

const escapeAttr = (value: string): string =>
  value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * One source `webview.cspSource` may hold: `'self'`, or a host (with or without a
 * scheme and port; a `*.` subdomain wildcard allowed). VS Code desktop gives one
 * host (`https://*.vscode-cdn.net`); VS Code for the web and code-server give
 * `'self' https://*.vscode-cdn.net`. Anything wider is refused: `*`, a scheme
 * alone (`https:`, `data:`), a keyword such as `'unsafe-inline'`, a `;` or `,`.
 */
const SOURCE = /^(?:'self'|(?:[a-z][a-z0-9+.-]*:\/\/)?(?:\*\.)?[a-z0-9+-]+(?:\.[a-z0-9+-]+)*(?::(?:\d+|\*))?(?:\/[^\s;,']*)?)$/i;

/** The sources of `cspSource`, each checked; throws on anything that would widen the policy. */
export function resourceSources(cspSource: string): string[] {
  const sources = cspSource.trim().split(/\s+/);
  if (sources.length === 0 || sources.length > 4 || !sources.every((s) => SOURCE.test(s))) {
    throw new Error(`cspSource must be 'self' or host sources, not ${JSON.stringify(cspSource)}`);
  }
  return sources;
}

/** The policy: nothing by default; the script by nonce; styles by nonce or from the webview's origin. */
export function contentSecurityPolicy(page: Pick<PanelPage, "cspSource" | "nonce">): string {
  if (!/^[A-Za-z0-9+/=_-]+$/.test(page.nonce)) throw new Error("the nonce must be base64");
  const sources = resourceSources(page.cspSource).join(" ");
  return [
    "default-src 'none'",
    `script-src 'nonce-${page.nonce}'`,
    `style-src ${sources} 'nonce-${page.nonce}'`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

export function panelHtml(page: PanelPage): string {
  const nonce = escapeAttr(page.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(page))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeAttr(page.title ?? "Ourocodus")}</title>
<link rel="stylesheet" nonce="${nonce}" href="${escapeAttr(page.styleUri)}">
</head>
<body>
<main id="ourocodus"></main>
<script nonce="${nonce}" src="${escapeAttr(page.scriptUri)}"></script>
</body>
</html>
`;
}
