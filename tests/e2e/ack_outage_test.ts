/**
 * "Acknowledged means stored" across an outage and across shutdowns, judged
 * by what reaches MySQL and Redis: documents acknowledged while MySQL is cut
 * (the fault proxy) survive a `kill -9` and a restart on the same spool; and
 * ten `deno task server` runs, each sent SIGTERM to its whole process group
 * under load (so the signal arrives twice: `deno task` forwards it), exit 0
 * with "Stopped" and leave every acknowledged document stored.
 */
import assert from "node:assert/strict";
import { Child, startServer } from "../_helpers/process.ts";
import { FaultProxy } from "../_helpers/fault_proxy.ts";
import {
  MYSQL_PORT,
  storeArgs,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { freePort, waitFor, waitForPort } from "../_helpers/net.ts";
import { blastAcked } from "../_helpers/acked.ts";

/** Hashes in `hashes` that MySQL's `ethereum_data` (or Redis) lacks. */
async function missing(
  hashes: string[],
  db: TestDatabase,
  redis?: TestRedis,
): Promise<string[]> {
  if (hashes.length === 0) return [];
  const rows = await db.query<{ hash: string }>(
    "SELECT hash FROM ethereum_data",
  ).catch(() => []);
  const inMysql = new Set(rows.map((r) => r.hash));
  const scores = redis
    ? await redis.client.zmscore(redis.key("eth:hashes"), ...hashes)
    : hashes.map(() => 1);
  return hashes.filter((h, i) => !inMysql.has(h) || scores[i] === null);
}

Deno.test("a MySQL outage, then kill -9 and a restart on the same spool: every ok reaches MySQL", async () => {
  await using db = await TestDatabase.create("outagekill");
  await using proxy = FaultProxy.start({ port: MYSQL_PORT });
  const dir = await Deno.makeTempDir({ prefix: "eth-spool-" });
  try {
    const args = [
      ...storeArgs({ db, mysqlPort: proxy.port }),
      "--spool-dir",
      dir,
    ];
    const first = await startServer(args);
    try {
      const stop = new AbortController();
      const sending = blastAcked(first.port, {
        stride: 100_000,
        timeoutMs: 3000,
        from: 1_000_000,
        connections: 8,
        stop: stop.signal,
      });
      await waitFor(
        async () =>
          (await db.query("SELECT hash FROM ethereum_data")).length > 20,
        { what: "some documents in MySQL before the outage" },
      );
      proxy.cut();
      await new Promise((r) => setTimeout(r, 1500));
      await first.child.stop("SIGKILL");
      stop.abort();
      const acked = await sending;
      const lacking = await missing(acked, db);
      // The outage held documents that got `ok`: only the spool has them.
      assert.ok(lacking.length > 20, `${lacking.length} held in the outage`);
      proxy.restore();
      // A restart on the same spool, MySQL reachable again.
      await using second = await startServer(args);
      await waitFor(async () => (await missing(acked, db)).length === 0, {
        what: `${acked.length} acknowledged documents in MySQL`,
        timeoutMs: 30_000,
      });
      const rows = await db.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM ethereum_data",
      );
      // Each stored once: rows are distinct hashes by the unique key, and
      // no more than what was sent.
      assert.ok(Number(rows[0].n) >= acked.length);
      assert.equal((await second.child.stop("SIGTERM")).code, 0);
    } finally {
      await first.child.stop("SIGKILL");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ten `deno task server` runs, SIGTERM to the process group under load: each exits 0 with Stopped, every ok stored", async () => {
  await using db = await TestDatabase.create("sigterm");
  await using redis = await TestRedis.create("sigterm");
  const dir = await Deno.makeTempDir({ prefix: "eth-spool-" });
  try {
    const all: string[] = [];
    let twice = 0;
    for (let run = 0; run < 10; run++) {
      const port = freePort();
      // setsid: the task runs in a process group of its own, which the
      // test signals as a whole, as systemd or a shell's job control does.
      const child = new Child("setsid", [
        Deno.execPath(),
        "task",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--spool-dir",
        dir,
        // "Stopped" is an info line.
        "-v",
        ...storeArgs({ db, redis }),
      ]);
      try {
        await waitForPort(port);
        const stop = new AbortController();
        const sending = blastAcked(port, {
          stride: 100_000,
          timeoutMs: 3000,
          from: 10_000_000 * (run + 1),
          connections: 16,
          stop: stop.signal,
        });
        await new Promise((r) => setTimeout(r, 800));
        // The group: `deno task` and the server it runs both get it.
        Deno.kill(-child.pid, "SIGTERM");
        const status = await child.exited();
        stop.abort();
        const acked = await sending;
        assert.equal(
          status.code,
          0,
          `run ${run}: exit ${status.code}\n${child.stderr.join("\n")}`,
        );
        const log = child.stderr.join("\n");
        assert.match(log, /Stopped$/m, `run ${run}`);
        if (/SIGTERM again: still stopping/.test(log)) twice++;
        // The flush finished: nothing was left for the next start.
        assert.match(log, /mysql: .*, 0 kept in the spool/, `run ${run}`);
        assert.match(log, /redis: .*, 0 kept in the spool/, `run ${run}`);
        assert.ok(acked.length > 0, `run ${run}: nothing acknowledged`);
        // Flushed before exiting: stored now, no restart needed.
        assert.deepEqual(await missing(acked, db, redis), [], `run ${run}`);
        all.push(...acked);
      } finally {
        await child.stop("SIGKILL");
      }
    }
    assert.deepEqual(await missing(all, db, redis), []);
    // The point of signalling the group: the server got SIGTERM twice.
    assert.ok(twice > 0, "no run saw the forwarded second SIGTERM");
    console.log(
      `10 runs: ${all.length} documents acknowledged and stored; ` +
        `${twice} runs saw SIGTERM twice`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
