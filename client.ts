/**
 * The client: polls an Ethereum node and sends a document per new block to
 * a server. Run `deno task client --help` for its options.
 *
 * @module
 */
import { CLIENT_COMMAND, runClient } from "./lib/client/mod.ts";
import { runMain } from "./lib/shared/mod.ts";

if (import.meta.main) {
  await runMain(CLIENT_COMMAND, runClient);
}
