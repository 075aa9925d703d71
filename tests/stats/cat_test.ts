// The original Flask routes (SPEC 1.6), on every store: the embedded SQLite
// file and MySQL+Redis written by our stores, and MySQL+Redis written the
// way the original Python server wrote them. Each is checked by calling the
// handler directly and over a real socket.
import assert from "node:assert/strict";
import { createStatsHandler } from "../../lib/stats/handler.ts";
import { CAT_INDEX } from "../../lib/stats/cat.ts";
import { StatsServer } from "../../lib/stats/run_stats.ts";
import { openReader } from "../../lib/store/mod.ts";
import { MysqlWriter } from "../../lib/store/mod.ts";
import { RedisWriter } from "../../lib/store/mod.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import type { ReceivedDocument, StoreReader } from "../../lib/store/types.ts";
import { makeDocument, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { writeOriginal } from "../_helpers/stats.ts";

type Get = (path: string, init?: RequestInit) => Promise<Response>;

interface Expected {
  hashes: string;
  clients: string;
  document: { hash: string; payload: string };
  unknown: string;
}

const HEADER = "hash" + " ".repeat(60) + "  " + "      timestamp";

/** Every original route, with the two documented fixes. */
async function checkOriginalRoutes(get: Get, expected: Expected) {
  const root = await get("/", { redirect: "manual" });
  await root.body?.cancel();
  assert.equal(root.status, 302);
  assert.equal(root.headers.get("location"), "/_cat");

  const index = await get("/_cat");
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-type"), "text/plain; charset=utf-8");
  const indexText = await index.text();
  assert.equal(indexText, CAT_INDEX);
  // The original's exact four lines come first, LF-separated.
  assert.ok(
    indexText.startsWith(
      "=^.^=\n/_cat/hashes\n/_cat/hashes/{hash}\n/_cat/clients\n",
    ),
  );
  assert.ok(indexText.split("\n").includes("/dashboard"));

  const hashes = await get("/_cat/hashes");
  assert.equal(hashes.status, 200);
  assert.equal(hashes.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await hashes.text(), expected.hashes);

  const clients = await get("/_cat/clients");
  assert.equal(clients.status, 200);
  assert.equal(await clients.text(), expected.clients);

  const doc = await get(`/_cat/hashes/${expected.document.hash}`);
  assert.equal(doc.status, 200);
  assert.equal(doc.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(
    doc.headers.get("content-security-policy"),
    "default-src 'none'",
  );
  assert.equal(doc.headers.get("x-content-type-options"), "nosniff");
  assert.equal(await doc.text(), expected.document.payload);

  // Upper-case hex names the same document.
  const upper = await get(
    `/_cat/hashes/${expected.document.hash.toUpperCase()}`,
  );
  assert.equal(await upper.text(), expected.document.payload);

  // Fix 1: well-formed but unknown is 404 with the original's body...
  const missing = await get(`/_cat/hashes/${expected.unknown}`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "Hash not found");
  // ...and malformed is 400.
  for (const bad of ["abc", "g".repeat(64), "a".repeat(65), "a".repeat(63)]) {
    const r = await get(`/_cat/hashes/${bad}`);
    assert.equal(r.status, 400, bad);
    assert.match(await r.text(), /^Malformed hash/);
  }
}

async function checkBothWays(reader: StoreReader, expected: Expected) {
  const handler = createStatsHandler(reader);
  await checkOriginalRoutes(
    (path, init) => handler(new Request(`http://stats.test${path}`, init)),
    expected,
  );
  await using server = StatsServer.listen(reader, {
    hostname: "127.0.0.1",
    port: 0,
  });
  await checkOriginalRoutes(
    (path, init) => fetch(new URL(path, server.url), init),
    expected,
  );
}

async function ourDocuments(): Promise<ReceivedDocument[]> {
  return [
    await makeDocument(5_000_000, {
      ip: "2001:db8::1",
      receivedAt: 1_600_000_000_000,
    }),
    await makeDocument(21_000_000, {
      ip: "10.0.0.7",
      receivedAt: 1_700_000_000_123,
    }),
    await makeDocument(21_000_001, {
      ip: "10.0.0.7",
      receivedAt: 1_700_000_012_456,
    }),
    // A second copy: counted for its client, not stored again.
    await makeDocument(21_000_001, {
      ip: "10.0.0.7",
      receivedAt: 1_700_000_012_999,
    }),
  ];
}

async function expectedForOurs(docs: ReceivedDocument[]): Promise<Expected> {
  const [d5m, d21m, d21m1] = docs;
  return {
    hashes: [
      HEADER,
      `${d21m1.hash}  1700000012.4560`,
      `${d21m.hash}  1700000000.1230`,
      `${d5m.hash}  1600000000.0000`,
    ].join("\n"),
    clients: "client         count\n10.0.0.7           3\n2001:db8::1        1",
    document: { hash: d21m.hash, payload: d21m.payload },
    unknown: (await makeDocument(1)).hash,
  };
}

Deno.test("cat routes: embedded SQLite store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_stats_cat_" });
  try {
    const path = `${dir}/eth.sqlite`;
    const docs = await ourDocuments();
    const writer = SqliteWriter.open(path);
    await writer.save(docs);
    await writer.close();
    const reader = await openReader({ sqlitePath: path });
    assert.ok(reader);
    try {
      await checkBothWays(reader, await expectedForOurs(docs));
    } finally {
      await reader.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cat routes: MySQL + Redis written by our server's stores", async () => {
  await using db = await TestDatabase.create("stats_cat");
  await using redis = await TestRedis.create("stats_cat");
  const docs = await ourDocuments();
  const mysqlWriter = await MysqlWriter.open(db.config());
  const redisWriter = await RedisWriter.open(redis.config());
  try {
    await mysqlWriter.save(docs);
    await redisWriter.save(docs);
  } finally {
    await mysqlWriter.close();
    await redisWriter.close();
  }
  const reader = await openReader({
    mysql: db.config(),
    redis: redis.config(),
  });
  assert.ok(reader);
  try {
    await checkBothWays(reader, await expectedForOurs(docs));
  } finally {
    await reader.close();
  }
});

Deno.test("cat routes: table and keys written by an original Python server", async () => {
  await using db = await TestDatabase.create("stats_orig");
  await using redis = await TestRedis.create("stats_orig");
  const payload = async (n: number) => (await makeDocument(n)).payload;
  // Python's time.time() floats; .03125 and .96875 are exact binary ties
  // that Python rounds to even.
  const [h5m, h21m, h21m1, h21m2] = await writeOriginal(db, redis, [
    {
      payload: await payload(5_000_000),
      score: 1500000000.96875,
      ip: "2001:db8::1",
    },
    {
      payload: await payload(21_000_000),
      score: 1600000000.03125,
      ip: "2001:db8::1",
    },
    {
      payload: await payload(21_000_001),
      score: 1700000000.123456,
      ip: "10.0.0.7",
    },
    // Read back as ms and divided again this would print .8151.
    {
      payload: await payload(21_000_002),
      score: 1700890766.81515,
      ip: "10.0.0.7",
    },
  ]);
  for (let i = 0; i < 10; i++) {
    await redis.client.hincrby(redis.key("eth:ip_addresses"), "2001:db8::1", 1);
  }
  const reader = await openReader({
    mysql: db.config(),
    redis: redis.config(),
  });
  assert.ok(reader);
  try {
    await checkBothWays(reader, {
      // Byte for byte what the Flask original printed for these keys
      // (Python tabulate 0.8.9, see stats_tabulate_test.ts).
      hashes:
        "hash                                                                    timestamp\n" +
        `${h21m2}  1700890766.8152\n` +
        `${h21m1}  1700000000.1235\n` +
        `${h21m}  1600000000.0312\n` +
        `${h5m}  1500000000.9688`,
      clients:
        "client         count\n2001:db8::1       12\n10.0.0.7           2",
      document: { hash: h5m, payload: await payload(5_000_000) },
      unknown: (await makeDocument(1)).hash,
    });
  } finally {
    await reader.close();
  }
});
