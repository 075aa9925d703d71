import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import { StoreError } from "../../lib/store/types.ts";
import { makeDocument } from "../_helpers/db.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "eth_store_sqlite_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sqlite: creates the file and tables, saves and reads back", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/eth.sqlite`;
    const writer = SqliteWriter.open(path);
    const reader = new SqliteReader(path);
    try {
      const a = await makeDocument(100, { ip: "10.0.0.1", receivedAt: 1000 });
      const b = await makeDocument(101, { ip: "10.0.0.2", receivedAt: 2000 });
      const aAgain = {
        ...a,
        ip: "10.0.0.2",
        server: "other:1",
        receivedAt: 3000,
      };
      assert.deepEqual(await writer.save([a, b, aAgain]), [true, true, false]);
      assert.deepEqual(await writer.save([b]), [false]);

      const stored = await reader.document(a.hash);
      assert.ok(stored);
      assert.equal(stored.payload, a.payload);
      assert.equal(stored.block, 100n);
      assert.equal(stored.firstSeen, 1000);
      assert.equal(stored.lastSeen, 3000);
      assert.equal(stored.copies, 2);
      assert.equal(stored.server, "test:1");
      assert.equal(await reader.document("0".repeat(64)), undefined);
      assert.equal(await reader.countBlocks(), 2);

      const recent = await reader.recentBlocks({ limit: 1 });
      assert.deepEqual(recent.map((r) => r.hash), [b.hash]);
      const older = await reader.recentBlocks({ limit: 10, before: recent[0] });
      assert.deepEqual(older.map((r) => r.hash), [a.hash]);

      const clients = await reader.clients();
      assert.deepEqual(
        clients.map((c) => [c.ip, c.count, c.firstSeen, c.lastSeen]),
        [["10.0.0.2", 3, 2000, 3000], ["10.0.0.1", 1, 1000, 1000]],
      );
      await reader.ping();
    } finally {
      await reader.close();
      await writer.close();
    }
    // The originals' table as SPEC 1.4 names it, one row per document.
    const db = new DatabaseSync(path);
    try {
      const rows = db.prepare("SELECT hash, payload FROM ethereum_data").all();
      assert.equal(rows.length, 2);
      const mode = db.prepare("PRAGMA journal_mode").get();
      assert.equal(mode?.journal_mode, "wal");
    } finally {
      db.close();
    }
  });
});

Deno.test("sqlite: a reader sees a writer's commits while it is open (WAL)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/eth.sqlite`;
    const reader = new SqliteReader(path);
    try {
      await assert.rejects(reader.ping(), StoreError);
      assert.deepEqual(await reader.recentBlocks({ limit: 5 }), []);
      assert.equal(Deno.statSync(dir).isDirectory, true);
      assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);

      const writer = SqliteWriter.open(path);
      try {
        await writer.save([await makeDocument(7)]);
        assert.equal(await reader.countBlocks(), 1);
        await writer.save([await makeDocument(8)]);
        assert.equal(await reader.countBlocks(), 2);
      } finally {
        await writer.close();
      }
    } finally {
      await reader.close();
    }
  });
});

Deno.test("sqlite: reopening keeps what was stored and still dedupes", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/eth.sqlite`;
    const doc = await makeDocument(5000000);
    const first = SqliteWriter.open(path);
    assert.deepEqual(await first.save([doc]), [true]);
    await first.close();
    const second = SqliteWriter.open(path);
    try {
      assert.deepEqual(await second.save([doc]), [false]);
    } finally {
      await second.close();
    }
  });
});

Deno.test("sqlite: a block beyond signed 64 bits is stored without its number", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/eth.sqlite`;
    const writer = SqliteWriter.open(path);
    const reader = new SqliteReader(path);
    try {
      const doc = await makeDocument(2n ** 64n - 1n);
      assert.deepEqual(await writer.save([doc]), [true]);
      const stored = await reader.document(doc.hash);
      assert.equal(stored?.payload, doc.payload);
      assert.equal(stored?.block, null);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

Deno.test("sqlite: an unwritable path is a StoreError", () => {
  assert.throws(
    () => SqliteWriter.open("/nonexistent-dir/eth.sqlite"),
    StoreError,
  );
});
