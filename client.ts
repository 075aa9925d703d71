/**
 * The client: polls an Ethereum node and sends a document per new block to
 * a server. Run `deno task client --help` for its options.
 *
 * @module
 */
import { CLIENT_COMMAND } from "./lib/client/options.ts";
import { runMain } from "./lib/shared/run_main.ts";
import { runClient } from "./lib/client/run_client.ts";

if (import.meta.main) {
  await runMain(CLIENT_COMMAND, runClient);
}
