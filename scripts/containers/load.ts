/**
 * Load for `deno task containers`: `--connections` loops send distinct
 * documents to a server with `--ack required` until the server stops
 * answering (or `--seconds` pass), then print the SHA-256 of every document
 * acknowledged with `ok`, one a line, for run.sh to look up in the stores.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { blastAcked } from "../../tests/_helpers/acked.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    from: { type: "string", default: "10000000" },
    connections: { type: "string", default: "8" },
    seconds: { type: "string", default: "120" },
  },
}).values;

// Bounded even when the server never stops.
const stop = AbortSignal.timeout(Number(args.seconds) * 1000);
const acked = await blastAcked(Number(args.port), {
  from: Number(args.from),
  connections: Number(args.connections),
  stop,
});
console.log(acked.join("\n"));
console.error(`load: ${acked.length} documents acknowledged`);
