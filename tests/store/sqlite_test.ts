import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../../lib/shared/log.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import { StoreError } from "../../lib/store/types.ts";
import { HASH_KEYED_BLOCKS_DDL, makeDocument } from "../_helpers/db.ts";

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

/** `eth_blocks` as each row's `id` (null when absent), hash, copies, server. */
function blockRowsOf(path: string) {
  const db = new DatabaseSync(path);
  try {
    return db.prepare(
      `SELECT d.id AS data_id, b.* FROM eth_blocks b
       LEFT JOIN ethereum_data d ON d.hash = b.hash ORDER BY b.hash`,
    ).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

Deno.test("sqlite: eth_blocks rows are keyed by the document's ethereum_data id", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/eth.sqlite`;
    const docs = await Promise.all(
      [300, 301, 302, 303].map((n, i) =>
        makeDocument(n, { receivedAt: 1000 + i })
      ),
    );
    const writer = SqliteWriter.open(path);
    try {
      // Arrival order is not hash order: each first copy must get its own id.
      assert.deepEqual(
        await writer.save([docs[2], docs[0], docs[3]]),
        [true, true, true],
      );
      // A batch mixing copies of stored documents (one twice), a new one and
      // a copy of that new one.
      const later = (d: typeof docs[0], t: number) => ({
        ...d,
        server: "other:2",
        receivedAt: t,
      });
      assert.deepEqual(
        await writer.save([
          later(docs[0], 2000),
          docs[1],
          later(docs[2], 2001),
          later(docs[0], 2002),
          later(docs[1], 2003),
        ]),
        [false, true, false, false, false],
      );
    } finally {
      await writer.close();
    }
    const rows = blockRowsOf(path);
    assert.equal(rows.length, 4);
    for (const row of rows) assert.equal(row.id, row.data_id);
    const byHash = new Map(rows.map((r) => [r.hash, r]));
    const copies = (d: { hash: string }) => byHash.get(d.hash)?.copies;
    assert.deepEqual(docs.map(copies), [3, 2, 2, 1]);
    assert.equal(byHash.get(docs[0].hash)?.last_seen_ms, 2002);
    assert.equal(byHash.get(docs[1].hash)?.first_seen_ms, 1001);
    assert.equal(byHash.get(docs[1].hash)?.last_seen_ms, 2003);
    for (const row of rows) assert.equal(row.server, "test:1");
  });
});

Deno.test("sqlite: a file whose eth_blocks is keyed by hash is moved to ids once, and reads the same", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/eth.sqlite`;
    const docs = await Promise.all(
      [900, 901, 902, 904].map((n, i) =>
        makeDocument(n, { receivedAt: 5000 + i, server: `s${i % 2}:1` })
      ),
    );
    const old = new DatabaseSync(path);
    try {
      old.exec("PRAGMA journal_mode = WAL");
      for (const ddl of HASH_KEYED_BLOCKS_DDL) old.exec(ddl);
      // Ids not in hash order; the third document's number unknown; one
      // row of eth_blocks names no document (never written, but possible).
      const data = old.prepare(
        "INSERT INTO ethereum_data (id, hash, payload) VALUES (?, ?, ?)",
      );
      const blocks = old.prepare(
        "INSERT INTO eth_blocks VALUES (?, ?, ?, ?, ?, ?)",
      );
      docs.forEach((d, i) => {
        data.run(40 - 10 * i, d.hash, d.payload);
        blocks.run(
          d.hash,
          i === 2 ? null : d.block,
          d.receivedAt,
          d.receivedAt + 7,
          i + 1,
          d.server,
        );
      });
      old.exec("INSERT INTO eth_clients VALUES ('10.0.0.9', 10, 1, 2)");
    } finally {
      old.close();
    }
    // What the stats side reads from the old layout, before the orphan.
    const reader = new SqliteReader(path);
    const before = {
      history: await reader.history(),
      since: await reader.storedSince(0, 100),
      recent: await reader.recentBlocks({ limit: 100 }),
      one: await reader.document(docs[1].hash),
      clients: await reader.clients(),
    };
    assert.equal(before.recent.length, 4);
    assert.equal(before.one?.copies, 2);
    assert.deepEqual(before.history.payloads.length, 1); // the numberless one
    assert.equal(before.history.servers.length, 2);
    const orphan = new DatabaseSync(path);
    try {
      orphan.exec(`INSERT INTO eth_blocks VALUES
        ('${"f".repeat(64)}', 1, 1, 1, 1, 'gone:1')`);
    } finally {
      orphan.close();
    }

    const lines: string[] = [];
    const log = createLogger("t", {
      level: "info",
      write: (l) => lines.push(l),
    });
    const writer = SqliteWriter.open(path, { log });
    try {
      assert.match(lines.join("\n"), /Moving eth_blocks \(5 rows\)/);
      assert.match(lines.join("\n"), /rows=4 dropped=1/);
      assert.match(lines.join("\n"), /1 eth_blocks rows named no document/);
      const rows = blockRowsOf(path);
      assert.deepEqual(
        rows.map((r) => Number(r.id)).sort((a, b) => a - b),
        [10, 20, 30, 40],
      );
      for (const row of rows) assert.equal(row.id, row.data_id);
      // The stats side reads what it read before, the orphan aside.
      assert.deepEqual(await reader.history(), before.history);
      assert.deepEqual(await reader.storedSince(0, 100), before.since);
      assert.deepEqual(
        await reader.recentBlocks({ limit: 100 }),
        before.recent,
      );
      assert.deepEqual(await reader.document(docs[1].hash), before.one);
      assert.deepEqual(await reader.clients(), before.clients);
      // The stats indexes are there again, on the new table.
      const db = new DatabaseSync(path);
      try {
        const names = db.prepare(
          "SELECT name FROM sqlite_master WHERE tbl_name = 'eth_blocks' AND type = 'index' ORDER BY name",
        ).all().map((r) => r.name);
        assert.deepEqual(names, [
          "idx_eth_blocks_first_seen",
          "idx_eth_blocks_number",
          "idx_eth_blocks_server",
        ]);
      } finally {
        db.close();
      }
      // A copy of a moved document counts on its row; a new one gets its id.
      const fresh = await makeDocument(905);
      assert.deepEqual(
        await writer.save([{ ...docs[3], receivedAt: 9000 }, fresh]),
        [false, true],
      );
      const after = new Map(blockRowsOf(path).map((r) => [r.hash, r]));
      assert.equal(after.get(docs[3].hash)?.copies, 5);
      assert.equal(after.get(docs[3].hash)?.last_seen_ms, 9000);
      assert.equal(after.get(fresh.hash)?.id, 41);
    } finally {
      await writer.close();
      await reader.close();
    }
    // Once: opening again moves nothing.
    lines.length = 0;
    const again = SqliteWriter.open(path, { log });
    await again.close();
    assert.deepEqual(lines, []);
  });
});
