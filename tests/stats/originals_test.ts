// Stats over stores only the 2017 originals wrote (issue 19): MySQL and
// Redis built exactly as the Go and the Python servers build them, none of
// our eth_* tables or keys. Every route counts and lists every document,
// over MySQL alone, Redis alone and both; then one of our servers joins and
// writes, and the same stats (no restart) adds its documents up.
import assert from "node:assert/strict";
import { createStatsHandler, FleetLedger } from "../../lib/stats/mod.ts";
import {
  MysqlWriter,
  openReader,
  RedisWriter,
  type StoreConfig,
  type StoreReader,
} from "../../lib/store/mod.ts";
import { BlockTemplate } from "../../lib/shared/mod.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { makeDocument, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { parseMetrics, PYTHON_DDL } from "../_helpers/stats.ts";

/** gorm's AutoMigrate of the Go original's model, with its unique index. */
const GO_DDL = [
  "CREATE TABLE `ethereum_data` (`id` int unsigned AUTO_INCREMENT," +
  "`hash` varchar(64),`payload` text , PRIMARY KEY (`id`))",
  "CREATE UNIQUE INDEX idx_hash ON `ethereum_data`(hash)",
];

/** Blocks the originals stored: 202 and 205 are missing. */
const BLOCKS = [200, 201, 203, 204, 206];
/** Float seconds as the originals' clocks give them (Go and Python alike). */
const SCORE0 = 1_700_000_000.123456;
const IPS = ["10.1.0.1", "10.1.0.2", "10.1.0.1", "10.1.0.2", "10.1.0.1"];

type Style = "go" | "python";
type Stores = "mysql" | "redis" | "both";

interface Original {
  hash: string;
  block: number;
  payload: string;
  score: number;
}

/** Writes `BLOCKS` as the original server of `style` does, bypassing ours. */
async function writeAsOriginal(
  style: Style,
  db: TestDatabase | undefined,
  redis: TestRedis | undefined,
): Promise<Original[]> {
  const template = await BlockTemplate.load();
  if (db) {
    for (const ddl of style === "go" ? GO_DDL : [PYTHON_DDL]) {
      await db.query(ddl);
    }
  }
  const out: Original[] = [];
  for (const [i, block] of BLOCKS.entries()) {
    const payload = template.render(BigInt(block));
    const hash = sha256Hex(payload);
    const score = SCORE0 + i * 12.345678;
    if (db) {
      await db.query(
        "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
        [hash, payload],
      );
    }
    if (redis) {
      await redis.client.zadd(redis.key("eth:hashes"), "NX", score, hash);
      await redis.client.hincrby(redis.key("eth:ip_addresses"), IPS[i], 1);
    }
    out.push({ hash, block, payload, score });
  }
  return out;
}

function stats(reader: StoreReader, template: BlockTemplate) {
  const ledger = new FleetLedger(reader, { template, minRefreshMs: 0 });
  const handler = createStatsHandler(reader, { ledger });
  return async (path: string, status = 200) => {
    const response = await handler(new Request(`http://stats.test${path}`));
    const text = await response.text();
    assert.equal(response.status, status, `${path}: ${text}`);
    return text;
  };
}

async function tableState(db: TestDatabase): Promise<string[]> {
  const tables = await db.query<Record<string, string>>("SHOW TABLES");
  const out: string[] = [];
  for (const row of tables) {
    const name = Object.values(row)[0];
    const [create] = await db.query<Record<string, string>>(
      `SHOW CREATE TABLE \`${name}\``,
    );
    // The AUTO_INCREMENT counter moves with every insert; the DDL must not.
    out.push(create["Create Table"].replace(/ AUTO_INCREMENT=\d+/, ""));
  }
  return out.sort();
}

function metric(text: string, name: string): number | undefined {
  return parseMetrics(text).samples.find((s) => s.name === name)?.value;
}

/** What each route says of the originals' five documents. */
async function checkOriginals(
  get: ReturnType<typeof stats>,
  stores: Stores,
  originals: Original[],
) {
  const payloads = stores !== "redis";
  const dated = stores !== "mysql";
  const byHash = new Map(originals.map((o) => [o.hash, o]));

  const summary = JSON.parse(await get("/api/summary"));
  assert.equal(summary.documents, 5, "summary counts every document");
  if (payloads) assert.equal(summary.latest.block, 206);

  const blocks = JSON.parse(await get("/api/blocks")).blocks;
  assert.deepEqual(
    blocks.map((b: { hash: string }) => b.hash).sort(),
    [...byHash.keys()].sort(),
  );
  for (const b of blocks) {
    const o = byHash.get(b.hash)!;
    assert.equal(b.block, payloads ? o.block : null, `block of ${o.block}`);
    assert.equal(b.firstSeenKnown, dated);
    assert.equal(b.firstSeenMs, dated ? Math.round(o.score * 1000) : null);
    assert.equal(
      b.firstSeen,
      dated ? new Date(Math.round(o.score * 1000)).toISOString() : null,
    );
    assert.equal(b.server, null);
  }

  const one = originals[3];
  const doc = JSON.parse(await get(`/api/blocks/${one.hash}`));
  assert.equal(doc.block, payloads ? one.block : null);
  assert.equal(doc.payload, payloads ? one.payload : null);
  assert.equal(doc.firstSeenKnown, dated);

  const gaps = JSON.parse(await get("/api/gaps"));
  if (payloads) {
    assert.equal(gaps.from, 200);
    assert.equal(gaps.to, 206);
    assert.equal(gaps.missing, 2);
    assert.deepEqual(
      gaps.ranges.map((r: { from: number }) => r.from),
      [202, 205],
    );
  } else {
    // Redis keeps no payloads: no block number is known to it.
    assert.equal(gaps.from, null);
  }

  const clients = JSON.parse(await get("/api/clients")).clients;
  const cat = await get("/_cat/clients");
  if (dated) {
    assert.deepEqual(
      clients.map((c: { ip: string; count: number }) => [c.ip, c.count]),
      [["10.1.0.1", 3], ["10.1.0.2", 2]],
    );
    assert.equal(
      cat,
      "client      count\n10.1.0.1        3\n10.1.0.2        2",
    );
  } else {
    // MySQL holds no client IPs: the originals never stored them there.
    assert.deepEqual(clients, []);
  }

  const hashes = (await get("/_cat/hashes")).split("\n");
  assert.equal(hashes.length, 6, "a header and five documents");
  for (const line of hashes.slice(1)) {
    const [hash, timestamp] = line.split(/\s+/);
    assert.ok(byHash.has(hash));
    if (dated) {
      assert.equal(timestamp, byHash.get(hash)!.score.toFixed(4));
    } else assert.equal(timestamp, undefined, "an unknown time is blank");
  }
  if (payloads) {
    assert.equal(await get(`/_cat/hashes/${one.hash}`), one.payload);
  } else await get(`/_cat/hashes/${one.hash}`, 404);

  const servers = JSON.parse(await get("/api/servers")).servers;
  assert.deepEqual(
    servers.map((s: { server: string | null; documents: number }) => [
      s.server,
      s.documents,
    ]),
    [[null, 5]],
  );
  const metrics = await get("/metrics");
  assert.equal(metric(metrics, "eth_stats_documents"), 5);
  assert.equal(metric(metrics, "eth_stats_missing_blocks"), payloads ? 2 : 0);
  // Dated documents from 2023 are stale; undated ones cannot be judged, and
  // the store answers, so it is ready.
  await get("/readyz", dated ? 503 : 200);
}

