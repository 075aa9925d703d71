/**
 * The embedded store's write side: one SQLite file (built-in `node:sqlite`)
 * with the same tables as MySQL, in WAL mode so the stats API reads it while
 * a server writes it; the server writes it from a worker thread.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { blockRows, clientRows, hashOrder } from "./batch.ts";
import {
  SQLITE_BLOCK_INDEXES,
  SQLITE_TABLES_DDL,
  sqliteBlocksDdl,
} from "./schema.ts";
import {
  type ReceivedDocument,
  StoreError,
  type StoreWriter,
} from "./types.ts";
import { type Logger, silentLogger } from "../shared/mod.ts";
import { WorkerWriter } from "./worker_writer.ts";
import { errorKind, INT64_MAX, openDatabase } from "./sqlite_connection.ts";

/** The writer's page cache, in KiB (SQLite's default is 2000). */
const WRITER_CACHE_KIB = 32 * 1024;
/**
 * WAL pages before an automatic checkpoint (SQLite's default is 1000): the
 * WAL file grows to about 128 MiB. Against 8,000, the writer's CPU per
 * document fell from 55-62 us to 46-49 in batches of 5,000 (150,000 rows,
 * pinned, alternating): a leaf dirtied by several batches reaches the file
 * once per checkpoint.
 */
const WRITER_CHECKPOINT_PAGES = 32_000;

/**
 * Writes to a SQLite file, creating it and its tables when missing. The
 * unique key on `ethereum_data.hash` decides which copy is first
 * (`INSERT OR IGNORE`); each batch is one transaction.
 *
 * @example
 * ```ts ignore
 * // Not run: writes a file in the working directory (tests/store/sqlite_test.ts runs it).
 * import { SqliteWriter } from "./sqlite.ts";
 * const writer = SqliteWriter.open("eth.sqlite");
 * await writer.save([doc]); // [true]
 * await writer.close();
 * ```
 */
