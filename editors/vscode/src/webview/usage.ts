/**
 * Usage as a short line for a pane's header: tokens, the context window, cost
 * per currency (never added across currencies). Formatting only.
 */

import type { Cost, Tokens } from "../types.js";

const compact = (n: number): string =>
  n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)}M` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n));

const money = (cost: Cost): string => `${cost.amount.toFixed(cost.amount < 1 ? 4 : 2)} ${cost.currency}`;

const finite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0;

/** E.g. `12.3k tokens · context 40.0k/200.0k · 0.0400 USD`; empty when nothing is known. */
export function usageLine(usage: { tokens?: Tokens; context?: { used: number; size: number }; cost?: Cost[] }): string {
  const parts: string[] = [];
  const total = usage.tokens?.totalTokens;
  if (finite(total) && total > 0) parts.push(`${compact(total)} tokens`);
  const ctx = usage.context;
  if (ctx && finite(ctx.used) && finite(ctx.size) && ctx.size > 0) parts.push(`context ${compact(ctx.used)}/${compact(ctx.size)}`);
  for (const cost of usage.cost ?? []) {
    if (finite(cost.amount) && typeof cost.currency === "string") parts.push(money(cost));
  }
  return parts.join(" · ");
}
