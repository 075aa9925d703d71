// The JSON API, health and metrics routes: shapes, limits, pagination,
// 400/404 paths, hostile input, and store failures, against real stores.
import assert from "node:assert/strict";
import { MAX_LIMIT } from "../../lib/stats/api.ts";
import {
  createStatsHandler,
  type StatsHandler,
} from "../../lib/stats/handler.ts";
import { StatsServer } from "../../lib/stats/run_stats.ts";
import { openReader } from "../../lib/store/mod.ts";
import { MysqlWriter } from "../../lib/store/mod.ts";
import { RedisWriter } from "../../lib/store/mod.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";
import { makeDocument, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { freePort } from "../_helpers/net.ts";
import { parseMetrics, rawRequest } from "../_helpers/stats.ts";

const T0 = 1_700_000_000_000;

/** 25 documents a second apart, blocks 100..124, three with equal times. */
async function documents(): Promise<ReceivedDocument[]> {
  const docs: ReceivedDocument[] = [];
  for (let i = 0; i < 25; i++) {
    docs.push(
      await makeDocument(100 + i, {
        ip: i % 3 === 0 ? "10.0.0.1" : "10.0.0.2",
        receivedAt: T0 + (i >= 10 && i < 13 ? 10 : i) * 1000,
        server: `srv-${i % 2}:9999`,
      }),
    );
  }
  return docs;
}

/** A SQLite file holding `docs`, removed on dispose. */
async function sqliteStore(docs: ReceivedDocument[]) {
  const dir = await Deno.makeTempDir({ prefix: "eth_stats_api_" });
  const path = `${dir}/eth.sqlite`;
  const writer = SqliteWriter.open(path);
  await writer.save(docs);
  await writer.close();
  const reader = new SqliteReader(path);
  return {
    path,
    reader,
    async [Symbol.asyncDispose]() {
      await reader.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function client(handler: StatsHandler) {
  return async (path: string, init?: RequestInit) => {
    const response = await handler(
      new Request(`http://stats.test${path}`, init),
    );
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: () => JSON.parse(text),
    };
  };
}

async function walkPages(
  get: ReturnType<typeof client>,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const r = await get(
      `/api/blocks?limit=${limit}${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
    );
    assert.equal(r.status, 200, r.text);
    const body = r.json();
    assert.ok(body.blocks.length <= limit);
    seen.push(...body.blocks);
    cursor = body.nextCursor;
    if (cursor === null) return seen;
    assert.equal(body.blocks.length, limit);
  }
  throw new Error("Pagination did not end");
}

function assertNewestFirst(
  blocks: Record<string, unknown>[],
  docs: ReceivedDocument[],
) {
  assert.equal(blocks.length, docs.length);
  assert.equal(new Set(blocks.map((b) => b.hash)).size, docs.length);
  assert.deepEqual(
    new Set(blocks.map((b) => b.hash)),
    new Set(docs.map((d) => d.hash)),
  );
  // By the exact receipt time: the JSON's ms are whole, Redis's are not.
  const received = new Map(docs.map((d) => [d.hash, d.receivedAt]));
  for (let i = 1; i < blocks.length; i++) {
    const [a, b] = [blocks[i - 1], blocks[i]];
    const [ta, tb] = [a, b].map((x) => received.get(x.hash as string)!);
    assert.ok(
      ta > tb || (ta === tb && (a.hash as string) > (b.hash as string)),
      `order at ${i}`,
    );
    assert.equal(a.firstSeenMs, Math.round(ta), "whole ms in the JSON");
  }
}

Deno.test("api: /api/blocks shape, default and bounds of limit", async () => {
  const docs = await documents();
  await using store = await sqliteStore(docs);
  const get = client(createStatsHandler(store.reader));

  const r = await get("/api/blocks");
  assert.equal(r.status, 200);
  assert.equal(
    r.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  const body = r.json();
  assert.deepEqual(Object.keys(body).sort(), ["blocks", "nextCursor"]);
  assert.equal(body.blocks.length, 25);
  assert.equal(body.nextCursor, null);
  const newest = docs[24];
  assert.deepEqual(body.blocks[0], {
    block: 124,
    hash: newest.hash,
    firstSeen: new Date(newest.receivedAt).toISOString(),
    firstSeenMs: newest.receivedAt,
    firstSeenKnown: true,
    server: "srv-0:9999",
  });

  const one = (await get("/api/blocks?limit=1")).json();
  assert.equal(one.blocks.length, 1);
  assert.equal(typeof one.nextCursor, "string");
  assert.equal((await get(`/api/blocks?limit=${MAX_LIMIT}`)).status, 200);

  for (
    const bad of [
      "0",
      "1001",
      "-1",
      "abc",
      "1.5",
      "1e2",
      " 5",
      "",
      "99999999999999999999",
    ]
  ) {
    const e = await get(`/api/blocks?limit=${encodeURIComponent(bad)}`);
    assert.equal(e.status, 400, `limit=${bad}`);
    assert.deepEqual(e.json(), {
      error: "limit must be an integer from 1 to 1000",
    });
  }
  const unknown = await get("/api/blocks?limt=5");
  assert.equal(unknown.status, 400);
  assert.match(unknown.json().error, /Unknown query parameter "limt"/);
  const twice = await get("/api/blocks?limit=5&limit=6");
  assert.equal(twice.status, 400);
  assert.match(twice.json().error, /given twice/);
  const cursor = await get("/api/blocks?cursor=nope");
  assert.equal(cursor.status, 400);
  assert.match(cursor.json().error, /^Malformed cursor/);
});

Deno.test("api: cursor pagination visits every document once, newest first (SQLite)", async () => {
  const docs = await documents();
  await using store = await sqliteStore(docs);
  const get = client(createStatsHandler(store.reader));
  for (const limit of [1, 4, 7, 25, 100]) {
    assertNewestFirst(await walkPages(get, limit), docs);
  }
});

Deno.test("api: cursor pagination over Redis scores with fractions of a ms", async () => {
  await using db = await TestDatabase.create("stats_page");
  await using redis = await TestRedis.create("stats_page");
  const docs = (await documents()).map((d, i) => ({
    ...d,
    // Python-like float seconds; equal times stay equal.
    receivedAt: d.receivedAt + (i % 4) * 0.123456,
  }));
  const writers = [
    await MysqlWriter.open(db.config()),
    await RedisWriter.open(redis.config()),
  ];
  for (const w of writers) {
    await w.save(docs);
    await w.close();
  }
  const reader = (await openReader({
    mysql: db.config(),
    redis: redis.config(),
  }))!;
  try {
    const get = client(createStatsHandler(reader));
    for (const limit of [1, 3, 10]) {
      assertNewestFirst(await walkPages(get, limit), docs);
    }
  } finally {
    await reader.close();
  }
});

Deno.test("api: one document, clients, summary and series", async () => {
  const docs = await documents();
  await using store = await sqliteStore(docs);
  // 30 s after the newest document.
  const now = T0 + 54_000;
  const get = client(createStatsHandler(store.reader, { now: () => now }));

  const doc = await get(`/api/blocks/${docs[3].hash}`);
  assert.equal(doc.status, 200);
  assert.deepEqual(doc.json(), {
    block: 103,
    hash: docs[3].hash,
    firstSeen: new Date(T0 + 3000).toISOString(),
    firstSeenMs: T0 + 3000,
    firstSeenKnown: true,
    server: "srv-1:9999",
    lastSeen: new Date(T0 + 3000).toISOString(),
    copies: 1,
    payload: docs[3].payload,
  });
  const missing = await get(`/api/blocks/${"0".repeat(64)}`);
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { error: "Hash not found" });
  const malformed = await get("/api/blocks/xyz");
  assert.equal(malformed.status, 400);
  assert.match(malformed.json().error, /^Malformed hash/);
  assert.equal((await get(`/api/blocks/${docs[3].hash}?x=1`)).status, 400);

  const clients = (await get("/api/clients")).json();
  assert.deepEqual(clients, {
    clients: [
      {
        ip: "10.0.0.2",
        count: 16,
        firstSeen: new Date(T0 + 1000).toISOString(),
        lastSeen: new Date(T0 + 23000).toISOString(),
      },
      {
        ip: "10.0.0.1",
        count: 9,
        firstSeen: new Date(T0).toISOString(),
        lastSeen: new Date(T0 + 24000).toISOString(),
      },
    ],
  });

  const summary = (await get("/api/summary")).json();
  assert.deepEqual(summary, {
    latest: {
      block: 124,
      hash: docs[24].hash,
      firstSeen: new Date(T0 + 24000).toISOString(),
      firstSeenMs: T0 + 24000,
      firstSeenKnown: true,
      server: "srv-0:9999",
    },
    documents: 25,
    clients: 2,
    // 25 documents since the first, 54 s ago: not over 5 minutes.
    blocksPerMinute: 27.78,
    rate: { blocks: 25, seconds: 54, perMinute: 27.78 },
    missingBlocks: 0,
    now: new Date(now).toISOString(),
  });

  const series = await get("/api/series?minutes=3");
  assert.equal(series.status, 200);
  const minute = Math.floor(now / 60_000) * 60_000;
  const body = series.json();
  assert.equal(body.bucketSeconds, 60);
  assert.equal(body.truncated, false);
  assert.deepEqual(body.buckets.map((b: { startMs: number }) => b.startMs), [
    minute - 120_000,
    minute - 60_000,
    minute,
  ]);
  const expected = [minute - 120_000, minute - 60_000, minute].map((start) =>
    docs.filter((d) => d.receivedAt >= start && d.receivedAt < start + 60_000)
      .length
  );
  assert.deepEqual(
    body.buckets.map((b: { count: number }) => b.count),
    expected,
  );
  assert.equal(expected.reduce((a, b) => a + b), 25);
  assert.equal(
    (await get("/api/series")).json().buckets.length,
    30,
    "30 minutes by default",
  );
  for (const bad of ["0", "1441", "x"]) {
    assert.equal((await get(`/api/series?minutes=${bad}`)).status, 400);
  }
  assert.equal((await get("/api/summary?verbose=1")).status, 400);
  assert.equal((await get("/api/clients?limit=1")).status, 400);
  const nowhere = await get("/api/nothing");
  assert.equal(nowhere.status, 404);
  assert.deepEqual(nowhere.json(), { error: "Not found" });
});

Deno.test("api: an empty store answers empty shapes", async () => {
  await using store = await sqliteStore([]);
  const get = client(createStatsHandler(store.reader));
  assert.deepEqual((await get("/api/blocks")).json(), {
    blocks: [],
    nextCursor: null,
  });
  assert.deepEqual((await get("/api/clients")).json(), { clients: [] });
  const summary = (await get("/api/summary")).json();
  assert.equal(summary.latest, null);
  assert.equal(summary.documents, 0);
  assert.equal(summary.blocksPerMinute, 0);
  assert.equal((await get("/_cat/hashes")).text, "hash    timestamp");
  assert.equal((await get("/_cat/clients")).text, "client    count");
});

const INJECTIONS = [
  "' OR '1'='1",
  "1; DROP TABLE ethereum_data; --",
  "1' UNION SELECT payload FROM ethereum_data --",
  `${"a".repeat(63)}'`,
  "%27%20OR%201%3D1",
];

async function attack(
  get: ReturnType<typeof client>,
  port: number,
) {
  for (const text of INJECTIONS) {
    const e = encodeURIComponent(text);
    for (
      const path of [
        `/_cat/hashes/${e}`,
        `/api/blocks/${e}`,
        `/api/blocks?limit=${e}`,
        `/api/blocks?cursor=${e}`,
        `/api/blocks?cursor=1_${e}`,
        `/api/series?minutes=${e}`,
      ]
    ) {
      const r = await get(path);
      assert.equal(r.status, 400, `${path} -> ${r.status} ${r.text}`);
    }
  }
  // Traversal, sent raw: fetch and new URL() would resolve the dots.
  for (
    const target of [
      "/_cat/hashes/../../../etc/passwd",
      "/_cat/hashes/..%2f..%2f..%2fetc%2fpasswd",
      "/_cat/hashes/%2e%2e%2f%2e%2e%2fdeno.json",
      "/api/blocks/../../deno.json",
      "/api/blocks/..%5c..%5cdeno.json",
      "/dashboard/../../deno.json",
      "/_cat/hashes/./" + "a".repeat(64),
      "/api/blocks?cursor=../../etc/passwd",
      "/api/blocks?limit=../../etc/passwd",
    ]
  ) {
    const r = await rawRequest(port, target);
    assert.equal(r.status, 400, `${target} -> ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /root:|"tasks"|imports/);
  }
  for (const target of ["/dashboard/..%2fserver.ts", "/dashboard/app.js/.."]) {
    const r = await rawRequest(port, target);
    assert.ok(r.status === 400 || r.status === 404, `${target}: ${r.status}`);
    assert.doesNotMatch(r.body, /runMain|"tasks"/);
  }
}

Deno.test("api: SQL injection and path traversal get 400 and change nothing (SQLite)", async () => {
  const docs = await documents();
  await using store = await sqliteStore(docs);
  const get = client(createStatsHandler(store.reader));
  await using server = StatsServer.listen(store.reader, {
    hostname: "127.0.0.1",
    port: 0,
  });
  await attack(get, server.addr.port);
  assert.equal(await store.reader.countBlocks(), 25);
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(store.path, { readOnly: true });
  try {
    const tables = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ).all().map((r) => r.name);
    assert.ok(tables.includes("ethereum_data"));
    assert.equal(
      db.prepare("SELECT COUNT(*) AS n FROM ethereum_data").get()!.n,
      25,
    );
  } finally {
    db.close();
  }
});

Deno.test("api: SQL injection and path traversal get 400 and change nothing (MySQL+Redis)", async () => {
  await using db = await TestDatabase.create("stats_inject");
  await using redis = await TestRedis.create("stats_inject");
  const docs = await documents();
  for (
    const w of [
      await MysqlWriter.open(db.config()),
      await RedisWriter.open(redis.config()),
    ]
  ) {
    await w.save(docs);
    await w.close();
  }
  const reader = (await openReader({
    mysql: db.config(),
    redis: redis.config(),
  }))!;
  try {
    const before = await redis.keys();
    await using server = StatsServer.listen(reader, {
      hostname: "127.0.0.1",
      port: 0,
    });
    await attack(client(createStatsHandler(reader)), server.addr.port);
    const [row] = await db.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM ethereum_data",
    );
    assert.equal(Number(row.n), 25);
    assert.deepEqual(await redis.keys(), before);
    assert.equal(await redis.client.zcard(redis.key("eth:hashes")), 25);
  } finally {
    await reader.close();
  }
});

Deno.test("health: /livez, /readyz with staleness, method and HEAD handling", async () => {
  const docs = await documents();
  await using store = await sqliteStore(docs);
  let now = T0 + 30_000;
  const get = client(
    createStatsHandler(store.reader, {
      now: () => now,
      staleAfterMs: 60_000,
    }),
  );
  assert.equal((await get("/livez")).status, 200);
  const ready = await get("/readyz");
  assert.equal(ready.status, 200);
  assert.equal(ready.text, "ok\n");
  now = T0 + 24_000 + 61_000;
  const stale = await get("/readyz");
  assert.equal(stale.status, 503);
  assert.equal(
    stale.text,
    "not ready: newest document was first seen 61 s ago (--stale-after 60 s)\n",
  );

  await using empty = await sqliteStore([]);
  const emptyGet = client(createStatsHandler(empty.reader));
  assert.equal(
    (await emptyGet("/readyz")).text,
    "not ready: no document stored yet\n",
  );
  const lenient = client(
    createStatsHandler(empty.reader, { staleAfterMs: 0 }),
  );
  assert.equal((await lenient("/readyz")).status, 200);

  const absent = new SqliteReader(`${await Deno.makeTempDir()}/none.sqlite`);
  const absentGet = client(createStatsHandler(absent));
  const down = await absentGet("/readyz");
  assert.equal(down.status, 503);
  assert.match(down.text, /^not ready: store unreachable: .*does not exist/);
  assert.equal((await absentGet("/livez")).status, 200);
  await absent.close();

  const post = await get("/_cat", { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  assert.equal(
    (await get("/api/summary", { method: "DELETE" })).json().error,
    "Method not allowed",
  );
  const head = await get("/_cat/hashes", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.text, "");
  assert.equal((await get("/nope")).status, 404);
});

Deno.test("health: a store that is down gives 503 and is counted; /livez stays up", async () => {
  // Nothing listens on this port: the Redis reader cannot connect.
  const reader = (await openReader({
    redis: { host: "127.0.0.1", port: freePort(), db: 0, keyPrefix: "x:" },
  }))!;
  try {
    const handler = createStatsHandler(reader);
    const get = client(handler);
    const api = await get("/api/summary");
    assert.equal(api.status, 503);
    assert.deepEqual(api.json(), {
      error: "Store unavailable; try again shortly",
    });
    const cat = await get("/_cat/hashes");
    assert.equal(cat.status, 503);
    assert.equal(cat.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal((await get("/readyz")).status, 503);
    assert.equal((await get("/livez")).status, 200);
    const metrics = parseMetrics((await get("/metrics")).text);
    const errors = metrics.samples.find((s) =>
      s.name === "eth_stats_store_errors_total"
    );
    assert.equal(errors?.value, 2);
  } finally {
    await reader.close();
  }
});

Deno.test("metrics: /metrics is valid Prometheus text with request counts and latency by route, no client IPs", async () => {
  const docs = await documents();
  await using store = await sqliteStore(docs);
  await using server = StatsServer.listen(store.reader, {
    hostname: "127.0.0.1",
    port: 0,
  });
  const get = (path: string) =>
    fetch(new URL(path, server.url)).then((r) => r.text());
  await get("/_cat/hashes");
  await get("/_cat/hashes");
  await get(`/_cat/hashes/${docs[0].hash}`);
  await get(`/_cat/hashes/${"f".repeat(64)}`);
  await get("/api/blocks?limit=abc");
  await get("/secret/../path");
  const response = await fetch(new URL("/metrics", server.url));
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; version=0.0.4; charset=utf-8",
  );
  const text = await response.text();
  const page = parseMetrics(text);
  assert.equal(page.types.get("eth_stats_http_requests_total"), "counter");
  assert.equal(
    page.types.get("eth_stats_http_request_duration_seconds"),
    "histogram",
  );
  assert.equal(page.types.get("eth_stats_store_errors_total"), "counter");
  const count = (route: string, code: string) =>
    page.samples.find((s) =>
      s.name === "eth_stats_http_requests_total" &&
      s.labels.route === route && s.labels.code === code
    )?.value;
  assert.equal(count("/_cat/hashes", "200"), 2);
  assert.equal(count("/_cat/hashes/{hash}", "200"), 1);
  assert.equal(count("/_cat/hashes/{hash}", "404"), 1);
  assert.equal(count("/api/blocks", "400"), 1);
  const latency = page.samples.find((s) =>
    s.name === "eth_stats_http_request_duration_seconds_count" &&
    s.labels.route === "/_cat/hashes"
  );
  assert.equal(latency?.value, 2);
  // Route labels are the fixed patterns, never request data or addresses.
  for (const s of page.samples) {
    for (const [name, value] of Object.entries(s.labels)) {
      assert.ok(!["ip", "client", "addr", "peer"].includes(name), name);
      assert.doesNotMatch(value, /\d+\.\d+\.\d+\.\d+|[0-9a-f]{64}|secret/);
    }
  }
  assert.doesNotMatch(text, /127\.0\.0\.1|10\.0\.0\./);
});

Deno.test("metrics: the format check itself rejects malformed pages", () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n';
  assert.equal(parseMetrics(ok).samples[0].value, 3);
  for (
    const bad of [
      "a_total 1\n",
      "# TYPE a_total counter\na_total{x=1} 1\n",
      "# TYPE a_total counter\na_total 1",
      "# TYPE a_total counter\na-total 1\n",
      "# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    ]
  ) {
    assert.throws(() => parseMetrics(bad), Error, JSON.stringify(bad));
  }
});
