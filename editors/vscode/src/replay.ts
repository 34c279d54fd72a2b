/**
 * What the panel has been sent, kept for a panel opened (or reloaded) later:
 * bounded by count and by size, the oldest dropped first (and counted), and a
 * tool call's updates kept as one entry, its latest state at its first place (a
 * call updated many times with a big diff is kept once). Copies what it keeps, as
 * `postMessage` would: the model goes on changing the objects its events carry.
 * Knows the panel's messages, nothing of VS Code or the proxy.
 */

import type { ToPanel } from "./webview/protocol.js";

interface Entry {
  message: ToPanel;
  bytes: number;
  dropped?: boolean;
}

/** Roughly what a message costs to keep (text is counted by length, the rest as JSON). */
function weight(message: ToPanel): number {
  if (message.type === "event" && "delta" in message.event) return 64 + 2 * message.event.delta.length;
  return 64 + JSON.stringify(message).length;
}

export class Replay {
  private entries: Entry[] = [];
  private bytes = 0;
  /** How many messages were dropped to stay within bounds. */
  trimmed = 0;
  /** The entry of each tool call still kept, by id. */
  private readonly tools = new Map<string, Entry>();

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  push(message: ToPanel): void {
    const copy = structuredClone(message);
    const size = weight(copy);
    const toolId = copy.type === "event" && copy.event.kind === "tool" ? copy.event.toolCall.id : undefined;
    const earlier = toolId === undefined ? undefined : this.tools.get(toolId);
    if (earlier && !earlier.dropped) {
      this.bytes += size - earlier.bytes;
      earlier.message = copy;
      earlier.bytes = size;
    } else {
      const entry = { message: copy, bytes: size };
      this.entries.push(entry);
      this.bytes += size;
      if (toolId !== undefined) this.tools.set(toolId, entry);
    }
    this.trim();
  }

  /** Everything kept, oldest first. */
  messages(): ToPanel[] {
    return this.entries.map((e) => e.message);
  }

  /** Bytes kept, as `weight` counts them. */
  size(): number {
    return this.bytes;
  }

  /** Drops the oldest tenth at a time (one slice, not one shift per message) until within bounds. */
  private trim(): void {
    while (this.entries.length > 1 && (this.entries.length > this.maxMessages || this.bytes > this.maxBytes)) {
      let drop = Math.max(1, Math.ceil(this.entries.length / 10));
      if (this.entries.length <= this.maxMessages) {
        // Over the size only: drop just enough of the oldest.
        let freed = 0;
        drop = 0;
        while (drop < this.entries.length - 1 && this.bytes - freed > this.maxBytes) freed += this.entries[drop++]!.bytes;
      }
      for (const entry of this.entries.slice(0, drop)) {
        entry.dropped = true;
        this.bytes -= entry.bytes;
        if (entry.message.type === "event" && entry.message.event.kind === "tool") this.tools.delete(entry.message.event.toolCall.id);
      }
      this.entries = this.entries.slice(drop);
      this.trimmed += drop;
    }
  }
}
