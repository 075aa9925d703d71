/**
 * The server: receives block documents over TCP, prints them and stores the
 * first copy. Run `deno task server --help` for its options.
 *
 * @module
 */
import { SERVER_COMMAND } from "./lib/server/options.ts";
import { runMain } from "./lib/shared/run_main.ts";
import { runServer } from "./lib/server/run_server.ts";

if (import.meta.main) {
  await runMain(SERVER_COMMAND, runServer);
}
