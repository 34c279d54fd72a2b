// Bundles the extension with esbuild into two files: dist/extension.cjs (the
// extension host's entry, CommonJS, `vscode` left to the host) and
// dist/webview.js (the panel page's script, one IIFE for the browser). Prints
// each file's size.
import { build } from "esbuild";
import { statSync } from "node:fs";

const common = { bundle: true, minify: true, legalComments: "none", logLevel: "warning" };
const outputs = [
  { entryPoints: ["src/extension.ts"], outfile: "dist/extension.cjs", platform: "node", format: "cjs", target: "node20", external: ["vscode"] },
  { entryPoints: ["src/webview/main.ts"], outfile: "dist/webview.js", platform: "browser", format: "iife", target: "chrome120" },
];
for (const options of outputs) {
  await build({ ...common, ...options });
  console.log(`${options.outfile}: ${(statSync(options.outfile).size / 1024).toFixed(1)} KiB`);
}
