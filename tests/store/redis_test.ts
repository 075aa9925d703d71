import assert from "node:assert/strict";
import { CombinedReader } from "../../lib/store/mod.ts";
import { MysqlReader, MysqlWriter } from "../../lib/store/mod.ts";
import { RedisReader, RedisWriter } from "../../lib/store/mod.ts";
import { StoreError } from "../../lib/store/types.ts";
import { freePort } from "../_helpers/net.ts";
import { makeDocument, TestDatabase, TestRedis } from "../_helpers/db.ts";

Deno.test("redis: the originals' keys, types and scores (SPEC 1.5)", async () => {
  await using redis = await TestRedis.create("store_keys");
  const writer = await RedisWriter.open(redis.config());
  try {
    const a = await makeDocument(100, {
      ip: "10.0.0.1",
      receivedAt: 1700000000123,
    });
    const b = await makeDocument(101, {
      ip: "10.0.0.1",
      receivedAt: 1700000001500,
    });
    const aAgain = {
      ...a,
      ip: "::1",
      receivedAt: 1700000002000,
      server: "b:2",
    };
    assert.deepEqual(await writer.save([a, b, aAgain]), [true, true, false]);
    assert.deepEqual(await writer.save([{ ...b, receivedAt: 1700000009000 }]), [
      false,
    ]);

    const c = redis.client;
    assert.equal(await c.type(redis.key("eth:hashes")), "zset");
    assert.equal(await c.type(redis.key("eth:ip_addresses")), "hash");
    // Float seconds of the first receipt; a later copy does not move it.
    assert.equal(
      Number(await c.zscore(redis.key("eth:hashes"), a.hash)),
      1700000000.123,
    );
    assert.equal(
      Number(await c.zscore(redis.key("eth:hashes"), b.hash)),
      1700000001.5,
    );
    assert.equal(await c.zcard(redis.key("eth:hashes")), 2);
    // One per document received, not per first copy.
    assert.deepEqual(await c.hgetall(redis.key("eth:ip_addresses")), {
      "10.0.0.1": "3",
      "::1": "1",
    });
    // Our own keys.
    assert.equal(await c.hget(redis.key("eth:blocks"), a.hash), "100");
    assert.equal(await c.hget(redis.key("eth:servers"), a.hash), "test:1");
    assert.equal(
      await c.hget(redis.key("eth:clients:last_seen"), "10.0.0.1"),
      "1700000009000",
    );
    assert.equal(
      await c.hget(redis.key("eth:clients:first_seen"), "::1"),
      "1700000002000",
    );
    // Per address, the batch's earliest and latest receipt.
    assert.equal(
      await c.hget(redis.key("eth:clients:first_seen"), "10.0.0.1"),
      "1700000000123",
    );
    const keys = await redis.keys();
    assert.deepEqual(
      keys.map((k) => k.slice(redis.prefix.length)),
      [
        "eth:blocks",
        "eth:clients:first_seen",
        "eth:clients:last_seen",
        "eth:hashes",
        "eth:ip_addresses",
        "eth:servers",
        // Our bookkeeping, outside the originals' `eth:` keyspace: no key
        // per batch, and nothing that expires.
        "ethts:batches",
        "ethts:batches:results",
      ],
    );
    assert.equal(await c.type(redis.key("ethts:batches")), "zset");
    assert.equal(await c.zcard(redis.key("ethts:batches")), 2);
    assert.equal(await c.hlen(redis.key("ethts:batches:results")), 2);
  } finally {
    await writer.close();
  }
});

Deno.test("redis: a retried batch returns the same answer and counts once", async () => {
  await using redis = await TestRedis.create("store_retry");
  const writer = await RedisWriter.open(redis.config());
  try {
    const docs = [await makeDocument(1), await makeDocument(2)];
    assert.deepEqual(await writer.save(docs), [true, true]);
    assert.deepEqual(await writer.save(docs), [true, true]);
    assert.equal(
      await redis.client.hget(redis.key("eth:ip_addresses"), "127.0.0.1"),
      "2",
    );
    assert.equal(await redis.client.zcard(redis.key("ethts:batches")), 1);
  } finally {
    await writer.close();
  }
});

