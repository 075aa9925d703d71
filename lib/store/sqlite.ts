/**
 * The embedded store: one SQLite file (built-in `node:sqlite`) with the same
 * tables as MySQL, in WAL mode so the stats API reads it while a server
 * writes it.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { blockRows, clientRows, hashOrder } from "./batch.ts";
import { probeStore } from "./health.ts";
import {
  bucketRows,
  STORED_SINCE_SQL,
  toBlockRecord,
  toClientRecord,
  toStoredRow,
} from "./rows.ts";
import { SQLITE_DDL } from "./schema.ts";
import {
  HISTORY_MARK_SQL,
  HISTORY_NUMBERLESS_SQL,
  HISTORY_RUNS_SQL,
  HISTORY_SERVERS_SQL,
  HISTORY_UNLISTED_SQL,
  toHistory,
} from "./history.ts";
import {
  type BlockRecord,
  type ClientRecord,
  type ReceivedDocument,
  type StoredHistory,
  type StoredRow,
  StoreError,
  type StoreHealth,
  type StoreReader,
  type StoreWriter,
} from "./types.ts";
import type { SqliteAnswer, SqliteRequest } from "./sqlite_protocol.ts";
import { settleWithin } from "../shared/mod.ts";

const BUSY_TIMEOUT_MS = 5000;
/** The writer's page cache, in KiB (SQLite's default is 2000). */
const WRITER_CACHE_KIB = 32 * 1024;
/** WAL pages before an automatic checkpoint (SQLite's default is 1000). */
const WRITER_CHECKPOINT_PAGES = 8000;
/** How long closing waits for the worker to close the file, in ms. */
const CLOSE_WAIT_MS = 1000;
const INT64_MAX = 2n ** 63n - 1n;
// Primary result codes after which the same batch can succeed later:
// BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, READONLY.
const TRANSIENT_CODES = new Set([5, 6, 7, 10, 13, 14, 8]);

function errorKind(error: unknown): "unavailable" | "rejected" {
  const code = (error as { errcode?: number }).errcode;
  return typeof code === "number" && !TRANSIENT_CODES.has(code & 0xff)
    ? "rejected"
    : "unavailable";
}

