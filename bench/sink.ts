/**
 * Baseline: a bare TCP sink that accepts, reads netstrings and answers each
 * complete frame with `2:ok,` (SPEC part 3's acknowledgement), one write per
 * read, then closes at end of input. It does the least work our server must
 * do for the same load (find frame boundaries, answer each frame) and
 * nothing else: no UTF-8 check, no template, no hash, no stdout, no store.
 * Scenario rates are divided by its rate.
 *
 * Usage: `deno run -A bench/sink.ts --port PORT`. On SIGTERM it prints
 * `{"connections":N,"bytes":N,"frames":N}` to stdout and exits.
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
let frames = 0;

const OK = new TextEncoder().encode("2:ok,");
const runs = new Map<number, Uint8Array>();
function oks(count: number): Uint8Array {
  let run = runs.get(count);
  if (!run) {
    run = new Uint8Array(OK.length * count);
    for (let i = 0; i < count; i++) run.set(OK, i * OK.length);
    if (count <= 1024) runs.set(count, run);
  }
  return run;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

async function drain(conn: Deno.Conn) {
  const buffer = new Uint8Array(8 * 1024);
  // Netstring state: the length being read (-1: none yet), then the bytes
  // of body and comma still to skip.
  let length = -1;
  let skip = 0;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytes += n;
      let complete = 0;
      let i = 0;
      while (i < n) {
        if (skip > 0) {
          const take = Math.min(skip, n - i);
          skip -= take;
          i += take;
          if (skip === 0) complete++;
          continue;
        }
        const c = buffer[i++];
        if (c === 58) { // ':'
          skip = length + 1; // body and comma
          length = -1;
        } else {
          length = (length < 0 ? 0 : length * 10) + (c - 48);
        }
      }
      if (complete > 0) {
        frames += complete;
        await writeAll(conn, oks(complete));
      }
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
  console.log(JSON.stringify({ connections, bytes, frames }));
  Deno.exit(0);
});

for await (const conn of listener) drain(conn);
