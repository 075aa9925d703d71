/**
 * "Acknowledged means stored" (SPEC part 3), judged by what reaches the
 * stores: 32 connections send distinct documents, the server is killed
 * with SIGKILL mid-stream (and again within 0.5 s of listening), or stopped
 * with SIGTERM while its store cannot be reached, restarted on the same
 * spool, and every document that got `ok` must then be in every store.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startServer } from "../_helpers/process.ts";
import { storeArgs, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { blastAcked } from "../_helpers/acked.ts";

/** The hashes of `hashes` the SQLite file at `path` does not hold. */
function missingFromSqlite(path: string) {
  return (hashes: string[]): Promise<string[]> => {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const stored = new Set(
        db.prepare("SELECT hash FROM ethereum_data").all().map((r) =>
          String(r.hash)
        ),
      );
      return Promise.resolve(hashes.filter((h) => !stored.has(h)));
    } finally {
      db.close();
    }
  };
}

/** The hashes of `hashes` that MySQL or Redis does not hold. */
function missingFromMysqlOrRedis(db: TestDatabase, redis: TestRedis) {
  return async (hashes: string[]): Promise<string[]> => {
    if (hashes.length === 0) return [];
    const rows = await db.query<{ hash: string }>(
      "SELECT hash FROM ethereum_data",
    ).catch(() => []);
    const inMysql = new Set(rows.map((r) => r.hash));
    const scores = await redis.client.zmscore(
      redis.key("eth:hashes"),
      ...hashes,
    );
    return hashes.filter((h, i) => !inMysql.has(h) || scores[i] === null);
  };
}

async function crashAndRecover(
  args: string[],
  missing: (hashes: string[]) => Promise<string[]>,
  { runMs, from }: { runMs: number; from: number },
) {
  const first = await startServer(args);
  const stop = new AbortController();
  const sending = blastAcked(first.port, {
    from,
    connections: 32,
    stop: stop.signal,
  });
  await new Promise((r) => setTimeout(r, runMs));
  await first.child.stop("SIGKILL");
  stop.abort();
  const acked = await sending;
  // Restart on the same spool: it replays what the stores lack.
  await using second = await startServer(args);
  await waitFor(async () => (await missing(acked)).length === 0, {
    what: `${acked.length} acknowledged documents in every store`,
    timeoutMs: 30_000,
  });
  assert.deepEqual(await missing(acked), []);
  const status = await second.child.stop("SIGTERM");
  assert.equal(status.code, 0, second.child.stderr.join("\n"));
  return acked.length;
}

/**
 * Acknowledges into the spool while the store is out (`outage` args), is
 * stopped with SIGTERM (its flush cannot store anything), then restarted on
 * the same spool with the store back (`args`, after `restore`): every ok
 * must be stored.
 */
async function stopInOutageAndRecover(
  outage: string[],
  args: string[],
  missing: (hashes: string[]) => Promise<string[]>,
  restore: () => Promise<void> = () => Promise.resolve(),
) {
  const first = await startServer([...outage, "--store-flush-timeout", "1"]);
  const stop = new AbortController();
  const sending = blastAcked(first.port, {
    from: 70_000_000,
    connections: 32,
    stop: stop.signal,
  });
  await new Promise((r) => setTimeout(r, 1500));
  stop.abort();
  const acked = await sending;
  assert.ok(acked.length > 100, `only ${acked.length} acknowledged`);
  const stopped = await first.child.stop("SIGTERM");
  assert.equal(stopped.code, 0, first.child.stderr.join("\n"));
  assert.match(
    first.child.stderr.join("\n"),
    new RegExp(`${acked.length} documents not stored yet at shutdown`),
  );
  await restore();
  await using second = await startServer(args);
  await waitFor(async () => (await missing(acked)).length === 0, {
    what: `${acked.length} acknowledged documents in every store`,
    timeoutMs: 30_000,
  });
  const status = await second.child.stop("SIGTERM");
  assert.equal(status.code, 0, second.child.stderr.join("\n"));
}

Deno.test("kill -9 with 32 senders (SQLite): every ok is stored after a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sqlite = `${dir}/eth.sqlite`;
    const args = ["--sqlite-path", sqlite, "--spool-dir", `${dir}/spool`];
    const missing = missingFromSqlite(sqlite);
    const mid = await crashAndRecover(args, missing, {
      runMs: 2000,
      from: 1_000_000,
    });
    assert.ok(mid > 100, `only ${mid} acknowledged`);
    // At start-up: killed within 0.5 s of listening.
    await crashAndRecover(args, missing, { runMs: 300, from: 50_000_000 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kill -9 with 32 senders (MySQL + Redis): every ok is in both stores after a restart", async () => {
  await using db = await TestDatabase.create("ackcrash");
  await using redis = await TestRedis.create("ackcrash");
  const dir = await Deno.makeTempDir();
  try {
    const args = [...storeArgs({ db, redis }), "--spool-dir", `${dir}/spool`];
    const missing = missingFromMysqlOrRedis(db, redis);
    const mid = await crashAndRecover(args, missing, {
      runMs: 2000,
      from: 1_000_000,
    });
    assert.ok(mid > 100, `only ${mid} acknowledged`);
    await crashAndRecover(args, missing, { runMs: 300, from: 50_000_000 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM while SQLite cannot be opened: every ok is stored after a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sqlite = `${dir}/eth.sqlite`;
    const spool = ["--spool-dir", `${dir}/spool`];
    // A directory where the file should be: SQLite cannot open it (a
    // transient refusal: the server keeps acknowledging into its spool).
    await Deno.mkdir(sqlite);
    const args = ["--sqlite-path", sqlite, ...spool];
    const missing = missingFromSqlite(sqlite);
    await stopInOutageAndRecover(
      args,
      args,
      missing,
      () => Deno.remove(sqlite),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM while MySQL and Redis are unreachable: every ok is in both after a restart", async () => {
  await using db = await TestDatabase.create("ackstop");
  await using redis = await TestRedis.create("ackstop");
  const dir = await Deno.makeTempDir();
  try {
    const spool = ["--spool-dir", `${dir}/spool`];
    const closed = freePort();
    const outage = [
      ...storeArgs({ db, redis, mysqlPort: closed, redisPort: closed }),
      ...spool,
    ];
    const args = [...storeArgs({ db, redis }), ...spool];
    await stopInOutageAndRecover(
      outage,
      args,
      missingFromMysqlOrRedis(db, redis),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
