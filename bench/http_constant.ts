/**
 * Baseline: a bare `Deno.serve` that answers every request with the same
 * short text. The stats API's rates are divided by its rate.
 *
 * Usage: `deno run -A bench/http_constant.ts --port PORT`.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string" }, host: { type: "string" } },
});
Deno.serve({
  hostname: values.host ?? "127.0.0.1",
  port: Number(values.port ?? 0),
  onListen: () => {},
}, () => new Response("ok\n", { headers: { "content-type": "text/plain" } }));
