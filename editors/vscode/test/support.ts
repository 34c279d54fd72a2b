/**
 * Test harness: the real `ourocodus` binary with fake agents behind it. Every wait
 * is bounded; a failed wait says what the model holds.
 */

import { appendFileSync, existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";
import { TeamBridge, type BridgeOptions } from "../src/bridge.js";
import { OurocodusClient, type ClientOptions } from "../src/client.js";
import type { ToPanel } from "../src/webview/protocol.js";
import type { RoleModel, SessionModel } from "../src/model.js";

/** `$OUROCODUS_BIN`, else the release build of this repository. */
/** A fake agent's `update` step body: a completed edit tool call `d1` on /p/a.rs with this diff. */
export function diffUpdate(oldText: string, newText: string): string {
  return JSON.stringify({
    sessionUpdate: "tool_call",
    toolCallId: "d1",
    title: "edit a.rs",
    kind: "edit",
    status: "completed",
    content: [{ type: "diff", path: "/p/a.rs", oldText, newText }],
  });
}

export function ourocodusBin(): string {
  const bin = process.env.OUROCODUS_BIN ?? fileURLToPath(new URL("../../../target/release/ourocodus", import.meta.url));
  if (!existsSync(bin)) {
    throw new Error(`no ourocodus binary at ${bin}: build it (cargo build --release) or set OUROCODUS_BIN`);
  }
  return bin;
}

/** A team where every role is the fake agent named after its role; the first role is the route. */
export function teamToml(roles: string[], perRole = ""): string {
  let toml = `[defaults]\ncommand = ${JSON.stringify(ourocodusBin())}\nroute = [${JSON.stringify(roles[0])}]\n`;
  for (const role of roles) {
    toml += `\n[roles.${role}]\nargs = ["fake-agent", "--name", ${JSON.stringify(role)}]\n${perRole}\n`;
  }
  return toml;
}

export interface Team {
  client: OurocodusClient;
  dir: string;
  sessionId: string;
}

/** Starts a proxy for `roles` in a fresh directory, opens a session there, and stops it all after the test. */
export async function startTeam(t: TestContext, roles: string[], options: ClientOptions = {}): Promise<Team> {
  const dir = await mkdtemp(join(tmpdir(), "ourocodus-vscode-"));
  const config = join(dir, "team.toml");
  await writeFile(config, teamToml(roles));
  const client = await OurocodusClient.start({
    command: ourocodusBin(),
    args: ["--config", config, "--no-store"],
    cwd: dir,
    ...options,
  });
  t.after(async () => {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { sessionId } = await client.newSession(dir);
  return { client, dir, sessionId };
}

/** Resolves once `check` holds, re-checked on every model change and agent status; rejects after `ms`. */
export function waitFor<T>(client: OurocodusClient, what: string, check: () => T | undefined | false, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      let value: T | undefined | false;
      try {
        value = check();
      } catch (error) {
        finish();
        reject(error);
        return true;
      }
      if (value !== undefined && value !== false) {
        finish();
        resolve(value);
        return true;
      }
      return false;
    };
    const unsubscribe = [client.model.subscribe(() => void done()), client.onAgentStatus(() => void done())];
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${dump(client)}`));
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      for (const u of unsubscribe) u();
    };
    done();
  });
}

/** All the text a role said in a session. */
export function textOf(session: SessionModel, role: string): string {
  return (session.roles.get(role)?.entries ?? [])
    .map((e) => (e.kind === "text" ? e.text : ""))
    .join("");
}

export function roleOf(session: SessionModel, role: string): RoleModel {
  const model = session.roles.get(role);
  if (!model) throw new Error(`no role ${role} in the model; roles: ${[...session.roles.keys()].join(", ")}`);
  return model;
}

export function dump(client: OurocodusClient): string {
  const out: string[] = [];
  for (const session of client.model.sessions.values()) {
    out.push(`session ${session.sessionId} turns=${JSON.stringify(session.turns)} tasks=${JSON.stringify(session.tasks)}`);
    for (const role of session.roles.values()) out.push(`  ${role.role}: ${JSON.stringify(role.entries).slice(0, 1500)}`);
  }
  out.push(`agents: ${JSON.stringify([...client.agents.values()].map((a) => `${a.role}:${a.status}`))}`);
  return out.join("\n");
}

/** A `TeamBridge` for `roles` in a fresh directory, closed after the test. */
export async function startBridge(
  t: TestContext,
  roles: string[],
  options: Partial<BridgeOptions> = {},
): Promise<{ bridge: TeamBridge; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "ourocodus-bridge-"));
  const config = join(dir, "team.toml");
  await writeFile(config, teamToml(roles));
  const log = process.env.BRIDGE_STDERR;
  const onStderr = log ? (line: string) => appendFileSync(log, line + "\n") : undefined;
  const bridge = await TeamBridge.start({ command: ourocodusBin(), args: ["--config", config, "--no-store"], cwd: dir, onStderr, ...options });
  t.after(async () => {
    await bridge.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { bridge, dir };
}

/** A panel that keeps what it is posted, as structured clones (as `webview.postMessage` delivers them). */
export function recorder(): { post: (message: ToPanel) => void; messages: ToPanel[] } {
  const messages: ToPanel[] = [];
  return { messages, post: (message) => messages.push(structuredClone(message)) };
}

/**
 * What a panel attached later is sent in place of `messages`: each tool call once,
 * its latest state at its first place (the bridge's replay keeps it so).
 */
export function collapsedTools(messages: ToPanel[]): ToPanel[] {
  const firstAt = new Map<string, number>();
  const out: ToPanel[] = [];
  for (const message of messages) {
    if (message.type === "event" && message.event.kind === "tool") {
      const at = firstAt.get(message.event.toolCall.id);
      if (at !== undefined) {
        out[at] = message;
        continue;
      }
      firstAt.set(message.event.toolCall.id, out.length);
    }
    out.push(message);
  }
  return out;
}

/** Awaits `promise`, failing with `what` after `ms` (to say which step hung). */
export async function within<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