Deno.test("redis: the batch record stays bounded by count and by age, trimmed as batches are saved", async () => {
  await using redis = await TestRedis.create("store_record");
  const c = redis.client;
  const byCount = await RedisWriter.open(redis.config(), {
    batchRecord: { maxEntries: 5 },
  });
  try {
    const docs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => makeDocument(i)),
    );
    for (const doc of docs) assert.deepEqual(await byCount.save([doc]), [true]);
    assert.equal(await c.zcard(redis.key("ethts:batches")), 5);
    assert.equal(await c.hlen(redis.key("ethts:batches:results")), 5);
    // The newest are kept: the last batch, retried, still counts once.
    assert.deepEqual(await byCount.save([docs[19]]), [true]);
    assert.equal(
      await c.hget(redis.key("eth:ip_addresses"), "127.0.0.1"),
      "20",
    );
  } finally {
    await byCount.close();
  }
  const byAge = await RedisWriter.open(redis.config(), {
    batchRecord: { maxAgeMs: 1 },
  });
  try {
    await byAge.save([await makeDocument(100)]);
    await new Promise((r) => setTimeout(r, 10));
    await byAge.save([await makeDocument(101)]);
    // Everything older than 1 ms went with the second save.
    assert.deepEqual(
      await c.zrange(redis.key("ethts:batches"), 0, -1).then((m) => m.length),
      1,
    );
    assert.equal(await c.hlen(redis.key("ethts:batches:results")), 1);
  } finally {
    await byAge.close();
  }
});

Deno.test("redis: a hash an original added first is a duplicate for us", async () => {
  await using redis = await TestRedis.create("store_interop");
  const doc = await makeDocument(5000000);
  // What the Python original does: ZADD NX with time.time(), HINCRBY.
  await redis.client.zadd(
    redis.key("eth:hashes"),
    "NX",
    1500000000.25,
    doc.hash,
  );
  await redis.client.hincrby(redis.key("eth:ip_addresses"), "10.9.9.9", 1);
  const writer = await RedisWriter.open(redis.config());
  const reader = new RedisReader(redis.config());
  try {
    assert.deepEqual(await writer.save([doc]), [false]);
    const record = await reader.document(doc.hash);
    assert.equal(record?.firstSeen, 1500000000250);
    assert.equal(record?.server, null);
    assert.equal(record?.block, 5000000n);
    assert.equal(record?.payload, undefined);
    assert.deepEqual(
      (await reader.clients()).map((c) => [c.ip, c.count, c.lastSeen]),
      [["10.9.9.9", 1, null], ["127.0.0.1", 1, doc.receivedAt]].sort((x, y) =>
        String(x[0]) < String(y[0]) ? -1 : 1
      ),
    );
  } finally {
    await reader.close();
    await writer.close();
  }
});

Deno.test("redis: a large batch sets every new document's server and block, and only the block of one an original stored", async () => {
  await using redis = await TestRedis.create("store_large");
  const docs = await Promise.all(
    Array.from({ length: 1500 }, (_, i) => makeDocument(6_000_000 + i)),
  );
  // An original stored one of them first (no server, no block of ours).
  await redis.client.zadd(redis.key("eth:hashes"), "NX", 1.5e9, docs[7].hash);
  const writer = await RedisWriter.open(redis.config());
  const reader = new RedisReader(redis.config());
  try {
    const batch = [...docs, docs[3]].map((d) => ({ ...d, server: "big:1" }));
    assert.deepEqual(
      await writer.save(batch),
      batch.map((_, i) => i !== 7 && i < docs.length),
    );
    for (const [i, doc] of docs.entries()) {
      const record = await reader.document(doc.hash);
      assert.equal(record?.block, doc.block, `block of ${i}`);
      assert.equal(record?.server, i === 7 ? null : "big:1", `server of ${i}`);
    }
  } finally {
    await reader.close();
    await writer.close();
  }
});

