/**
 * Baselines of the acknowledged path (issue 21), one program in two modes:
 *
 * - durable (`--path FILE`): accepts, reads to EOF, appends what it read to
 *   one file and answers `2:ok,` only after an `fdatasync` that covers it,
 *   one sync for everything appended meanwhile (group commit). No parsing,
 *   template, hash, stdout or store: the least a server that acknowledges
 *   durably must do.
 * - ok-only (no `--path`): the same, but writes nothing; it answers `2:ok,`
 *   as soon as the sender's input ends.
 *
 * The durable mode is our own copy of the reference program
 * `../shared/bench/durable_sink.ts` (beside the clone; the bench must not
 * import from there): the same reads, one append and one `fdatasync` per
 * group, the same answer. Only the command line and the SIGTERM report
 * differ, to fit the harness (`bench/_harness.ts`) as `bench/sink.ts` does.
 *
 * Usage: `deno run -A bench/durable_sink.ts --port PORT [--path FILE]`. On
 * SIGTERM it prints `{"connections":N,"bytes":N,"frames":N,"syncs":N}` to
 * stdout and exits (`frames`: connections answered that sent anything).
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string" }, path: { type: "string" } },
});
const OK = new TextEncoder().encode("2:ok,");
const file = values.path === undefined
  ? undefined
  : await Deno.open(values.path, { create: true, write: true, append: true });
let connections = 0;
let frames = 0;
let bytes = 0;
let syncs = 0;

let pending: Uint8Array[] = [];
let waiters: (() => void)[] = [];
let busy = false;

/** Appends everything pending, one write and one fdatasync per group. */
async function flush(): Promise<void> {
  if (busy || !file) return;
  busy = true;
  while (pending.length) {
    const parts = pending;
    const done = waiters;
    pending = [];
    waiters = [];
    const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) all.set(p, o), o += p.length;
    for (let w = 0; w < all.length;) w += await file.write(all.subarray(w));
    await file.syncData();
    syncs++;
    for (const d of done) d();
  }
  busy = false;
}

/** Resolves once `got` is durable (at once when nothing is written). */
function durable(got: Uint8Array[]): Promise<void> {
  if (!file) return Promise.resolve();
  return new Promise<void>((resolve) => {
    pending.push(...got);
    waiters.push(resolve);
    queueMicrotask(flush);
  });
}

async function serve(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  const got: Uint8Array[] = [];
  try {
    let r;
    while ((r = await conn.read(buf)) !== null) {
      got.push(buf.slice(0, r));
      bytes += r;
    }
    await durable(got);
    await conn.write(OK);
    connections++;
    // A port probe sends nothing: answered like the rest, not a document.
    if (got.length > 0) frames++;
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
  console.log(JSON.stringify({ connections, bytes, frames, syncs }));
  Deno.exit(0);
});

const listener = Deno.listen({
  hostname: "127.0.0.1",
  port: Number(values.port ?? 0),
});
for await (const conn of listener) serve(conn);
