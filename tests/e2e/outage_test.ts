/**
 * Store outages against a real server process: a fault-injecting proxy sits
 * between the server and MySQL, and another before Redis. Cutting them while
 * documents flow must delay storage, never lose or double a document.
 */
import assert from "node:assert/strict";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";
import {
  makeDocument,
  MYSQL_PORT,
  printedDocuments,
  REDIS_PORT,
  storeArgs,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { FaultProxy } from "../_helpers/fault_proxy.ts";
import { sendRaw, waitFor } from "../_helpers/net.ts";
import { startServer } from "../_helpers/process.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fixture {
  db: TestDatabase;
  redis: TestRedis;
  mysqlProxy: FaultProxy;
  redisProxy: FaultProxy;
}

async function withFixture(
  purpose: string,
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  await using db = await TestDatabase.create(purpose);
  await using redis = await TestRedis.create(purpose);
  await using mysqlProxy = FaultProxy.start({ port: MYSQL_PORT });
  await using redisProxy = FaultProxy.start({ port: REDIS_PORT });
  await fn({ db, redis, mysqlProxy, redisProxy });
}

function serverArgs(f: Fixture, extra: string[] = []): string[] {
  return [
    ...storeArgs({
      db: f.db,
      redis: f.redis,
      mysqlPort: f.mysqlProxy.port,
      redisPort: f.redisProxy.port,
    }),
    ...extra,
  ];
}

/** Sends documents for `blocks`, one connection each, `gapMs` apart. */
async function sendBlocks(
  port: number,
  blocks: number[],
  gapMs: number,
): Promise<ReceivedDocument[]> {
  const docs: ReceivedDocument[] = [];
  for (const block of blocks) {
    const doc = await makeDocument(block);
    await sendRaw(port, encodeNetstring(doc.payload));
    docs.push(doc);
    if (gapMs > 0) await delay(gapMs);
  }
  return docs;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

async function storedCounts(f: Fixture) {
  const [row] = await f.db.query(
    "SELECT COUNT(*) AS n, COUNT(DISTINCT hash) AS d FROM ethereum_data",
  ).catch(() => [{ n: 0, d: 0 }]);
  return {
    rows: Number(row.n),
    distinct: Number(row.d),
    hashes: await f.redis.client.zcard(f.redis.key("eth:hashes")),
  };
}

/** Asserts each sent document is stored exactly once in both stores. */
async function assertStoredOnce(f: Fixture, docs: ReceivedDocument[]) {
  const rows = await f.db.query<{ hash: string; payload: string }>(
    "SELECT hash, payload FROM ethereum_data",
  );
  const byHash = new Map(rows.map((r) => [r.hash, r.payload]));
  assert.equal(rows.length, docs.length, "ethereum_data rows");
  for (const doc of docs) assert.equal(byHash.get(doc.hash), doc.payload);
  const members = await f.redis.client.zrange(f.redis.key("eth:hashes"), 0, -1);
  assert.deepEqual(members.sort(), docs.map((d) => d.hash).sort());
  // Every document counted once per receipt, even across retried batches.
  assert.equal(
    await f.redis.client.hget(f.redis.key("eth:ip_addresses"), "127.0.0.1"),
    String(docs.length),
  );
  const [client] = await f.db.query("SELECT documents FROM eth_clients");
  assert.equal(Number(client.documents), docs.length);
}

/** The count of documents held during an outage, from the server's log. */
function heldFigures(stderr: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stderr) {
    const m =
      /(MySQL|Redis) .*: back after [\d.]+ s; writing the (\d+) documents/
        .exec(line);
    if (m) out[m[1]] = Math.max(out[m[1]] ?? 0, Number(m[2]));
  }
  return out;
}