export class SqliteWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name = "sqlite";
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #block;
  readonly #seen;
  readonly #client;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT OR IGNORE INTO ethereum_data (hash, payload) VALUES (?, ?)",
    );
    // A document whose first copy this batch stored: its row id is known.
    this.#block = db.prepare(
      `INSERT INTO eth_blocks
         (id, hash, block_number, first_seen_ms, last_seen_ms, copies, server)
       VALUES (?, ?, ?, ?, ?, ?, ?) ${BLOCK_UPSERT}`,
    );
    // One stored before: its row id is read through the unique hash.
    this.#seen = db.prepare(
      `INSERT INTO eth_blocks
         (id, hash, block_number, first_seen_ms, last_seen_ms, copies, server)
       SELECT id, hash, ?, ?, ?, ?, ? FROM ethereum_data WHERE hash = ?
       ${BLOCK_UPSERT}`,
    );
    this.#client = db.prepare(
      `INSERT INTO eth_clients (ip, documents, first_seen_ms, last_seen_ms)
       VALUES (?, ?, ?, ?)
       ON CONFLICT (ip) DO UPDATE SET
         documents = documents + excluded.documents,
         first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),
         last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)`,
    );
  }

  /**
   * Opens (creating when missing) the file and its tables, in WAL mode,
   * moving an older file's `eth_blocks` to the current layout first
   * ({@linkcode migrateBlocks}).
   */
  static open(
    path: string,
    { log = silentLogger }: { log?: Logger } = {},
  ): SqliteWriter {
    const db = openDatabase(path, false);
    try {
      db.exec("PRAGMA journal_mode = WAL");
      // FULL: a commit is synced, so once the server's spool moves past a
      // batch (and may delete it) a power loss cannot roll the batch back.
      // NORMAL would lose the last commits then. It costs one sync per
      // batch, in the writer's thread, off the acknowledgement's path.
      db.exec("PRAGMA synchronous = FULL");
      // Each document lands on a random leaf of two hash indexes. A cache
      // that holds them saves re-reading them per batch, and a longer WAL
      // lets a leaf dirtied by many commits be checkpointed (written to the
      // file) once instead of once per 1000 pages; durability is the WAL's.
      db.exec(`PRAGMA cache_size = -${WRITER_CACHE_KIB}`);
      db.exec(`PRAGMA wal_autocheckpoint = ${WRITER_CHECKPOINT_PAGES}`);
      for (const ddl of SQLITE_TABLES_DDL) db.exec(ddl);
      migrateBlocks(db, log);
      for (const ddl of SQLITE_BLOCK_INDEXES) db.exec(ddl);
      return new SqliteWriter(db);
    } catch (error) {
      db.close();
      throw new StoreError(
        `Cannot create tables in SQLite file ${path}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }

  /** Saves a batch in one transaction; see {@linkcode StoreWriter.save}. */
  save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return Promise.resolve([]);
    const firsts = new Array<boolean>(docs.length).fill(false);
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const order = hashOrder(docs);
        // Row ids of the first copies stored, in the order of blockRows'
        // rows that have a server (the same hash order).
        const ids: (number | bigint)[] = [];
        for (const i of order) {
          const r = this.#insert.run(docs[i].hash, docs[i].payload);
          firsts[i] = Number(r.changes) === 1;
          if (firsts[i]) ids.push(r.lastInsertRowid);
        }
        let stored = 0;
        for (const row of blockRows(docs, firsts, order)) {
          // SQLite integers are signed 64-bit; the payload keeps the rest.
          const block = row.block !== null && row.block <= INT64_MAX
            ? row.block
            : null;
          if (row.server !== null) {
            this.#block.run(
              ids[stored++],
              row.hash,
              block,
              row.firstSeen,
              row.lastSeen,
              row.copies,
              row.server,
            );
          } else {
            this.#seen.run(
              block,
              row.firstSeen,
              row.lastSeen,
              row.copies,
              null,
              row.hash,
            );
          }
        }
        for (const row of clientRows(docs)) {
          this.#client.run(row.ip, row.documents, row.firstSeen, row.lastSeen);
        }
        this.#db.exec("COMMIT");
      } catch (error) {
        // SQLite may have rolled back by itself (e.g. SQLITE_FULL): a second
        // ROLLBACK would throw "no transaction is active" and hide the cause.
        if (this.#db.isTransaction) {
          try {
            this.#db.exec("ROLLBACK");
          } catch {
            // The cause below is what matters.
          }
        }
        throw error;
      }
    } catch (error) {
      return Promise.reject(
        new StoreError(
          `Cannot save ${docs.length} documents to SQLite: ${
            (error as Error).message
          }`,
          { cause: error, kind: errorKind(error) },
        ),
      );
    }
    return Promise.resolve(firsts);
  }

  /** Closes the file (checkpointing the WAL). */
  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}

/** What a copy of a document already in `eth_blocks` updates there. */
const BLOCK_UPSERT = `ON CONFLICT (id) DO UPDATE SET
  block_number = COALESCE(block_number, excluded.block_number),
  last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms),
  copies = copies + excluded.copies,
  server = COALESCE(server, excluded.server)`;

/** Whether `eth_blocks` is keyed by hash, as an earlier version made it. */
function keyedByHash(db: DatabaseSync): boolean {
  return db.prepare(
    "SELECT 1 FROM pragma_table_info('eth_blocks') WHERE name = 'id'",
  ).get() === undefined;
}

/**
 * Moves an `eth_blocks` keyed by hash (an earlier version's file) to the
 * layout of {@linkcode sqliteBlocksDdl}, with its indexes, once, in one
 * transaction: a crash, a reader, or a second server opening the file
 * meanwhile finds either layout whole. A row whose document is not in
 * `ethereum_data` (none is ever written) is dropped, and counted in the log.
 * It takes about 10 s for a million rows; the server acknowledges meanwhile,
 * into its spool.
 */
function migrateBlocks(db: DatabaseSync, log: Logger): void {
  if (!keyedByHash(db)) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (keyedByHash(db)) {
      const started = performance.now();
      const [{ n: before }] = db.prepare(
        "SELECT COUNT(*) AS n FROM eth_blocks",
      ).all() as { n: number }[];
      log.info(
        `Moving eth_blocks (${before} rows) to rows keyed by ethereum_data.id (once)`,
      );
      db.exec(sqliteBlocksDdl("eth_blocks_by_id"));
      const { changes } = db.prepare(
        `INSERT INTO eth_blocks_by_id (id, hash, block_number, first_seen_ms,
           last_seen_ms, copies, server)
         SELECT d.id, b.hash, b.block_number, b.first_seen_ms, b.last_seen_ms,
           b.copies, b.server
         FROM eth_blocks b JOIN ethereum_data d ON d.hash = b.hash
         ORDER BY d.id`,
      ).run();
      db.exec("DROP TABLE eth_blocks");
      db.exec("ALTER TABLE eth_blocks_by_id RENAME TO eth_blocks");
      for (const ddl of SQLITE_BLOCK_INDEXES) db.exec(ddl);
      db.exec("COMMIT");
      const dropped = before - Number(changes);
      log.info(
        `eth_blocks moved in ${Math.round(performance.now() - started)} ms`,
        { rows: Number(changes), dropped },
      );
      if (dropped > 0) {
        log.warn(
          `${dropped} eth_blocks rows named no document of ethereum_data and were dropped`,
        );
      }
      return;
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * A {@linkcode SqliteWriter} on its own thread (a {@linkcode WorkerWriter}),
 * so no SQLite call (a transaction, a wait on a locked file) ever runs on
 * the event loop. The server uses this one; its behaviour is the same.
 *
 * @example
 * ```ts ignore
 * import { SqliteWorkerWriter } from "./sqlite.ts";
 * const writer = await SqliteWorkerWriter.open("eth.sqlite");
 * await writer.save([doc]); // [true]
 * await writer.close();
 * ```
 */
export class SqliteWorkerWriter extends WorkerWriter {
  /**
   * Starts the worker and opens (creating when missing) the file there;
   * `log` gets its lines (a move of an older file's `eth_blocks`).
   */
  static async open(
    path: string,
    { log = silentLogger }: { log?: Logger } = {},
  ): Promise<SqliteWorkerWriter> {
    const writer = new SqliteWorkerWriter("sqlite", log);
    await writer.opened({ kind: "sqlite", path });
    return writer;
  }
}
