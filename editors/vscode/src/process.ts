/**
 * Starts `ourocodus acp` and turns its stdio into the SDK's message stream.
 *
 * The JSON-RPC framing is the SDK's (`ndJsonStream`). One tap sits on the decoded
 * incoming messages: notifications the proxy streams (`session/update` and
 * `_ourocodus/*`) go to an observer, in wire order, instead of the SDK's
 * validating dispatcher. The SDK 2.4.0 stable entry point answers a
 * `session/update` whose variant it does not know with "Invalid params" and drops
 * it, which would lose the proxy's `subagent_update` and any variant newer than
 * the SDK (ACP clients must tolerate those). The model checks each field itself.
 * Requests, responses and `$/cancel_request` stay with the SDK.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { Readable, Writable } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";

export interface ProcessOptions {
  /** The `ourocodus` executable: a path, or a name found on PATH. Default `ourocodus`. */
  command?: string;
  /** Arguments after `acp`, e.g. `["--config", "team.toml"]`. */
  args?: string[];
  /** The proxy's working directory (where it looks for `./ourocodus.toml`). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Each line the proxy logs on stderr. Default: kept in `recentStderr` only. */
  onStderr?: (line: string) => void;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The notifications the tap hands to the observer instead of the SDK. */
export function isStreamedNotification(message: unknown): message is { method: string; params?: unknown } {
  if (typeof message !== "object" || message === null || "id" in message) return false;
  const method = (message as { method?: unknown }).method;
  return typeof method === "string" && (method === acp.methods.client.session.update || method.startsWith("_ourocodus/"));
}

export class ProxyProcess {
  readonly child: ChildProcess;
  readonly stream: acp.Stream;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** The last lines the proxy wrote on stderr (for error messages). */
  readonly recentStderr: string[] = [];
  private exit?: Exit;

  constructor(options: ProcessOptions, observe: (message: { method: string; params?: unknown }) => void) {
    const command = options.command ?? "ourocodus";
    this.child = spawn(command, ["acp", ...(options.args ?? [])], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => {
      // `close`, not `exit`: stderr has been read to its end by then.
      this.child.once("close", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once("error", (error) => {
        this.recentStderr.push(`cannot start ${command}: ${error.message}`);
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
    let partial = "";
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        this.recentStderr.push(line);
        if (this.recentStderr.length > 50) this.recentStderr.shift();
        options.onStderr?.(line);
      }
    });
    // A write after the proxy exited must not crash the extension host.
    this.child.stdin!.on("error", () => {});
    const raw = acp.ndJsonStream(
      Writable.toWeb(this.child.stdin!) as WritableStream<Uint8Array>,
      Readable.toWeb(this.child.stdout!) as unknown as ReadableStream<Uint8Array>,
    );
    const tap = new TransformStream<acp.AnyMessage, acp.AnyMessage>({
      transform(message, controller) {
        if (isStreamedNotification(message)) {
          observe(message);
        } else {
          controller.enqueue(message);
        }
      },
    });
    this.stream = { writable: raw.writable, readable: raw.readable.pipeThrough(tap) };
  }

  get exitStatus(): Exit | undefined {
    return this.exit;
  }

  /** Closes stdin (the proxy then shuts down its team), and escalates to signals after `graceMs`. */
  async stop(graceMs = 3000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.stdin?.end();
    const timer = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
    const done = await Promise.race([this.exited, timer(graceMs).then(() => undefined)]);
    if (done) return done;
    this.child.kill("SIGTERM");
    const terminated = await Promise.race([this.exited, timer(graceMs).then(() => undefined)]);
    if (terminated) return terminated;
    this.child.kill("SIGKILL");
    return this.exited;
  }
}
