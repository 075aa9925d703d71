/**
 * The storage's batches, against a real Redis and SQLite file: a burst
 * gathers into batches no larger than each store allows, every document
 * reaches the store once, and the spool keeps nothing after close.
 */
import assert from "node:assert/strict";
import { Storage } from "../../lib/server/storage.ts";
import { REDIS_MAX_BATCH } from "../../lib/store/redis_writer.ts";
import { makeDocument, TestRedis } from "../_helpers/db.ts";
import { waitFor } from "../_helpers/net.ts";

Deno.test("storage: a burst to Redis is written in batches of at most REDIS_MAX_BATCH, each document once", async () => {
  await using redis = await TestRedis.create("storage_batches");
  const dir = await Deno.makeTempDir();
  const storage = await Storage.open({ redis: redis.config() }, {
    spoolDir: `${dir}/spool`,
    spoolMaxBytes: 1 << 30,
  });
  assert.ok(storage);
  try {
    const count = 2 * REDIS_MAX_BATCH + 500;
    const docs = await Promise.all(
      Array.from({ length: count }, (_, i) => makeDocument(7_000_000 + i)),
    );
    let durable: Promise<void> | undefined;
    for (const doc of docs) durable = storage.push(doc) ?? durable;
    await durable;
    const stats = () => storage.stats.redis;
    await waitFor(() => stats().stored === count, {
      what: `${count} stored`,
      timeoutMs: 30_000,
    });
    // All were queued before the first write: a batch per 2,000 at least.
    assert.ok(
      stats().batches >= Math.ceil(count / REDIS_MAX_BATCH),
      `batches: ${stats().batches}`,
    );
    assert.equal(await redis.client.zcard(redis.key("eth:hashes")), count);
    assert.equal(
      await redis.client.hget(redis.key("eth:ip_addresses"), "127.0.0.1"),
      String(count),
    );
  } finally {
    const unsaved = await storage.close(5000);
    assert.deepEqual(unsaved, { redis: 0 });
    await Deno.remove(dir, { recursive: true });
  }
});
