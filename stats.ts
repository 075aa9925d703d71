/**
 * The stats API: serves what the fleet stored, as the original Flask API's
 * routes, a JSON API and a live dashboard. Run `deno task stats --help` for
 * its options.
 *
 * @module
 */
import { STATS_COMMAND } from "./lib/stats/options.ts";
import { runMain } from "./lib/shared/run_main.ts";
import { runStats } from "./lib/stats/run_stats.ts";

if (import.meta.main) {
  await runMain(STATS_COMMAND, runStats);
}
