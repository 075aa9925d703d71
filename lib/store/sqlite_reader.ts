/**
 * The embedded store's read side: what the stats API reads from the SQLite
 * file (WAL mode, so it reads while a server writes).
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { probeStore } from "./health.ts";
import {
  bucketRows,
  documentSelectSql,
  storedSinceSql,
  toBlockRecord,
  toClientRecord,
  toStoredRow,
} from "./rows.ts";
import {
  HISTORY_MARK_SQL,
  HISTORY_RUNS_SQL,
  HISTORY_SERVERS_SQL,
  historyNumberlessSql,
  historyUnlistedSql,
  toHistory,
} from "./history.ts";
import {
  type BlockRecord,
  type ClientRecord,
  type StoredHistory,
  type StoredRow,
  StoreError,
  type StoreHealth,
  type StoreReader,
} from "./types.ts";
import { openDatabase } from "./sqlite_connection.ts";
import { type BlockJoin, HASH_BLOCK_JOIN, ID_BLOCK_JOIN } from "./schema.ts";

/**
 * Reads a SQLite file a server writes. Until the file exists every query
 * answers as an empty store and {@linkcode SqliteReader.ping} throws; the
 * reader never creates the file.
 */
export class SqliteReader implements StoreReader {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  #byId = false;

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

  /**
   * The statements for the file's `eth_blocks`: keyed by row id, or by hash
   * in an earlier version's file until a server moves it (once, after which
   * it is never asked again).
   */
  #sql(): BlockSql {
    if (!this.#byId) {
      this.#byId = this.#all(
        "SELECT 1 FROM pragma_table_info('eth_blocks') WHERE name = 'id'",
      ).length > 0;
    }
    return this.#byId ? BY_ID : BY_HASH;
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
    const [row] = this.#all(this.#sql().document, hash);
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
      this.#all(this.#sql().storedSince, after, limit).map(toStoredRow),
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
      const sql = this.#sql();
      const numberless = this.#all(sql.numberless);
      const ids = this.#all(sql.unlisted);
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
    this.#byId = false;
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

/** The statements that join `eth_blocks` to `ethereum_data`. */
interface BlockSql {
  document: string;
  storedSince: string;
  numberless: string;
  unlisted: string;
}

function blockSql(join: BlockJoin): BlockSql {
  return {
    document: `${documentSelectSql(join)} WHERE d.hash = ?`,
    storedSince: storedSinceSql(join),
    numberless: historyNumberlessSql(join),
    unlisted: historyUnlistedSql(join),
  };
}

const BY_ID = blockSql(ID_BLOCK_JOIN);
const BY_HASH = blockSql(HASH_BLOCK_JOIN);
