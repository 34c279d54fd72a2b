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

/** The policy: nothing by default; the script by nonce; styles by nonce or from the webview's origin. */
export function contentSecurityPolicy(page: Pick<PanelPage, "cspSource" | "nonce">): string {
  if (!/^[A-Za-z0-9+/=_-]+$/.test(page.nonce)) throw new Error("the nonce must be base64");
  if (/[;,'\s]/.test(page.cspSource)) throw new Error("cspSource must be a single source expression");
  return [
    "default-src 'none'",
    `script-src 'nonce-${page.nonce}'`,
    `style-src ${page.cspSource} 'nonce-${page.nonce}'`,
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
