/**
 * The stats API: serves what the fleet stored, as the original Flask API's
 * routes, a JSON API and a live dashboard. Run `deno task stats --help` for
 * its options.
 *
 * @module
 */
import { parseStatsConfig } from "./lib/config.ts";
import { runMain } from "./lib/shared/run_main.ts";
import { runStats } from "./lib/stats/run_stats.ts";

if (import.meta.main) {
  await runMain("stats", parseStatsConfig, runStats);
}
