import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { MysqlReader, MysqlWriter } from "../../lib/store/mod.ts";
import {
  chunkSizes,
  DEADLOCK_ATTEMPTS,
  PREPARED_MAX_ROWS,
} from "../../lib/store/mysql_writer.ts";
import { ETHEREUM_DATA_GO_DDL } from "../../lib/store/schema.ts";
import { StoreError } from "../../lib/store/types.ts";
import { createLogger, settleWithin } from "../../lib/shared/mod.ts";
import { FaultProxy } from "../_helpers/fault_proxy.ts";
import { freePort } from "../_helpers/net.ts";
import { makeDocument, MYSQL_PORT, TestDatabase } from "../_helpers/db.ts";

const PYTHON_DDL = `CREATE TABLE ethereum_data (
  id INTEGER NOT NULL AUTO_INCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  PRIMARY KEY (id),
  UNIQUE (hash)
)`;

async function showCreate(db: TestDatabase): Promise<string> {
  const [row] = await db.query("SHOW CREATE TABLE ethereum_data");
  return String(row["Create Table"]).replace(/ AUTO_INCREMENT=\d+/, "");
}

Deno.test("mysql: creates the tables on an empty database, saves and reads back", async () => {
  await using db = await TestDatabase.create("store_empty");
  const writer = await MysqlWriter.open(db.config());
  const reader = new MysqlReader(db.config());
  try {
    const tables = (await db.query<{ t: string }>(
      `SELECT TABLE_NAME AS t FROM information_schema.TABLES
       WHERE TABLE_SCHEMA = ?`,
      [db.name],
    )).map((r) => r.t).sort();
    assert.deepEqual(tables, [
      "eth_batches",
      "eth_blocks",
      "eth_clients",
      "ethereum_data",
    ]);
    // The Python original's table, exactly (SPEC 1.4).
    const columns = await db.query(
      `SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, IS_NULLABLE AS n
       FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'ethereum_data'
       ORDER BY ORDINAL_POSITION`,
      [db.name],
    );
    assert.deepEqual(columns.map((c) => [c.c, c.t, c.n]), [
      ["id", "int(11)", "NO"],
      ["hash", "varchar(64)", "YES"],
      ["payload", "text", "YES"],
    ]);

    const a = await makeDocument(21000000, {
      ip: "10.0.0.1",
      receivedAt: 1000,
    });
    const b = await makeDocument(21000001, {
      ip: "10.0.0.2",
      receivedAt: 2000,
    });
    const aAgain = { ...a, ip: "10.0.0.2", server: "b:1", receivedAt: 3000 };
    assert.deepEqual(await writer.save([a, b, aAgain]), [true, true, false]);
    assert.deepEqual(await writer.save([aAgain]), [false]);

    const rows = await db.query("SELECT hash, payload FROM ethereum_data");
    assert.equal(rows.length, 2);
    assert.equal(
      a.hash,
      "be7cbed5bab6fc9c253937977f34aa3c9cf5fc3d8985d9cec7edc353994ca633",
    );

    const stored = await reader.document(a.hash);
    assert.ok(stored);
    assert.equal(stored.payload, a.payload);
    assert.equal(stored.block, 21000000n);
    assert.equal(stored.firstSeen, 1000);
    assert.equal(stored.lastSeen, 3000);
    assert.equal(stored.copies, 3);
    assert.equal(stored.server, "test:1");
    assert.equal(await reader.countBlocks(), 2);
    const page1 = await reader.recentBlocks({ limit: 1 });
    assert.deepEqual(page1.map((r) => r.hash), [b.hash]);
    const page2 = await reader.recentBlocks({ limit: 5, before: page1[0] });
    assert.deepEqual(page2.map((r) => r.hash), [a.hash]);
    assert.deepEqual(
      (await reader.clients()).map((c) => [c.ip, c.count, c.lastSeen]),
      [["10.0.0.2", 3, 3000], ["10.0.0.1", 1, 1000]],
    );
    await reader.ping();
  } finally {
    await reader.close();
    await writer.close();
  }
});

