/**
 * Baseline: a bare TCP sink that accepts, reads to end of input and closes,
 * doing nothing with the bytes. Scenario rates are divided by its rate.
 *
 * Usage: `deno run -A bench/sink.ts --port PORT`. On SIGTERM it prints
 * `{"connections":N,"bytes":N}` to stdout and exits.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string" }, host: { type: "string" } },
});
const listener = Deno.listen({
  hostname: values.host ?? "127.0.0.1",
  port: Number(values.port ?? 0),
});
let connections = 0;
let bytes = 0;

async function drain(conn: Deno.Conn) {
  const buffer = new Uint8Array(8 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytes += n;
    }
    connections++;
  } catch {
    // A reset peer is the load generator's problem, not the sink's.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

Deno.addSignalListener("SIGTERM", () => {
  console.log(JSON.stringify({ connections, bytes }));
  Deno.exit(0);
});

for await (const conn of listener) drain(conn);
