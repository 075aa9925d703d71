/**
 * The acknowledgement seen from the real client process (SPEC part 3),
 * judged by the store and the client's own metrics: with two servers in
 * `--host` sharing MySQL + Redis, one killed with `kill -9` mid-stream and
 * restarted, every block of a live anvil chain ends up stored exactly once;
 * a server that refuses the peer (`--allow-from`) or the frame (`err`) gives
 * the client no `ok`, and the client counts nothing as delivered.
 */
import assert from "node:assert/strict";
import { Anvil } from "../_helpers/anvil.ts";
import { type Child, runProgram, startServer } from "../_helpers/process.ts";
import { storeArgs, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { freePort, waitFor, waitForPort } from "../_helpers/net.ts";

/** Reads the client's `eth_client_acks_total` by result. */
async function acks(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`))
    .text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^eth_client_acks_total\{result="(\w+)"\} (\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Starts `server.ts` on `port` with `spool`, and waits until it accepts. */
async function serverOn(port: number, spool: string, args: string[]) {
  const child = runProgram("server.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--spool-dir",
    spool,
    ...args,
  ]);
  await waitForPort(port);
  return child;
}

Deno.test("two servers in --host, one killed with kill -9 and restarted: every block stored exactly once", async () => {
  await using db = await TestDatabase.create("clientack");
  await using redis = await TestRedis.create("clientack");
  await using anvil = await Anvil.start();
  const spools = [
    await Deno.makeTempDir({ prefix: "eth-spool-" }),
    await Deno.makeTempDir({ prefix: "eth-spool-" }),
  ];
  const ports = [freePort(), freePort()];
  const args = storeArgs({ db, redis });
  const servers: Child[] = [];
  try {
    servers[0] = await serverOn(ports[0], spools[0], args);
    servers[1] = await serverOn(ports[1], spools[1], args);
    await using client = runProgram("client.ts", [
      "--host",
      ports.map((p) => `127.0.0.1:${p}`).join(","),
      "--rpc-url",
      anvil.url,
      "--interval",
      "0.05",
      "--timeout",
      "1",
      "--ack",
      "required",
      "-v",
    ]);
    const stored = async () => {
      const rows = await db.query<{ block_number: string; n: number }>(
        "SELECT block_number, COUNT(*) AS n FROM eth_blocks GROUP BY block_number",
      ).catch(() => []);
      return new Map(rows.map((r) => [BigInt(r.block_number), Number(r.n)]));
    };
    // Mine one block at a time, so the client sends each one.
    const mine = async (count: number) => {
      for (let i = 0; i < count; i++) {
        await anvil.mine(1);
        await new Promise((r) => setTimeout(r, 60));
      }
    };
    // The client's first block (the head when it started) is where the
    // range begins.
    await mine(1);
    const { first } = await waitFor(async () => {
      const s = await stored();
      return s.size > 0
        ? { first: [...s.keys()].reduce((a, b) => a < b ? a : b) }
        : undefined;
    }, { what: "the first block stored" });
    await mine(15);
    // Killed mid-stream: blocks keep coming while it is down.
    await servers[0].stop("SIGKILL");
    await mine(15);
    servers[0] = await serverOn(ports[0], spools[0], args);
    await mine(15);
    const last = await anvil.blockNumber();
    await waitFor(async () => {
      const s = await stored();
      for (let b = first; b <= last; b++) if (!s.has(b)) return false;
      return true;
    }, { what: `blocks ${first}-${last} in MySQL`, timeoutMs: 30_000 });
    const s = await stored();
    for (let b = first; b <= last; b++) {
      assert.equal(s.get(b), 1, `rows for block ${b}`);
    }
    // Redis agrees: one hash per block.
    const hashes = await redis.client.zcard(redis.key("eth:hashes"));
    assert.equal(hashes, s.size);
    assert.equal(
      Number(
        (await db.query<{ n: string }>(
          "SELECT COUNT(*) AS n FROM ethereum_data",
        ))[0].n,
      ),
      s.size,
    );
    // The kill was felt: a send failed over to the other server.
    assert.match(client.stderr.join("\n"), /trying the next server/);
    assert.equal((await client.stop("SIGTERM")).code, 0);
  } finally {
    for (const s of servers) await s?.stop("SIGKILL");
    for (const dir of spools) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--allow-from refusal: the client process gets no ok and counts nothing delivered", async () => {
  await using anvil = await Anvil.start();
  await using server = await startServer([
    "--no-store",
    "--allow-from",
    "10.0.0.0/8",
  ]);
  const metricsPort = freePort();
  // The default, --ack auto: even for a server that never answered, a
  // refusal must not pass for the originals' close.
  await using client = runProgram("client.ts", [
    "--host",
    `127.0.0.1:${server.port}`,
    "--rpc-url",
    anvil.url,
    "--interval",
    "0.1",
    "--timeout",
    "1",
    "--metrics-port",
    String(metricsPort),
    "-v",
  ]);
  const counted = await waitFor(async () => {
    await anvil.mine(1);
    const a = await acks(metricsPort);
    return (a.none ?? 0) >= 3 ? a : undefined;
  }, { what: "failed sends counted", intervalMs: 200 });
  assert.equal(counted.ok ?? 0, 0);
  assert.equal(counted.close ?? 0, 0, "a refusal taken as delivery");
  assert.doesNotMatch(client.stderr.join("\n"), /Block \d+ sent to/);
  assert.match(server.child.stderr.join("\n"), /not in --allow-from/);
  assert.equal(server.child.stdout.length, 0);
});

Deno.test("a rejected frame (err too_long): the client process logs the reason once per block, counts err, no ok", async () => {
  await using anvil = await Anvil.start();
  await using server = await startServer([
    "--no-store",
    "--max-frame-bytes",
    "100",
  ]);
  const metricsPort = freePort();
  await using client = runProgram("client.ts", [
    "--host",
    `127.0.0.1:${server.port}`,
    "--rpc-url",
    anvil.url,
    "--interval",
    "0.1",
    "--timeout",
    "1",
    "--metrics-port",
    String(metricsPort),
    "-v",
  ]);
  const counted = await waitFor(async () => {
    await anvil.mine(1);
    const a = await acks(metricsPort);
    return (a.err ?? 0) >= 3 ? a : undefined;
  }, { what: "three refusals counted", intervalMs: 200 });
  assert.equal(counted.ok ?? 0, 0);
  assert.equal(counted.close ?? 0, 0);
  const log = client.stderr.join("\n");
  assert.match(log, /not stored: .*refused the document: too_long/);
  assert.doesNotMatch(log, /Block \d+ sent to/);
  // err is final: one attempt per block, no loop on it.
  const refusals = [...log.matchAll(/Block (\d+) not stored/g)].map((m) =>
    m[1]
  );
  assert.equal(new Set(refusals).size, refusals.length, "a block retried");
  assert.equal(server.child.stdout.length, 0);
});