for (
  const [name, ddl] of [["Python", PYTHON_DDL], [
    "Go",
    ETHEREUM_DATA_GO_DDL.replace(" IF NOT EXISTS", ""),
  ]]
) {
  Deno.test(`mysql: uses a table pre-created with the ${name} DDL as it is`, async () => {
    await using db = await TestDatabase.create(`store_${name.toLowerCase()}`);
    await db.query(ddl);
    const original = await makeDocument(5000000, { receivedAt: 4000 });
    // A row an original server stored: check-then-insert, no eth_ tables.
    await db.query("INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)", [
      original.hash,
      original.payload,
    ]);
    const before = await showCreate(db);
    const writer = await MysqlWriter.open(db.config());
    const reader = new MysqlReader(db.config());
    try {
      assert.equal(await showCreate(db), before);
      const ours = await makeDocument(5000001, { receivedAt: 5000 });
      assert.deepEqual(await writer.save([original, ours]), [false, true]);
      assert.equal(await showCreate(db), before);
      const rows = await db.query(
        "SELECT id, hash FROM ethereum_data ORDER BY id",
      );
      assert.deepEqual(rows.map((r) => r.hash), [original.hash, ours.hash]);
      // We saw the original's copy too: known from then, first server not.
      const recent = await reader.recentBlocks({ limit: 10 });
      assert.deepEqual(
        recent.map((r) => [r.hash, r.firstSeen, r.server]),
        [[ours.hash, 5000, "test:1"], [original.hash, 4000, null]],
      );
      assert.equal(await reader.countBlocks(), 2);
      assert.equal(
        (await reader.document(original.hash))?.payload,
        original.payload,
      );
    } finally {
      await reader.close();
      await writer.close();
    }
  });
}

Deno.test("mysql: rows only an original wrote are listed after ours, paged by hash", async () => {
  await using db = await TestDatabase.create("store_orphans");
  await db.query(PYTHON_DDL);
  const originals = await Promise.all([1, 2, 3].map((n) => makeDocument(n)));
  for (const d of originals) {
    await db.query("INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)", [
      d.hash,
      d.payload,
    ]);
  }
  const writer = await MysqlWriter.open(db.config());
  const reader = new MysqlReader(db.config());
  try {
    const ours = await makeDocument(4, { receivedAt: 10 });
    await writer.save([ours]);
    const seen: string[] = [];
    let before: { firstSeen: number; hash: string } | undefined;
    while (true) {
      const page = await reader.recentBlocks({ limit: 2, before });
      if (page.length === 0) break;
      seen.push(...page.map((r) => r.hash));
      before = page.at(-1);
    }
    const orphanHashes = originals.map((d) => d.hash).sort().reverse();
    assert.deepEqual(seen, [ours.hash, ...orphanHashes]);
  } finally {
    await reader.close();
    await writer.close();
  }
});

Deno.test("mysql: a retried batch returns the same answer and counts once", async () => {
  await using db = await TestDatabase.create("store_retry");
  const writer = await MysqlWriter.open(db.config());
  try {
    const docs = [
      await makeDocument(10, { ip: "10.1.1.1" }),
      await makeDocument(11, { ip: "10.1.1.1" }),
    ];
    assert.deepEqual(await writer.save(docs), [true, true]);
    // As when the reply to COMMIT was lost and the queue retries the batch.
    assert.deepEqual(await writer.save(docs), [true, true]);
    const [client] = await db.query("SELECT documents FROM eth_clients");
    assert.equal(Number(client.documents), 2);
    const [block] = await db.query(
      "SELECT copies FROM eth_blocks WHERE hash = ?",
      [docs[0].hash],
    );
    assert.equal(Number(block.copies), 1);
    // A new batch with the same documents is counted.
    const again = docs.map((d) => ({ ...d, receivedAt: d.receivedAt + 1 }));
    assert.deepEqual(await writer.save(again), [false, false]);
    const [after] = await db.query("SELECT documents FROM eth_clients");
    assert.equal(Number(after.documents), 4);
  } finally {
    await writer.close();
  }
});

