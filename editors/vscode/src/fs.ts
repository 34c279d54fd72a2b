/**
 * `fs/read_text_file` and `fs/write_text_file` for the agents: against the local
 * disk by default; the extension replaces them with its open documents.
 * (The proxy checks each role's policy before a request reaches the editor.)
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface FileAccess {
  /** The whole file's text. */
  read(path: string): Promise<string>;
  /** Replaces (or creates) the file with `content`. */
  write(path: string, content: string): Promise<void>;
}

export const localFiles: FileAccess = {
  read: (path) => readFile(path, "utf8"),
  async write(path, content) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content, "utf8");
  },
};

/** ACP's `line` (1-based) and `limit` (a number of lines) applied to a file's text. */
export function sliceLines(text: string, line?: number | null, limit?: number | null): string {
  if (line == null && limit == null) return text;
  const lines = text.split("\n");
  const start = Math.max(0, (line ?? 1) - 1);
  const end = limit == null ? lines.length : start + Math.max(0, limit);
  return lines.slice(start, end).join("\n");
}
