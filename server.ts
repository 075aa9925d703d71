/**
 * The server: receives block documents over TCP, prints them and stores the
 * first copy. Run `deno task server --help` for its options.
 *
 * @module
 */
import { runServer, SERVER_COMMAND } from "./lib/server/mod.ts";
import { runMain } from "./lib/shared/mod.ts";

if (import.meta.main) {
  await runMain(SERVER_COMMAND, runServer);
}
