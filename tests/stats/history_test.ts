// The first read of the history from the store's summary (runs of block
// numbers, documents per server, the originals' rows by anti-join) agrees
// with reading every row, on SQLite and MySQL, and reads no row one by one.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { FleetLedger } from "../../lib/stats/ledger.ts";
import { MysqlReader, MysqlWriter } from "../../lib/store/mod.ts";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import type {
  ReceivedDocument,
  StoreReader,
  StoreWriter,
} from "../../lib/store/types.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { makeDocument, TestDatabase } from "../_helpers/db.ts";

const T0 = 1_700_000_000_000;

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function docs(blocks: number[], server: string, at = T0) {
  return await Promise.all(
    blocks.map((b, i) =>
      makeDocument(b, { receivedAt: at + i * 12_000, server })
    ),
  );
}

/** A document that is not a block's: no number recorded, none parsed. */
function other(text: string): ReceivedDocument {
  return {
    payload: text,
    hash: sha256Hex(text),
    block: null,
    ip: "127.0.0.1",
    port: 40000,
    receivedAt: T0,
    server: "srv-a:1",
  };
}

/** Counts what a reader is asked: summaries, and rows read one by one. */
function counting(reader: StoreReader, summarise: boolean) {
  const seen = { history: 0, rows: 0 };
  const wrapped: StoreReader = Object.create(reader);
  wrapped.storedSince = async (after, limit) => {
    const rows = await reader.storedSince(after, limit);
    seen.rows += rows.length;
    return rows;
  };
  wrapped.history = summarise
    ? () => {
      seen.history++;
      return reader.history!();
    }
    : undefined;
  Object.defineProperty(wrapped, "reorderWindow", {
    value: reader.reorderWindow,
  });
  return { reader: wrapped, seen };
}

async function state(ledger: FleetLedger) {
  await ledger.refresh();
  const gaps = await ledger.gaps();
  return {
    documents: ledger.documents,
    servers: ledger.servers(),
    gaps: gaps.ranges.map((r) => `${r.from}-${r.to}`),
    missing: gaps.missing,
    from: gaps.from,
    to: gaps.to,
    complete: gaps.complete,
  };
}

/**
 * Blocks 0-49 with 10-12 withheld; block 20 twice (two documents); a
 * document of no block; 30 and 31 stored only by an original server; then
 * 55 and 60 after the first read.
 */
async function check(
  reader: StoreReader,
  writer: StoreWriter,
  writeOriginals: (blocks: number[]) => Promise<void>,
) {
  const template = await BlockTemplate.load();
  const ours = range(0, 49).filter((b) =>
    !(b >= 10 && b <= 12) && b !== 30 && b !== 31
  );
  await writer.save(await docs(ours.filter((b) => b < 25), "srv-a:1"));
  await writer.save(
    await docs(ours.filter((b) => b >= 25), "srv-b:1", T0 + 1e6),
  );
  const twin = (await docs([20], "srv-b:1"))[0];
  twin.payload += "\n";
  twin.hash = sha256Hex(twin.payload);
  await writer.save([twin, other("not a block")]);
  await writeOriginals([30, 31]);

  const summarised = counting(reader, true);
  const paged = counting(reader, false);
  const fast = new FleetLedger(summarised.reader, {
    template,
    minRefreshMs: 0,
  });
  const slow = new FleetLedger(paged.reader, { template, minRefreshMs: 0 });
  const first = await state(fast);
  assert.deepEqual(first, await state(slow));
  assert.deepEqual(first.gaps, ["10-12"]);
  assert.equal(first.from, 0n);
  assert.equal(first.to, 49n);
  assert.equal(first.documents, 45 + 1 + 1 + 2);
  assert.equal(first.complete, true);
  assert.deepEqual(
    first.servers.map((s) => [s.server, s.documents]),
    [["srv-b:1", 24], ["srv-a:1", 23], [null, 2]],
  );
  assert.equal(summarised.seen.history, 1);
  // Only the re-read window below the mark is read row by row.
  assert.ok(
    summarised.seen.rows <= reader.reorderWindow,
    `${summarised.seen.rows} rows read one by one`,
  );
  assert.ok(paged.seen.rows >= 49);

  // Later documents are read as new ones, once (5 is a copy).
  await writer.save(await docs([60, 55, 5], "srv-c:1", T0 + 2e6));
  const second = await state(fast);
  assert.deepEqual(second, await state(slow));
  assert.deepEqual(second.gaps, ["10-12", "50-54", "56-59"]);
  assert.equal(second.documents, 51);
  assert.equal(summarised.seen.history, 1);
}

Deno.test("history: SQLite summary agrees with reading every row", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_history_" });
  const path = `${dir}/eth.sqlite`;
  const writer = SqliteWriter.open(path);
  const reader = new SqliteReader(path);
  try {
    await check(reader, writer, async (blocks) => {
      const db = new DatabaseSync(path);
      try {
        for (const d of await docs(blocks, "original")) {
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

Deno.test("history: MySQL summary agrees; without its indexes stats pages, and a server adds them", async () => {
  await using db = await TestDatabase.create("history");
  const writer = await MysqlWriter.open(db.config());
  await writer.indexed;
  const reader = new MysqlReader(db.config());
  try {
    await check(reader, writer, async (blocks) => {
      for (const d of await docs(blocks, "original")) {
        await db.query(
          "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
          [d.hash, d.payload],
        );
      }
    });
    // A table from before the indexes: no summary, the paged read instead.
    await db.query("DROP INDEX idx_eth_blocks_number ON eth_blocks");
    assert.equal(await reader.history(), undefined);
    const template = await BlockTemplate.load();
    const ledger = new FleetLedger(reader, { template, minRefreshMs: 0 });
    const paged = await state(ledger);
    assert.deepEqual(paged.gaps, ["10-12", "50-54", "56-59"]);
    assert.equal(paged.documents, 51);
    // The next server to start builds it again, in the background.
    const next = await MysqlWriter.open(db.config());
    await next.indexed;
    await next.close();
    const history = await reader.history();
    assert.ok(history);
    assert.deepEqual(
      history.runs.map((r) => `${r.from}-${r.to}`),
      ["0-9", "13-29", "32-49", "55-55", "60-60"],
    );
    assert.equal(history.payloads.length, 3); // 30, 31 and the non-block one
  } finally {
    await reader.close();
    await writer.close();
  }
});
