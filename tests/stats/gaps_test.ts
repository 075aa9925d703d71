// /api/gaps, /api/servers, the rate and the missing-blocks gauge over real
// stores: documents our servers wrote (with block numbers) and documents
// only an original server wrote (payload only, the number parsed from it).
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { FleetLedger } from "../../lib/stats/ledger.ts";
import { createStatsHandler } from "../../lib/stats/handler.ts";
import { openReader } from "../../lib/store/mod.ts";
import { MysqlWriter } from "../../lib/store/mod.ts";
import { RedisWriter } from "../../lib/store/mod.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import type { StoreReader, StoreWriter } from "../../lib/store/types.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { makeDocument, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { parseMetrics, writeOriginal } from "../_helpers/stats.ts";

const T0 = 1_700_000_000_000;

async function docs(blocks: number[], server = "srv-a:9999") {
  return await Promise.all(
    blocks.map((b, i) =>
      makeDocument(b, { receivedAt: T0 + i * 12_000, server })
    ),
  );
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function api(reader: StoreReader, template: BlockTemplate) {
  const ledger = new FleetLedger(reader, { template, minRefreshMs: 0 });
  const handler = createStatsHandler(reader, { ledger, now: () => T0 });
  return async (path: string) => {
    const response = await handler(new Request(`http://stats.test${path}`));
    const text = await response.text();
    assert.equal(response.status, 200, `${path}: ${text}`);
    return path === "/metrics" ? text : JSON.parse(text);
  };
}

/**
 * Blocks 100-140 with 105-107 and 120 withheld from our servers; 131 and
 * 133 written only by an original server; 132 by nobody.
 */
async function checkGaps(
  reader: StoreReader,
  writer: StoreWriter,
  writeOriginals: (blocks: number[]) => Promise<void>,
) {
  const template = await BlockTemplate.load();
  const get = api(reader, template);
  const ours = range(100, 140).filter((b) =>
    !(b >= 105 && b <= 107) && b !== 120 && !(b >= 131 && b <= 133)
  );
  await writer.save(await docs(ours.filter((b) => b < 125)));
  await writer.save(await docs(ours.filter((b) => b >= 125), "srv-b:9999"));
  await writeOriginals([131, 133]);

  const gaps = await get("/api/gaps");
  assert.deepEqual(gaps, {
    from: 100,
    to: 140,
    head: null,
    missing: 5,
    count: 3,
    truncated: false,
    complete: true,
    ranges: [
      { from: 105, to: 107, blocks: 3 },
      { from: 120, to: 120, blocks: 1 },
      { from: 132, to: 132, blocks: 1 },
    ],
  });
  const limited = await get("/api/gaps?limit=1");
  assert.equal(limited.truncated, true);
  assert.equal(limited.ranges.length, 1);
  assert.equal(limited.count, 3);

  const page = parseMetrics(await get("/metrics")).samples;
  assert.equal(
    page.find((s) => s.name === "eth_stats_missing_blocks")?.value,
    5,
  );

  const servers = await get("/api/servers");
  const byId = Object.fromEntries(
    servers.servers.map((
      s: { server: string | null; documents: number },
    ) => [String(s.server), s.documents]),
  );
  assert.deepEqual(byId, { "srv-a:9999": 21, "srv-b:9999": 13, null: 2 });
  assert.ok(servers.stores.length >= 1);
  assert.ok(
    servers.stores.every((s: { up: boolean }) => s.up),
    JSON.stringify(servers.stores),
  );
  const summary = await get("/api/summary");
  assert.equal(summary.documents, 36);
  assert.equal(summary.missingBlocks, 5);

  // A replay of what is missing closes the gaps; copies already stored
  // change nothing.
  await writer.save(await docs([105, 106, 107, 120, 132, 131, 100]));
  const closed = await get("/api/gaps");
  assert.equal(closed.missing, 0);
  assert.deepEqual(closed.ranges, []);
  const after = parseMetrics(await get("/metrics")).samples;
  assert.equal(
    after.find((s) => s.name === "eth_stats_missing_blocks")?.value,
    0,
  );
  assert.equal((await get("/api/summary")).documents, 41);
}

Deno.test("gaps: SQLite, with rows only in the originals' table", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_gaps_" });
  const path = `${dir}/eth.sqlite`;
  const writer = SqliteWriter.open(path);
  const reader = new SqliteReader(path);
  try {
    await checkGaps(reader, writer, async (blocks) => {
      const db = new DatabaseSync(path);
      try {
        for (const d of await docs(blocks)) {
          db.prepare("INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)")
            .run(d.hash, d.payload);
        }
      } finally {
        db.close();
      }
    });
  } finally {
    await reader.close();
    await writer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gaps: MySQL + Redis, with documents only an original server wrote", async () => {
  await using db = await TestDatabase.create("gaps");
  await using redis = await TestRedis.create("gaps");
  const template = await BlockTemplate.load();
  // The original created the table; ours use it as it is.
  await writeOriginal(db, redis, []);
  const mysql = await MysqlWriter.open(db.config());
  const cache = await RedisWriter.open(redis.config());
  const reader = await openReader({
    mysql: db.config(),
    redis: redis.config(),
  });
  try {
    await checkGaps(
      reader!,
      {
        name: "both",
        save: async (d) => {
          const [firsts] = await Promise.all([mysql.save(d), cache.save(d)]);
          return firsts;
        },
        close: () => Promise.resolve(),
      },
      async (blocks) => {
        await db.query("SELECT 1");
        for (const b of blocks) {
          const payload = template.render(BigInt(b));
          await db.query(
            "INSERT INTO ethereum_data (hash, payload) VALUES (SHA2(?, 256), ?)",
            [payload, payload],
          );
          await redis.client.zadd(
            redis.key("eth:hashes"),
            "NX",
            T0 / 1000,
            (await makeDocument(b)).hash,
          );
        }
      },
    );
  } finally {
    await reader!.close();
    await mysql.close();
    await cache.close();
  }
});

Deno.test("summary: the rate is the count over the window actually present", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_rate_" });
  const path = `${dir}/eth.sqlite`;
  const writer = SqliteWriter.open(path);
  const reader = new SqliteReader(path);
  try {
    // 15 documents over the last 30 s of a fleet that started 30 s ago.
    const now = T0 + 30_000;
    await writer.save(
      await Promise.all(
        range(1, 15).map((b) =>
          makeDocument(b, { receivedAt: T0 + (b - 1) * 2000 })
        ),
      ),
    );
    const handler = createStatsHandler(reader, { now: () => now });
    const summary = await (await handler(
      new Request("http://stats.test/api/summary"),
    )).json();
    assert.deepEqual(summary.rate, { blocks: 15, seconds: 30, perMinute: 30 });
    assert.equal(summary.blocksPerMinute, 30);
    // Ten minutes later the window is the last five minutes: none arrived.
    const later = createStatsHandler(reader, { now: () => now + 600_000 });
    const quiet = await (await later(
      new Request("http://stats.test/api/summary"),
    )).json();
    assert.deepEqual(quiet.rate, { blocks: 0, seconds: 300, perMinute: 0 });
  } finally {
    await reader.close();
    await writer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
