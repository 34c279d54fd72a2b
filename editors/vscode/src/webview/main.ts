/**
 * The page's entry script inside VS Code's webview: the controller on
 * `#ourocodus`, fed by the host's `postMessage`, answering through
 * `acquireVsCodeApi()`. Tells the host it is ready, so the host sends the
 * session so far. Bundled by esbuild into `dist/webview.js`.
 */

import { PanelController } from "./controller.js";
import type { FromPanel } from "./protocol.js";

interface VsCodeApi {
  postMessage(message: FromPanel): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
const root = document.getElementById("ourocodus");
if (root) {
  const controller = new PanelController(root, (message) => api.postMessage(message));
  controller.connect(window);
  api.postMessage({ type: "ready" });
}
