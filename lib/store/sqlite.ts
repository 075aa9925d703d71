/**
 * The embedded store's write side: one SQLite file (built-in `node:sqlite`)
 * with the same tables as MySQL, in WAL mode so the stats API reads it while
 * a server writes it; the server writes it from a worker thread.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { blockRows, clientRows, hashOrder } from "./batch.ts";
import { SQLITE_DDL } from "./schema.ts";
import {
  type ReceivedDocument,
  StoreError,
  type StoreWriter,
} from "./types.ts";
import { silentLogger } from "../shared/mod.ts";
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
  readonly #client;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT OR IGNORE INTO ethereum_data (hash, payload) VALUES (?, ?)",
    );
    this.#block = db.prepare(
      `INSERT INTO eth_blocks
         (hash, block_number, first_seen_ms, last_seen_ms, copies, server)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET
         block_number = COALESCE(block_number, excluded.block_number),
         last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms),
         copies = copies + excluded.copies,
         server = COALESCE(server, excluded.server)`,
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

  /** Opens (creating when missing) the file and its tables, in WAL mode. */
  static open(path: string): SqliteWriter {
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
      for (const ddl of SQLITE_DDL) db.exec(ddl);
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
        for (const i of order) {
          const r = this.#insert.run(docs[i].hash, docs[i].payload);
          firsts[i] = Number(r.changes) === 1;
        }
        for (const row of blockRows(docs, firsts, order)) {
          this.#block.run(
            row.hash,
            // SQLite integers are signed 64-bit; the payload keeps the rest.
            row.block !== null && row.block <= INT64_MAX ? row.block : null,
            row.firstSeen,
            row.lastSeen,
            row.copies,
            row.server,
          );
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
  /** Starts the worker and opens (creating when missing) the file there. */
  static async open(path: string): Promise<SqliteWorkerWriter> {
    const writer = new SqliteWorkerWriter("sqlite", silentLogger);
    await writer.opened({ kind: "sqlite", path });
    return writer;
  }
}