/** One of our servers joins: two new blocks and a copy of an original's. */
async function ourServerJoins(
  get: ReturnType<typeof stats>,
  stores: Stores,
  config: StoreConfig,
) {
  const now = Date.now();
  const docs = await Promise.all(
    [205, 207, 200].map((b, i) =>
      makeDocument(b, { ip: "10.2.0.9", receivedAt: now + i, server: "ours:1" })
    ),
  );
  for (
    const open of [
      config.mysql && (() => MysqlWriter.open(config.mysql!)),
      config.redis && (() => RedisWriter.open(config.redis!)),
    ]
  ) {
    if (!open) continue;
    const writer = await open();
    try {
      assert.deepEqual(await writer.save(docs), [true, true, false]);
    } finally {
      await writer.close();
    }
  }

  const summary = JSON.parse(await get("/api/summary"));
  assert.equal(summary.documents, 7, "5 of the originals' and 2 of ours");
  const blocks = JSON.parse(await get("/api/blocks")).blocks;
  assert.equal(blocks.length, 7);
  const ours = blocks.filter((b: { server: string }) => b.server === "ours:1");
  assert.deepEqual(
    ours.map((b: { block: number }) => b.block).sort(),
    [205, 207],
  );
  for (const b of ours) assert.equal(b.firstSeenKnown, true);
  if (stores !== "redis") {
    const gaps = JSON.parse(await get("/api/gaps"));
    assert.equal(gaps.to, 207);
    assert.equal(gaps.missing, 1, "only 202 is missing now");
  }
  const metrics = await get("/metrics");
  assert.equal(metric(metrics, "eth_stats_documents"), 7);
  const clients = JSON.parse(await get("/api/clients")).clients;
  const counts = Object.fromEntries(
    clients.map((c: { ip: string; count: number }) => [c.ip, c.count]),
  );
  assert.equal(counts["10.2.0.9"], 3, "every copy counts for its client");
  if (stores !== "mysql") {
    assert.equal(counts["10.1.0.1"], 3);
    assert.equal(counts["10.1.0.2"], 2);
  }
}

for (
  const [style, stores] of [
    ["go", "mysql"],
    ["go", "redis"],
    ["go", "both"],
    ["python", "mysql"],
    ["python", "both"],
  ] as const
) {
  Deno.test(`originals: stats reads what the ${style} original stored in ${stores}`, async () => {
    await using db = stores === "redis"
      ? undefined
      : await TestDatabase.create(`orig_${style}`);
    await using redis = stores === "mysql"
      ? undefined
      : await TestRedis.create(`orig_${style}`);
    const originals = await writeAsOriginal(style, db, redis);
    const config: StoreConfig = {};
    if (db) config.mysql = db.config();
    if (redis) config.redis = redis.config();
    const before = db && await tableState(db);

    const reader = (await openReader(config))!;
    try {
      const get = stats(reader, await BlockTemplate.load());
      await checkOriginals(get, stores, originals);
      if (db) {
        assert.deepEqual(
          await tableState(db),
          before,
          "stats neither creates nor alters a table",
        );
      }
      if (redis) {
        assert.deepEqual(await redis.keys(), [
          redis.key("eth:hashes"),
          redis.key("eth:ip_addresses"),
        ]);
      }
      await ourServerJoins(get, stores, config);
    } finally {
      await reader.close();
    }
  });
}

Deno.test("originals: no ethereum_data yet reads as nothing stored", async () => {
  await using db = await TestDatabase.create("orig_none");
  const reader = (await openReader({ mysql: db.config() }))!;
  try {
    const get = stats(reader, await BlockTemplate.load());
    assert.equal(JSON.parse(await get("/api/summary")).documents, 0);
    assert.deepEqual(JSON.parse(await get("/api/blocks")).blocks, []);
    await get(`/api/blocks/${"a".repeat(64)}`, 404);
    assert.deepEqual(await tableState(db), []);
  } finally {
    await reader.close();
  }
});