function openDatabase(path: string, readOnly: boolean): DatabaseSync {
  try {
    const db = new DatabaseSync(path, { readOnly });
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db;
  } catch (error) {
    throw new StoreError(
      `Cannot open SQLite file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

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
        for (const i of hashOrder(docs)) {
          const r = this.#insert.run(docs[i].hash, docs[i].payload);
          firsts[i] = Number(r.changes) === 1;
        }
        for (const row of blockRows(docs, firsts)) {
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
 * A {@linkcode SqliteWriter} on its own thread (a Worker), so no SQLite call
 * (a transaction, a wait on a locked file) ever runs on the event loop. The
 * server uses this one; its behaviour is the same.
 *
 * @example
 * ```ts ignore
 * import { SqliteWorkerWriter } from "./sqlite.ts";
 * const writer = await SqliteWorkerWriter.open("eth.sqlite");
 * await writer.save([doc]); // [true]
 * await writer.close();
 * ```
 */
export class SqliteWorkerWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name = "sqlite";
  readonly #worker: Worker;
  readonly #calls = new Map<
    number,
    { resolve: (firsts: boolean[]) => void; reject: (e: Error) => void }
  >();
  #nextId = 1;
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = ({ data }: MessageEvent<SqliteAnswer>) => {
      const call = this.#calls.get(data.id);
      if (!call) return;
      this.#calls.delete(data.id);
      if ("error" in data) {
        call.reject(new StoreError(data.error.message, data.error));
      } else call.resolve(data.firsts ?? []);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const error = new StoreError(`SQLite worker failed: ${event.message}`);
      for (const call of this.#calls.values()) call.reject(error);
      this.#calls.clear();
    };
  }

  /** Starts the worker and opens (creating when missing) the file there. */
  static async open(path: string): Promise<SqliteWorkerWriter> {
    const worker = new Worker(
      new URL("./sqlite_worker.ts", import.meta.url),
      { type: "module" },
    );
    const writer = new SqliteWorkerWriter(worker);
    try {
      await writer.#call({ id: 0, op: "open", path });
    } catch (error) {
      worker.terminate();
      throw error;
    }
    return writer;
  }

  #call(request: SqliteRequest): Promise<boolean[]> {
    if (this.#closed) {
      return Promise.reject(new StoreError("The SQLite writer is closed"));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  /** Saves a batch in one transaction; see {@linkcode StoreWriter.save}. */
  save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return Promise.resolve([]);
    return this.#call({ id: 0, op: "save", docs: [...docs] });
  }

  /** Closes the file and stops the worker (at once if it is stuck). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      // A failed or stuck close ends the same way: the worker is stopped.
      await settleWithin(this.#call({ id: 0, op: "close" }), CLOSE_WAIT_MS);
    } finally {
      this.#closed = true;
      this.#worker.terminate();
      const error = new StoreError("The SQLite writer is closed");
      for (const call of this.#calls.values()) call.reject(error);
      this.#calls.clear();
    }
  }
}

/**
 * Reads a SQLite file a server writes. Until the file exists every query
 * answers as an empty store and {@linkcode SqliteReader.ping} throws; the
 * reader never creates the file.
 */
export class SqliteReader implements StoreReader {
  readonly #path: string;
  #db: DatabaseSync | undefined;

  /** Reads `path`, opened on first use. */
  constructor(path: string) {
    this.#path = path;
  }

  #open(): DatabaseSync | undefined {
    if (this.#db) return this.#db;
    try {
      Deno.statSync(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new StoreError(
        `Cannot read SQLite file ${this.#path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.#db = openDatabase(this.#path, false);
    return this.#db;
  }

  #all(sql: string, ...params: SQLInputValue[]): Record<string, unknown>[] {
    const db = this.#open();
    if (!db) return [];
    try {
      return db.prepare(sql).all(...params) as Record<string, unknown>[];
    } catch (error) {
      // A server has not created the tables yet: nothing is stored.
      if (/no such table/.test((error as Error).message)) return [];
      throw new StoreError(
        `Cannot read SQLite file ${this.#path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** See {@linkcode StoreReader.recentBlocks}. */
  recentBlocks(
    { limit, before }: {
      limit: number;
      before?: { firstSeen: number; hash: string };
    },
  ): Promise<BlockRecord[]> {
    const rows = before
      ? this.#all(
        `${BLOCK_SELECT} WHERE first_seen_ms < ?
           OR (first_seen_ms = ? AND hash < ?)
         ORDER BY first_seen_ms DESC, hash DESC LIMIT ?`,
        before.firstSeen,
        before.firstSeen,
        before.hash,
        limit,
      )
      : this.#all(
        `${BLOCK_SELECT} ORDER BY first_seen_ms DESC, hash DESC LIMIT ?`,
        limit,
      );
    return Promise.resolve(rows.map(toBlockRecord));
  }

  /** See {@linkcode StoreReader.document}. */
  document(hash: string): Promise<BlockRecord | undefined> {
    const [row] = this.#all(
      `SELECT d.hash AS hash, d.payload AS payload, b.block_number AS block_number,
         b.first_seen_ms AS first_seen_ms, b.last_seen_ms AS last_seen_ms,
         b.copies AS copies, b.server AS server
       FROM ethereum_data d LEFT JOIN eth_blocks b ON b.hash = d.hash
       WHERE d.hash = ?`,
      hash,
    );
    return Promise.resolve(row ? toBlockRecord(row) : undefined);
  }

  /** See {@linkcode StoreReader.clients}. */
  clients(): Promise<ClientRecord[]> {
    return Promise.resolve(
      this.#all(
        `SELECT ip, documents, first_seen_ms, last_seen_ms FROM eth_clients
         ORDER BY documents DESC, ip ASC`,
      ).map(toClientRecord),
    );
  }

  /** See {@linkcode StoreReader.countBlocks}. */
  countBlocks(): Promise<number> {
    const [row] = this.#all("SELECT COUNT(*) AS n FROM ethereum_data");
    return Promise.resolve(row ? Number(row.n) : 0);
  }

  /** Row ids are given out in commit order: nothing lands behind. */
  readonly reorderWindow = 0;

  /** See {@linkcode StoreReader.storedSince}; `order` is the row id. */
  storedSince(after: number, limit: number): Promise<StoredRow[]> {
    return Promise.resolve(
      this.#all(STORED_SINCE_SQL, after, limit).map(toStoredRow),
    );
  }

  /**
   * See {@linkcode StoreReader.history}: one read transaction, so the
   * summary and its mark are one snapshot of the file.
   */
  async history(): Promise<StoredHistory> {
    const db = this.#open();
    if (!db) return toHistory(EMPTY_HISTORY);
    // Each query blocks the event loop while it runs: let others in between.
    const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
    db.exec("BEGIN");
    try {
      const [top] = this.#all(HISTORY_MARK_SQL);
      const mark = top ? Number(top.mark) : -1;
      const runs = this.#all(HISTORY_RUNS_SQL);
      await turn();
      const servers = this.#all(HISTORY_SERVERS_SQL);
      await turn();
      const numberless = this.#all(HISTORY_NUMBERLESS_SQL);
      const ids = this.#all(HISTORY_UNLISTED_SQL);
      await turn();
      const payload = db.prepare(
        "SELECT payload FROM ethereum_data WHERE id = ?",
      );
      const unlisted = ids.map((r) => payload.get(r.id as number) ?? {});
      return toHistory({
        mark,
        runs,
        servers,
        numberless,
        unlisted,
        recent: [],
      });
    } finally {
      if (db.isTransaction) db.exec("COMMIT");
    }
  }

  /** See {@linkcode StoreReader.firstSeenCounts}. */
  firstSeenCounts(
    sinceMs: number,
    bucketMs: number,
  ): Promise<Map<number, number>> {
    return Promise.resolve(bucketRows(this.#all(
      // `%` works in integers even though a JS number is bound as a real.
      `SELECT first_seen_ms - first_seen_ms % ? AS start, COUNT(*) AS n
       FROM eth_blocks WHERE first_seen_ms >= ? GROUP BY start`,
      bucketMs,
      sinceMs,
    )));
  }

  /** See {@linkcode StoreReader.oldestFirstSeen}. */
  oldestFirstSeen(): Promise<number | undefined> {
    const [row] = this.#all(
      "SELECT MIN(first_seen_ms) AS t FROM eth_blocks WHERE first_seen_ms > 0",
    );
    return Promise.resolve(row?.t == null ? undefined : Number(row.t));
  }

  /** See {@linkcode StoreReader.health}. */
  async health(): Promise<StoreHealth[]> {
    return [
      await probeStore("sqlite", `SQLite ${this.#path}`, () => this.ping()),
    ];
  }

  /** Throws until the file exists and answers. */
  ping(): Promise<void> {
    const db = this.#open();
    if (!db) {
      return Promise.reject(
        new StoreError(`SQLite file ${this.#path} does not exist yet`),
      );
    }
    this.#all("SELECT 1");
    return Promise.resolve();
  }

  /** Closes the file. */
  close(): Promise<void> {
    if (this.#db?.isOpen) this.#db.close();
    this.#db = undefined;
    return Promise.resolve();
  }
}

const EMPTY_HISTORY = {
  mark: -1,
  runs: [],
  servers: [],
  numberless: [],
  unlisted: [],
  recent: [],
};

const BLOCK_SELECT =
  `SELECT hash, block_number, first_seen_ms, last_seen_ms, copies, server
   FROM eth_blocks`;