Deno.test("redis: concurrent writers count one first copy per document", async () => {
  await using redis = await TestRedis.create("store_race");
  const writers = await Promise.all(
    [0, 1, 2].map(() => RedisWriter.open(redis.config())),
  );
  try {
    const docs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => makeDocument(i)),
    );
    const flags = await Promise.all(writers.map(async (w, n) => {
      const out: boolean[] = [];
      for (let i = 0; i < docs.length; i += 5 + n) {
        out.push(...await w.save(docs.slice(i, i + 5 + n)));
      }
      return out;
    }));
    docs.forEach((_, i) =>
      assert.equal(flags.filter((f) => f[i]).length, 1, `document ${i}`)
    );
    assert.equal(await redis.client.zcard(redis.key("eth:hashes")), 50);
    assert.equal(
      await redis.client.hget(redis.key("eth:ip_addresses"), "127.0.0.1"),
      "150",
    );
  } finally {
    await Promise.all(writers.map((w) => w.close()));
  }
});

Deno.test("redis: the reader pages newest first, ties broken by hash", async () => {
  await using redis = await TestRedis.create("store_pages");
  const writer = await RedisWriter.open(redis.config());
  const reader = new RedisReader(redis.config());
  try {
    const docs = await Promise.all(
      Array.from(
        { length: 9 },
        // Three receipts share each millisecond.
        (_, i) =>
          makeDocument(i, { receivedAt: 1700000000000 + Math.floor(i / 3) }),
      ),
    );
    await writer.save(docs);
    const expected = [...docs].sort((x, y) =>
      y.receivedAt - x.receivedAt || (y.hash < x.hash ? -1 : 1)
    ).map((d) => d.hash);
    const seen: string[] = [];
    let before: { firstSeen: number; hash: string } | undefined;
    while (true) {
      const page = await reader.recentBlocks({ limit: 2, before });
      if (page.length === 0) break;
      seen.push(...page.map((r) => r.hash));
      before = page.at(-1);
    }
    assert.deepEqual(seen, expected);
    assert.equal(await reader.countBlocks(), 9);
  } finally {
    await reader.close();
    await writer.close();
  }
});

Deno.test("redis+mysql: the combined reader takes payloads from MySQL", async () => {
  await using redis = await TestRedis.create("store_combined");
  await using db = await TestDatabase.create("store_combined");
  const writers = [
    await RedisWriter.open(redis.config()),
    await MysqlWriter.open(db.config()),
  ];
  const reader = new CombinedReader(
    new RedisReader(redis.config()),
    new MysqlReader(db.config()),
  );
  try {
    const doc = await makeDocument(42, { receivedAt: 1700000000000.5 });
    for (const w of writers) assert.deepEqual(await w.save([doc]), [true]);
    const record = await reader.document(doc.hash);
    assert.equal(record?.payload, doc.payload);
    assert.equal(record?.block, 42n);
    assert.equal(record?.server, "test:1");
    assert.equal((await reader.recentBlocks({ limit: 5 }))[0].hash, doc.hash);
    assert.equal(await reader.countBlocks(), 1);
    assert.equal((await reader.clients())[0].count, 1);
    assert.equal(await reader.document("0".repeat(64)), undefined);
    await reader.ping();
  } finally {
    await reader.close();
    for (const w of writers) await w.close();
  }
});

Deno.test("redis: an unreachable server is a StoreError of kind unavailable", async () => {
  const config = { host: "127.0.0.1", port: freePort(), db: 0 };
  await RedisWriter.open(config).then(
    () => assert.fail("opened a store that is not there"),
    (e) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.kind, "unavailable");
    },
  );
  const reader = new RedisReader(config);
  try {
    await assert.rejects(reader.ping(), StoreError);
  } finally {
    await reader.close();
  }
});