Deno.test("mysql: a batch mixing stored and new documents flags each one (all new, all stored, mixed)", async () => {
  await using db = await TestDatabase.create("store_mixed");
  const writer = await MysqlWriter.open(db.config());
  try {
    const docs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => makeDocument(3000 + i)),
    );
    // All new (one multi-row insert), then all stored, then a mix of the
    // two with a repeat inside the batch, as a replay or a fleet sends.
    assert.deepEqual(await writer.save(docs.slice(0, 3)), [true, true, true]);
    assert.deepEqual(await writer.save(docs.slice(0, 2)), [false, false]);
    const mixed = [docs[3], docs[0], docs[4], docs[3], docs[2], docs[5]];
    assert.deepEqual(
      await writer.save(mixed.map((d) => ({ ...d, server: "mix:1" }))),
      [true, false, true, false, false, true],
    );
    const rows = await db.query(
      "SELECT hash, server, copies FROM eth_blocks ORDER BY hash",
    );
    assert.equal(rows.length, 6);
    const byHash = new Map(rows.map((r) => [String(r.hash), r]));
    for (
      const [i, server, copies] of [
        [0, "test:1", 3],
        [2, "test:1", 2],
        [3, "mix:1", 2],
        [5, "mix:1", 1],
      ] as const
    ) {
      const row = byHash.get(docs[i].hash)!;
      assert.deepEqual([row.server, Number(row.copies)], [server, copies]);
    }
    const [count] = await db.query(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT hash) AS d FROM ethereum_data",
    );
    assert.deepEqual([Number(count.n), Number(count.d)], [6, 6]);
  } finally {
    await writer.close();
  }
});

Deno.test("mysql: chunk sizes cover a batch in at most 11 distinct prepared statements", () => {
  const seen = new Set<number>();
  for (const rows of [0, 1, 2, 3, 1023, 1024, 1025, 2047, 5000, 10_000]) {
    const sizes = chunkSizes(rows);
    assert.equal(sizes.reduce((a, b) => a + b, 0), rows, `${rows}`);
    for (const size of sizes) {
      assert.ok(size <= PREPARED_MAX_ROWS && Number.isInteger(Math.log2(size)));
      seen.add(size);
    }
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), "largest first");
  }
  assert.equal(seen.size, 11);
});

Deno.test("mysql: batches larger than one prepared statement are stored whole, new, stored or mixed", async () => {
  await using db = await TestDatabase.create("store_chunks");
  const writer = await MysqlWriter.open(db.config());
  try {
    const count = PREPARED_MAX_ROWS + 477;
    const docs = await Promise.all(
      Array.from(
        { length: count },
        (_, i) => makeDocument(500_000 + i, { ip: `10.9.${i % 3}.1` }),
      ),
    );
    const half = docs.slice(0, Math.floor(count / 2));
    assert.ok((await writer.save(half)).every((f) => f));
    // Stored and new interleaved: the mixed path settles each document.
    const firsts = await writer.save(docs);
    assert.deepEqual(firsts, docs.map((_, i) => i >= half.length));
    assert.ok((await writer.save(docs.slice(0, 10))).every((f) => !f));
    const [data] = await db.query(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT hash) AS d, SUM(LENGTH(payload)) AS bytes FROM ethereum_data",
    );
    assert.deepEqual(
      [Number(data.n), Number(data.d), Number(data.bytes)],
      [count, count, docs.reduce((n, d) => n + d.payload.length, 0)],
    );
    const [blocks] = await db.query(
      "SELECT COUNT(*) AS n, SUM(copies) AS copies FROM eth_blocks",
    );
    assert.deepEqual(
      [Number(blocks.n), Number(blocks.copies)],
      [count, half.length + count + 10],
    );
    const clients = await db.query(
      "SELECT ip, documents FROM eth_clients ORDER BY ip",
    );
    assert.equal(
      clients.reduce((n, c) => n + Number(c.documents), 0),
      half.length + count + 10,
    );
    assert.equal(clients.length, 3);
  } finally {
    await writer.close();
  }
});

