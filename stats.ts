/**
 * The stats API: serves what the fleet stored, as the original Flask API's
 * routes, a JSON API and a live dashboard. Run `deno task stats --help` for
 * its options.
 *
 * @module
 */
import { runMain } from "./lib/shared/mod.ts";
import { runStats, STATS_COMMAND } from "./lib/stats/mod.ts";

if (import.meta.main) {
  await runMain(STATS_COMMAND, runStats);
}
