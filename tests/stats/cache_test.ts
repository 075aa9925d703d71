// The stats API's answer cache: TTL, one computation for concurrent
// requests, errors never cached; and the handler serving a real SQLite
// store through it.
import assert from "node:assert/strict";
import { AnswerCache } from "../../lib/stats/cache.ts";
import { createStatsHandler } from "../../lib/stats/handler.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import { makeDocument } from "../_helpers/db.ts";

function counter(status = 200) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    make: () => {
      calls++;
      return Promise.resolve(
        new Response(`answer ${calls}`, {
          status,
          headers: { "x-n": String(calls) },
        }),
      );
    },
  };
}

Deno.test("cache: an answer is served again until it is ttl old", async () => {
  let clock = 0;
  const cache = new AnswerCache({ ttlMs: 1000, now: () => clock });
  const c = counter();
  const first = await cache.answer("/a", c.make);
  assert.equal(await first.text(), "answer 1");
  clock = 999;
  const again = await cache.answer("/a", c.make);
  assert.equal(await again.text(), "answer 1");
  assert.equal(again.headers.get("x-n"), "1");
  assert.equal(await (await cache.answer("/b", c.make)).text(), "answer 2");
  clock = 1000;
  assert.equal(await (await cache.answer("/a", c.make)).text(), "answer 3");
  assert.equal(c.calls, 3);
});

Deno.test("cache: concurrent requests share one computation", async () => {
  const cache = new AnswerCache({ ttlMs: 1000 });
  const gate = Promise.withResolvers<void>();
  let calls = 0;
  const slow = async () => {
    calls++;
    await gate.promise;
    return new Response("shared");
  };
  const waiting = Array.from({ length: 5 }, () => cache.answer("/s", slow));
  gate.resolve();
  const bodies = await Promise.all(
    (await Promise.all(waiting)).map((r) => r.text()),
  );
  assert.deepEqual(bodies, Array(5).fill("shared"));
  assert.equal(calls, 1);
});

Deno.test("cache: error answers and thrown errors are not kept", async () => {
  const cache = new AnswerCache({ ttlMs: 60_000 });
  const failing = counter(503);
  assert.equal((await cache.answer("/e", failing.make)).status, 503);
  assert.equal((await cache.answer("/e", failing.make)).status, 503);
  assert.equal(failing.calls, 2);
  await assert.rejects(
    cache.answer("/t", () => Promise.reject(new Error("store down"))),
    /store down/,
  );
  const ok = counter();
  assert.equal(await (await cache.answer("/t", ok.make)).text(), "answer 1");
});

Deno.test("cache: ttl 0 computes every answer; the size is bounded", async () => {
  const off = new AnswerCache({ ttlMs: 0 });
  const c = counter();
  await off.answer("/a", c.make);
  await off.answer("/a", c.make);
  assert.equal(c.calls, 2);

  const small = new AnswerCache({ ttlMs: 60_000, maxEntries: 2 });
  const d = counter();
  for (const key of ["/1", "/2", "/3"]) await small.answer(key, d.make);
  // "/1" was the oldest and made room for "/3".
  assert.equal(await (await small.answer("/1", d.make)).text(), "answer 4");
  assert.equal(await (await small.answer("/3", d.make)).text(), "answer 3");
});

Deno.test("stats handler with cacheTtlMs serves store answers for the ttl", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_stats_cache_" });
  const path = `${dir}/eth.sqlite`;
  const writer = SqliteWriter.open(path);
  const reader = new SqliteReader(path);
  try {
    await writer.save([await makeDocument(100)]);
    let clock = 1_700_000_000_000;
    const handler = createStatsHandler(reader, {
      cacheTtlMs: 1000,
      now: () => clock,
    });
    const summary = async (query = "") =>
      await (await handler(
        new Request(`http://stats.test/api/summary${query}`),
      )).json();
    assert.equal((await summary()).documents, 1);
    await writer.save([await makeDocument(101)]);
    // Within the ttl the stored answer is served; another query is not it.
    assert.equal((await summary()).documents, 1);
    assert.equal(
      (await handler(new Request("http://stats.test/api/summary?x=1"))).status,
      400,
    );
    clock += 1000;
    assert.equal((await summary()).documents, 2);
    // Health is never cached.
    const live = await handler(new Request("http://stats.test/livez"));
    assert.equal(await live.text(), "ok\n");
  } finally {
    await writer.close();
    await reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});