Deno.test("mysql: concurrent writers store each document exactly once", async () => {
  await using db = await TestDatabase.create("store_race");
  const writers = await Promise.all(
    [1, 2, 3].map(() => MysqlWriter.open(db.config())),
  );
  try {
    const docs = await Promise.all(
      Array.from({ length: 60 }, (_, i) => makeDocument(1000 + i)),
    );
    // Each writer saves every document, in its own order and batches.
    const results = await Promise.all(writers.map(async (w, n) => {
      const mine = n === 1 ? [...docs].reverse() : docs;
      const flags = new Map<string, boolean>();
      for (let i = 0; i < mine.length; i += 7 + n) {
        const batch = mine.slice(i, i + 7 + n)
          .map((d) => ({ ...d, server: `w${n}` }));
        (await w.save(batch)).forEach((f, k) => flags.set(batch[k].hash, f));
      }
      return flags;
    }));
    for (const d of docs) {
      const firsts = results.filter((r) => r.get(d.hash)).length;
      assert.equal(firsts, 1, `first copies of block ${d.block}`);
    }
    const [count] = await db.query(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT hash) AS d FROM ethereum_data",
    );
    assert.deepEqual([Number(count.n), Number(count.d)], [60, 60]);
    const servers = await db.query(
      "SELECT hash, server, copies FROM eth_blocks",
    );
    assert.equal(servers.length, 60);
    for (const row of servers) {
      const winner = results.findIndex((r) => r.get(String(row.hash)));
      assert.equal(row.server, `w${winner}`);
      assert.equal(Number(row.copies), 3);
    }
  } finally {
    await Promise.all(writers.map((w) => w.close()));
  }
});

Deno.test("mysql: a batch MySQL rolls back as a deadlock's victim is tried again and stored once", async () => {
  await using db = await TestDatabase.create("store_deadlock");
  const lines: string[] = [];
  const writer = await MysqlWriter.open(db.config(), {
    log: createLogger("t", { level: "debug", write: (l) => lines.push(l) }),
  });
  // Another server's session, in a transaction of its own.
  const other = await mysql.createConnection(db.config());
  try {
    const [a, b] = (await Promise.all([
      makeDocument(31_000_000),
      makeDocument(31_000_001),
    ])).sort((x, y) => x.hash < y.hash ? -1 : 1);
    await other.query("START TRANSACTION");
    // Heavier than the writer's transaction, so InnoDB rolls the writer
    // back, not this one, when the cycle closes.
    for (let i = 0; i < 20; i++) {
      await other.query(
        "INSERT INTO eth_clients (ip, documents, first_seen_ms, last_seen_ms) VALUES (?, 1, 0, 0)",
        [`10.9.0.${i}`],
      );
    }
    await other.query(
      "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
      [b.hash, b.payload],
    );
    // The writer takes `a`'s key, then waits for `b`'s.
    const saving = writer.save([a, b]);
    saving.catch(() => {});
    // InnoDB's own report, which names the waiting statement (MariaDB's
    // INNODB_TRX view does not list every session's transaction).
    const waitingSince = Date.now();
    while (true) {
      const [status] = await db.query("SHOW ENGINE INNODB STATUS");
      const text = String(status.Status);
      const sessions = text.slice(text.indexOf("LIST OF TRANSACTIONS"));
      if (
        sessions.includes("FOR THIS LOCK TO BE GRANTED") &&
        sessions.includes(`\`${db.name}\`.\`ethereum_data\``)
      ) {
        break;
      }
      assert.ok(Date.now() - waitingSince < 10_000, "the writer never waited");
      await new Promise((r) => setTimeout(r, 20));
    }
    // Wanting `a` closes the cycle: the writer is the deadlock's victim.
    await other.query(
      "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
      [a.hash, a.payload],
    );
    await other.query("ROLLBACK");
    assert.deepEqual(await saving, [true, true]);
    assert.equal(
      lines.filter((l) => l.includes("deadlock's victim")).length,
      1,
      `expected one retry among ${DEADLOCK_ATTEMPTS} attempts: ${lines}`,
    );
    const rows = await db.query(
      "SELECT d.hash, b.copies, b.server FROM ethereum_data d JOIN eth_blocks b USING (hash) ORDER BY d.hash",
    );
    assert.deepEqual(
      rows.map((r) => [r.hash, Number(r.copies)]),
      [[a.hash, 1], [b.hash, 1]],
    );
  } finally {
    await other.end().catch(() => {});
    await writer.close();
  }
});

