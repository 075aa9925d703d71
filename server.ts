/**
 * The server: receives block documents over TCP, prints them and stores the
 * first copy. Run `deno task server --help` for its options.
 *
 * @module
 */
import { parseServerConfig } from "./lib/config.ts";
import { runMain } from "./lib/shared/run_main.ts";
import { runServer } from "./lib/server/run_server.ts";

if (import.meta.main) {
  await runMain("server", parseServerConfig, runServer);
}
