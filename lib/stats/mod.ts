/**
 * The stats API: what a fleet stored, over HTTP. {@linkcode createStatsHandler}
 * is the whole API as one `(Request) => Promise<Response>` function over a
 * store's read side (the original `/_cat` routes, the JSON API under
 * `/api/`, the dashboard, `/livez`, `/readyz` and `/metrics`);
 * {@linkcode StatsServer} serves it; {@linkcode FleetLedger} follows what
 * the store holds (block runs, gaps, servers) by reading only what is new.
 *
 * @example Ask the API what an empty store holds
 * ```ts
 * import assert from "node:assert/strict";
 * import { openReader } from "../store/mod.ts";
 * import { createStatsHandler } from "./mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const reader = await openReader({ sqlitePath: `${dir}/none.sqlite` });
 * const handler = createStatsHandler(reader!);
 * const answer = await handler(new Request("http://stats/api/summary"));
 * assert.equal((await answer.json()).documents, 0);
 * await reader!.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export {
  createStatsHandler,
  DEFAULT_STALE_AFTER_MS,
  type StatsHandler,
  type StatsHandlerOptions,
} from "./handler.ts";
export {
  DEFAULT_MIN_REFRESH_MS,
  FleetLedger,
  type FleetLedgerOptions,
  type GapReport,
  type ServerTally,
} from "./ledger.ts";
export { type BlockRange, type Gaps, RangeSet } from "./ranges.ts";
export {
  runStats,
  startStats,
  StatsServer,
  type StatsServerOptions,
} from "./run_stats.ts";
export {
  parseStatsConfig,
  STATS_COMMAND,
  type StatsConfig,
  type StatsOptionTable,
} from "./options.ts";