Deno.test("mysql: a payload too long for the originals' column is rejected, not retried", async () => {
  await using db = await TestDatabase.create("store_reject");
  const writer = await MysqlWriter.open(db.config());
  try {
    const doc = await makeDocument(1);
    const huge = { ...doc, payload: "x".repeat(70_000), hash: "f".repeat(64) };
    await writer.save([huge]).then(
      () => assert.fail("saved a payload longer than TEXT"),
      (e: StoreError) => assert.equal(e.kind, "rejected"),
    );
    // Nothing truncated was stored, and good documents still are.
    assert.deepEqual(await writer.save([doc]), [true]);
    const rows = await db.query("SELECT hash FROM ethereum_data");
    assert.deepEqual(rows.map((r) => r.hash), [doc.hash]);
  } finally {
    await writer.close();
  }
});

Deno.test("mysql: an unreachable server is a StoreError of kind unavailable", async () => {
  const config = {
    host: "127.0.0.1",
    port: freePort(),
    user: "root",
    password: "",
    database: "eth",
  };
  await MysqlWriter.open(config).then(
    () => assert.fail("opened a store that is not there"),
    (e) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.kind, "unavailable");
      assert.match(e.message, /root@127\.0\.0\.1:\d+\/eth/);
    },
  );
  const reader = new MysqlReader(config);
  try {
    await assert.rejects(reader.ping(), StoreError);
  } finally {
    await reader.close();
  }
});

Deno.test("mysql: a server that stops answering in the middle of a batch fails it as unavailable, and the retry stores it once", async () => {
  await using db = await TestDatabase.create("store_stall");
  await using proxy = FaultProxy.start({ port: MYSQL_PORT });
  const timeoutMs = 300;
  const writer = await MysqlWriter.open(db.config(proxy.port), {
    queryTimeoutMs: timeoutMs,
  });
  try {
    const docs = await Promise.all(
      Array.from(
        { length: PREPARED_MAX_ROWS + 10 },
        (_, i) => makeDocument(700_000 + i),
      ),
    );
    // The transaction's first round trip passes; the first insert of
    // 1,024 rows (well over 16 KiB) is held part-way.
    proxy.stall(16 * 1024);
    const attempt = writer.save(docs);
    // Failed by the timeout, not left hanging.
    assert.ok(await settleWithin(attempt, 10 * timeoutMs), "the save hung");
    await assert.rejects(attempt, (e) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.kind, "unavailable");
      assert.match(e.message, /within 300 ms/);
      return true;
    });
    proxy.restore();
    assert.ok((await writer.save(docs)).every((f) => f));
    const [data] = await db.query(
      "SELECT COUNT(*) AS n FROM ethereum_data",
    );
    assert.equal(Number(data.n), docs.length);
  } finally {
    proxy.restore();
    await writer.close();
  }
});

Deno.test("mysql: a reader before any server created the tables sees an empty store", async () => {
  await using db = await TestDatabase.create("store_noreader");
  const reader = new MysqlReader(db.config());
  try {
    assert.deepEqual(await reader.recentBlocks({ limit: 5 }), []);
    assert.deepEqual(await reader.clients(), []);
    assert.equal(await reader.countBlocks(), 0);
    assert.equal(await reader.document("a".repeat(64)), undefined);
  } finally {
    await reader.close();
  }
});