Deno.test("outage: documents received while MySQL and Redis are cut are stored afterwards, once", async () => {
  await withFixture("outage_cut", async (f) => {
    await using server = await startServer(serverArgs(f));
    const before = await sendBlocks(server.port, range(1, 15), 10);
    await waitFor(async () => {
      const c = await storedCounts(f);
      return c.rows === 15 && c.hashes === 15;
    }, { what: "the first documents stored" });

    f.mysqlProxy.cut();
    f.redisProxy.cut();
    const cutAt = await storedCounts(f);
    // About three seconds of documents while both stores are unreachable.
    const during = await sendBlocks(server.port, range(100, 60), 50);
    // The server kept accepting and printing them...
    await waitFor(() => printedDocuments(server.child.stdout).length >= 75, {
      what: "DATA lines during the cut",
    });
    // ...and nothing reached the stores meanwhile.
    assert.deepEqual(await storedCounts(f), cutAt);
    f.mysqlProxy.restore();
    f.redisProxy.restore();

    const after = await sendBlocks(server.port, range(200, 15), 10);
    const all = [...before, ...during, ...after];
    await waitFor(async () => {
      const c = await storedCounts(f);
      return c.rows === all.length && c.hashes === all.length;
    }, { what: "every document stored after the outage" });
    const status = await server.child.stop("SIGTERM");
    assert.equal(status.code, 0);

    await assertStoredOnce(f, all);
    const stderr = server.child.stderr.join("\n");
    assert.match(stderr, /MySQL .*: unavailable \(/);
    assert.match(stderr, /Redis .*: unavailable \(/);
    const held = heldFigures(server.child.stderr);
    assert.ok(held.MySQL > 0 && held.Redis > 0, JSON.stringify(held));
    assert.doesNotMatch(stderr, /could not be stored|dropped the/);
    console.log(
      `outage: ${all.length} documents sent, ${during.length} during a cut of ` +
        `MySQL and Redis; held then flushed: ${JSON.stringify(held)}; ` +
        `stored once each (proxy dropped ${f.mysqlProxy.stats.dropped} MySQL ` +
        `and ${f.redisProxy.stats.dropped} Redis connections, refused ` +
        `${f.mysqlProxy.stats.refused + f.redisProxy.stats.refused})`,
    );
  });
});

Deno.test("outage: stores unreachable at start are retried, and the server says so", async () => {
  await withFixture("outage_start", async (f) => {
    f.mysqlProxy.cut();
    f.redisProxy.cut();
    await using server = await startServer(serverArgs(f));
    await server.child.waitForLine(/MySQL .*: unavailable/, {
      stream: "stderr",
    });
    await server.child.waitForLine(/Redis .*: unavailable/, {
      stream: "stderr",
    });
    const docs = await sendBlocks(server.port, range(1, 10), 0);
    await waitFor(() => printedDocuments(server.child.stdout).length === 10, {
      what: "DATA lines",
    });
    assert.equal(server.child.status, undefined, "the server is still running");
    f.mysqlProxy.restore();
    f.redisProxy.restore();
    await waitFor(async () => {
      const c = await storedCounts(f);
      return c.rows === 10 && c.hashes === 10;
    }, { what: "documents stored once the stores are reachable" });
    assert.equal((await server.child.stop("SIGTERM")).code, 0);
    await assertStoredOnce(f, docs);
  });
});

Deno.test("outage: shutdown during an outage reports what it could not store", async () => {
  await withFixture("outage_stop", async (f) => {
    await using server = await startServer(
      serverArgs(f, ["--store-flush-timeout", "1"]),
    );
    const stored = await sendBlocks(server.port, range(1, 3), 0);
    await waitFor(async () =>
      (await storedCounts(f)).rows === 3 &&
      (await storedCounts(f)).hashes === 3, { what: "first documents" });
    f.mysqlProxy.cut();
    f.redisProxy.cut();
    await sendBlocks(server.port, range(10, 5), 0);
    await waitFor(() => printedDocuments(server.child.stdout).length === 8, {
      what: "DATA lines",
    });
    assert.equal((await server.child.stop("SIGTERM")).code, 0);
    const stderr = server.child.stderr.join("\n");
    assert.match(
      stderr,
      /MySQL .*: 5 documents not stored yet at shutdown, kept in the spool/,
    );
    assert.match(
      stderr,
      /Redis .*: 5 documents not stored yet at shutdown, kept in the spool/,
    );
    f.mysqlProxy.restore();
    f.redisProxy.restore();
    await assertStoredOnce(f, stored);
  });
});
