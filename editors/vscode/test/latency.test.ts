/**
 * A figure for the notes, never asserted: the time from a prompt being sent to its
 * first chunk being in the model (SDK, tap and model included), next to the
 * proxy's own figure for the same path (`ourocodus bench --only latency`).
 */

import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { ourocodusBin, startTeam } from "./support.js";

const TURNS = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const us = (ms: number) => `${(ms * 1000).toFixed(0)} us`;

test("prompt → first chunk in the model (printed, not asserted)", { timeout: 60_000 }, async (t) => {
  const { client, sessionId } = await startTeam(t, ["alpha"]);
  const samples: number[] = [];
  for (let i = 0; i < TURNS + 5; i++) {
    let first: number | undefined;
    const stop = client.model.subscribe((e) => {
      if (first === undefined && e.kind === "text" && e.role === "alpha") first = performance.now();
    });
    const sent = performance.now();
    await client.prompt(sessionId, "say hi");
    stop();
    if (i >= 5 && first !== undefined) samples.push(first - sent); // the first five warm up
  }
  samples.sort((a, b) => a - b);
  t.diagnostic(
    `client module: prompt sent -> first chunk in the model over ${samples.length} turns: ` +
      `p50 ${us(percentile(samples, 50))}, p90 ${us(percentile(samples, 90))}, max ${us(samples.at(-1)!)}`,
  );
  try {
    const { stdout } = await promisify(execFile)(ourocodusBin(), ["bench", "--quick", "--only", "latency"], { timeout: 45_000 });
    // Rows are `metric | baseline | proxy | ...`: the proxy's own peer, direct to a
    // fake agent (baseline) and through the proxy.
    for (const line of stdout.split("\n").filter((l) => l.includes("prompt -> first update"))) {
      const [metric, direct, proxied] = line.split("|").map((c) => c.trim());
      t.diagnostic(`proxy's own (ourocodus bench): ${metric}: ${proxied} through the proxy, ${direct} direct`);
    }
  } catch (error) {
    t.diagnostic(`proxy's own figure unavailable: ${(error as Error).message}`);
  }
});
