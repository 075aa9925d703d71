/**
 * The store writers on a thread of their own (what the server runs), against
 * the real MariaDB, Redis and a SQLite file: what a batch stores, what a
 * second copy is told, an unreachable store, and the writer's log lines.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  SqliteWorkerWriter,
  StoreError,
  WorkerWriter,
} from "../../lib/store/mod.ts";
import { createLogger } from "../../lib/shared/mod.ts";
import { freePort } from "../_helpers/net.ts";
import {
  HASH_KEYED_BLOCKS_DDL,
  makeDocument,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { KILL_PAYLOAD } from "../_helpers/failing_writer_worker.ts";
import { settleWithin } from "../../lib/shared/mod.ts";

const docs = (from: number, n: number) =>
  Promise.all(Array.from({ length: n }, (_, i) => makeDocument(from + i)));

Deno.test("worker writer: MySQL on its thread stores each document once", async () => {
  await using db = await TestDatabase.create("worker_mysql");
  const batch = await docs(32_000_000, 300);
  const writer = await WorkerWriter.start({
    kind: "mysql",
    config: db.config(),
  });
  const other = await WorkerWriter.start({
    kind: "mysql",
    config: db.config(),
  });
  try {
    assert.equal(writer.name, "mysql");
    assert.deepEqual(await writer.save(batch), batch.map(() => true));
    // A second server with the same documents, and one new one.
    const more = [...batch.slice(0, 10), await makeDocument(32_000_300)];
    assert.deepEqual(await other.save(more), [
      ...more.slice(0, 10).map(() => false),
      true,
    ]);
  } finally {
    await writer.close();
    await other.close();
  }
  const [rows] = await db.query<{ n: number; copies: number }>(
    "SELECT COUNT(*) AS n, (SELECT SUM(copies) FROM eth_blocks) AS copies FROM ethereum_data",
  );
  assert.deepEqual([Number(rows.n), Number(rows.copies)], [301, 311]);
  // Closed: a save is refused, not sent to a stopped thread.
  await assert.rejects(writer.save(batch), StoreError);
});

Deno.test("worker writer: Redis on its thread stores each document once", async () => {
  await using redis = await TestRedis.create("worker_redis");
  const batch = await docs(32_100_000, 200);
  const writer = await WorkerWriter.start({
    kind: "redis",
    config: redis.config(),
  });
  try {
    assert.equal(writer.name, "redis");
    assert.deepEqual(await writer.save(batch), batch.map(() => true));
    assert.deepEqual(await writer.save(batch.slice(0, 5)), [
      false,
      false,
      false,
      false,
      false,
    ]);
  } finally {
    await writer.close();
  }
  assert.equal(await redis.client.zcard(redis.key("eth:hashes")), 200);
});

Deno.test("worker writer: SQLite on its thread, as the server opens it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/w.sqlite`;
    const batch = await docs(32_200_000, 50);
    const writer = await SqliteWorkerWriter.open(path);
    assert.deepEqual(await writer.save(batch), batch.map(() => true));
    assert.deepEqual(await writer.save(batch.slice(0, 2)), [false, false]);
    await writer.close();
    const file = new DatabaseSync(path);
    const row = file.prepare("SELECT COUNT(*) AS n FROM ethereum_data").get();
    file.close();
    assert.equal(Number(row?.n), 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker writer: a store that cannot be reached is a StoreError at start", async () => {
  const port = await freePort();
  await using db = await TestDatabase.create("worker_down");
  const error = await WorkerWriter.start({
    kind: "mysql",
    config: db.config(port),
  })
    .then(() => undefined, (e) => e);
  assert(error instanceof StoreError, String(error));
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.equal(error.kind, "unavailable");
});

Deno.test("worker writer: the writer's log lines reach the main thread's logger", async () => {
  await using db = await TestDatabase.create("worker_log");
  // A table without a unique hash: the writer says so, as an error.
  await db.query(
    "CREATE TABLE ethereum_data (id INT PRIMARY KEY AUTO_INCREMENT, hash VARCHAR(64), payload TEXT)",
  );
  const lines: string[] = [];
  const log = createLogger("t", { level: "info", write: (l) => lines.push(l) });
  const writer = await WorkerWriter.start({
    kind: "mysql",
    config: db.config(),
  }, { log });
  await writer.close();
  assert(
    lines.some((l) => /no unique index on hash/.test(l)),
    lines.join("\n"),
  );
});

Deno.test("worker writer: SQLite's thread moves an earlier version's eth_blocks, and says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/old.sqlite`;
    const doc = await makeDocument(32_250_000);
    const old = new DatabaseSync(path);
    for (const ddl of HASH_KEYED_BLOCKS_DDL) old.exec(ddl);
    old.prepare(
      "INSERT INTO ethereum_data (id, hash, payload) VALUES (7, ?, ?)",
    )
      .run(doc.hash, doc.payload);
    old.prepare("INSERT INTO eth_blocks VALUES (?, ?, 1, 2, 1, 's:1')")
      .run(doc.hash, doc.block);
    old.close();
    const lines: string[] = [];
    const log = createLogger("t", {
      level: "info",
      write: (l) => lines.push(l),
    });
    const writer = await SqliteWorkerWriter.open(path, { log });
    try {
      assert.deepEqual(await writer.save([doc]), [false]);
    } finally {
      await writer.close();
    }
    assert(
      lines.some((l) => /Moving eth_blocks \(1 rows\)/.test(l)) &&
        lines.some((l) => /moved in \d+ ms rows=1 dropped=0/.test(l)),
      lines.join("\n"),
    );
    const db = new DatabaseSync(path);
    try {
      assert.deepEqual(
        { ...db.prepare("SELECT id, copies FROM eth_blocks").get() },
        { id: 7, copies: 2 },
      );
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker writer: a thread that dies fails its batch, and the next batch gets a new one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/w.sqlite`;
    const module = new URL(
      "../_helpers/failing_writer_worker.ts",
      import.meta.url,
    );
    const writer = await WorkerWriter.start({ kind: "sqlite", path }, {
      module,
    });
    const first = await docs(32_300_000, 20);
    assert.deepEqual(await writer.save(first), first.map(() => true));
    // The dying thread's batch fails (it is kept and retried by the queue)
    // instead of waiting forever for an answer that cannot come.
    const kill = { ...first[0], payload: KILL_PAYLOAD, hash: "0".repeat(64) };
    const killed = writer.save([kill]);
    assert(await settleWithin(killed.catch(() => {}), 10_000), "no answer");
    await assert.rejects(killed, (e) => {
      assert(e instanceof StoreError);
      assert.match(e.message, /thread failed \(.*killed by the test/);
      return true;
    });
    // A new thread, with the file opened again: it stores and still dedupes.
    const second = await docs(32_300_020, 10);
    assert.deepEqual(await writer.save(second), second.map(() => true));
    assert.deepEqual(await writer.save(first.slice(0, 3)), [
      false,
      false,
      false,
    ]);
    await writer.close();
    const file = new DatabaseSync(path);
    const row = file.prepare("SELECT COUNT(*) AS n FROM ethereum_data").get();
    file.close();
    assert.equal(Number(row?.n), 30);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
