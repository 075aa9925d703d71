/**
 * The MySQL store's read side, for the stats API.
 *
 * @module
 */
import type mysql from "mysql2/promise";
import type { MysqlConfig } from "./config.ts";
import { probeStore } from "./health.ts";
import {
  createPool,
  describeMysql,
  QUERY_TIMEOUT_MS,
  type Row,
  storeError,
} from "./mysql_connection.ts";
import {
  bucketRows,
  documentSelectSql,
  STORED_SINCE_PLAIN_SQL,
  storedSinceSql,
  toBlockRecord,
  toClientRecord,
  toStoredRow,
} from "./rows.ts";
import {
  HASH_BLOCK_JOIN,
  MYSQL_INDEX_NAMES_SQL,
  MYSQL_STATS_INDEXES,
} from "./schema.ts";
import {
  HISTORY_MARK_SQL,
  HISTORY_PAYLOADS_SQL,
  HISTORY_RECENT_SQL,
  HISTORY_RUNS_SQL,
  HISTORY_SERVERS_SQL,
  historyNumberlessSql,
  historyUnlistedSql,
  PAYLOADS_PER_READ,
  toHistory,
} from "./history.ts";
import type {
  BlockRecord,
  ClientRecord,
  StoredHistory,
  StoredRow,
  StoreHealth,
  StoreReader,
} from "./types.ts";

/** MySQL's "table does not exist". */
const NO_SUCH_TABLE = 1146;

/** The table a "does not exist" error names, without its database. */
function missingTable(error: unknown): string | undefined {
  const message = String((error as Error).message);
  return /Table '(?:[^'.]*\.)?([^'.]+)' doesn't exist/.exec(message)?.[1];
}

/** A query to run instead when one of our `eth_` tables is missing. */
interface Without {
  sql: string;
  params: unknown[];
}

/**
 * Reads MySQL for the stats API; it never creates or alters a table. Only
 * a missing `ethereum_data` reads as an empty store (nothing stored yet).
 * Our `eth_` tables may be missing (a database only the originals wrote):
 * each read that joins them then reads `ethereum_data` without them, and
 * picks them up as soon as a server of ours creates them. Documents only an
 * original server stored have no `eth_blocks` row; they are listed after
 * ours, with `firstSeen` 0 (unknown) and their payload, from which the
 * stats side reads the block number.
 */
export class MysqlReader implements StoreReader {
  readonly #pool: mysql.Pool;
  readonly #describe: string;
  readonly #config: MysqlConfig;

  /** A reader with its own small pool (connections are made on use). */
  constructor(config: MysqlConfig) {
    this.#pool = createPool(config, 2);
    this.#describe = describeMysql(config);
    this.#config = config;
  }

  /**
   * Runs `sql`. When a table it reads is missing: `ethereum_data` means
   * nothing is stored yet (no rows); one of ours means `without` is run
   * instead, or, for a query that reads only our tables, no rows.
   */
  async #rows(
    sql: string,
    params: unknown[] = [],
    without?: Without,
  ): Promise<Row[]> {
    try {
      const [rows] = await this.#pool.query(
        { sql, timeout: QUERY_TIMEOUT_MS },
        params,
      );
      return rows as Row[];
    } catch (error) {
      if ((error as { errno?: number }).errno === NO_SUCH_TABLE) {
        if (missingTable(error) === "ethereum_data" || !without) return [];
        return await this.#rows(without.sql, without.params);
      }
      throw storeError(`Cannot read ${this.#describe}`, error, this.#config);
    }
  }

  /** See {@linkcode StoreReader.recentBlocks}. */
  async recentBlocks(
    { limit, before }: {
      limit: number;
      before?: { firstSeen: number; hash: string };
    },
  ): Promise<BlockRecord[]> {
    const out: BlockRecord[] = [];
    if (!before || before.firstSeen > 0) {
      const rows = before
        ? await this.#rows(
          `${BLOCK_SELECT} WHERE first_seen_ms < ?
             OR (first_seen_ms = ? AND hash < ?)
           ORDER BY first_seen_ms DESC, hash DESC LIMIT ?`,
          [before.firstSeen, before.firstSeen, before.hash, limit],
        )
        : await this.#rows(
          `${BLOCK_SELECT} ORDER BY first_seen_ms DESC, hash DESC LIMIT ?`,
          [limit],
        );
      out.push(...rows.map(toBlockRecord));
    }
    if (out.length < limit) {
      out.push(...await this.#unlisted(limit - out.length, before));
    }
    return out;
  }

  /**
   * The documents only an original server stored, newest hash first, with
   * their payloads: every document while `eth_blocks` does not exist.
   */
  async #unlisted(
    limit: number,
    before?: { firstSeen: number; hash: string },
  ): Promise<BlockRecord[]> {
    const after = before?.firstSeen === 0 ? before.hash : undefined;
    const below = after === undefined ? "" : "AND d.hash < ?";
    const params = after === undefined ? [limit] : [after, limit];
    const rows = await this.#rows(
      `SELECT d.hash AS hash, d.payload AS payload FROM ethereum_data d
       LEFT JOIN eth_blocks b ON b.hash = d.hash
       WHERE b.hash IS NULL AND d.hash IS NOT NULL ${below}
       ORDER BY d.hash DESC LIMIT ?`,
      params,
      {
        sql: `SELECT d.hash AS hash, d.payload AS payload FROM ethereum_data d
              WHERE d.hash IS NOT NULL ${below}
              ORDER BY d.hash DESC LIMIT ?`,
        params,
      },
    );
    return rows.map(toBlockRecord);
  }

  /**
   * See {@linkcode StoreReader.documents}: the stored documents among
   * `hashes`, with payloads and what `eth_blocks` knows of them.
   */
  async documents(hashes: readonly string[]): Promise<BlockRecord[]> {
    if (hashes.length === 0) return [];
    const rows = await this.#rows(
      `${DOCUMENT_SELECT} WHERE d.hash IN (?)`,
      [hashes],
      { sql: `${PLAIN_DOCUMENT_SELECT} WHERE hash IN (?)`, params: [hashes] },
    );
    return rows.map(toBlockRecord);
  }

  /** See {@linkcode StoreReader.document}. */
  async document(hash: string): Promise<BlockRecord | undefined> {
    const [row] = await this.#rows(
      `${DOCUMENT_SELECT} WHERE d.hash = ? LIMIT 1`,
      [hash],
      {
        sql: `${PLAIN_DOCUMENT_SELECT} WHERE hash = ? LIMIT 1`,
        params: [hash],
      },
    );
    return row ? toBlockRecord(row) : undefined;
  }

  /** See {@linkcode StoreReader.clients}. */
  async clients(): Promise<ClientRecord[]> {
    const rows = await this.#rows(
      `SELECT ip, documents, first_seen_ms, last_seen_ms FROM eth_clients
       ORDER BY documents DESC, ip ASC`,
    );
    return rows.map(toClientRecord);
  }

  /** See {@linkcode StoreReader.countBlocks}. */
  async countBlocks(): Promise<number> {
    const [row] = await this.#rows("SELECT COUNT(*) AS n FROM ethereum_data");
    return row ? Number(row.n) : 0;
  }

  /**
   * AUTO_INCREMENT ids are taken at insert, not at commit: of two servers'
   * concurrent batches the later ids may commit first. Rows are re-read this
   * many ids back (a few batches of every server), so a late one still
   * counts.
   */
  readonly reorderWindow = 4096;

  /** See {@linkcode StoreReader.storedSince}; `order` is the row id. */
  async storedSince(after: number, limit: number): Promise<StoredRow[]> {
    const rows = await this.#rows(STORED_SINCE, [after, limit], {
      sql: STORED_SINCE_PLAIN_SQL,
      params: [after, limit],
    });
    return rows.map(toStoredRow);
  }

  /**
   * See {@linkcode StoreReader.history}: one read-only transaction with a
   * consistent snapshot, so the summary and its mark agree. Undefined until
   * a server has built the indexes it reads (see `MYSQL_STATS_INDEXES`).
   */
  async history(): Promise<StoredHistory | undefined> {
    const indexes = await this.#rows(MYSQL_INDEX_NAMES_SQL);
    const names = new Set(indexes.map((i) => String(i.name)));
    if (Object.keys(MYSQL_STATS_INDEXES).some((n) => !names.has(n))) {
      return undefined;
    }
    let conn: mysql.PoolConnection;
    try {
      conn = await this.#pool.getConnection();
    } catch (error) {
      throw storeError(`Cannot reach ${this.#describe}`, error, this.#config);
    }
    const rows = async (sql: string, params: unknown[] = []) => {
      try {
        const [out] = await conn.query(
          { sql, timeout: QUERY_TIMEOUT_MS },
          params,
        );
        return out as Row[];
      } catch (error) {
        if ((error as { errno?: number }).errno === NO_SUCH_TABLE) return [];
        throw error;
      }
    };
    const payloads = async (ids: Row[]) => {
      const out: Row[] = [];
      for (let i = 0; i < ids.length; i += PAYLOADS_PER_READ) {
        const chunk = ids.slice(i, i + PAYLOADS_PER_READ).map((r) => r.id);
        out.push(...await rows(HISTORY_PAYLOADS_SQL, [chunk]));
      }
      return out;
    };
    try {
      await conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
      const [top] = await rows(HISTORY_MARK_SQL);
      const mark = top ? Number(top.mark) : -1;
      const history = toHistory({
        mark,
        runs: await rows(HISTORY_RUNS_SQL),
        servers: await rows(HISTORY_SERVERS_SQL),
        numberless: await rows(NUMBERLESS),
        unlisted: await payloads(await rows(UNLISTED)),
        recent: await rows(HISTORY_RECENT_SQL, [
          mark - this.reorderWindow,
          mark,
        ]),
      });
      await conn.query("COMMIT");
      conn.release();
      return history;
    } catch (error) {
      conn.destroy();
      throw storeError(`Cannot read ${this.#describe}`, error, this.#config);
    }
  }

  /** See {@linkcode StoreReader.firstSeenCounts}. */
  async firstSeenCounts(
    sinceMs: number,
    bucketMs: number,
  ): Promise<Map<number, number>> {
    return bucketRows(
      await this.#rows(
        `SELECT first_seen_ms DIV ? * ? AS start, COUNT(*) AS n
         FROM eth_blocks WHERE first_seen_ms >= ? GROUP BY start`,
        [bucketMs, bucketMs, sinceMs],
      ),
    );
  }

  /** See {@linkcode StoreReader.oldestFirstSeen}. */
  async oldestFirstSeen(): Promise<number | undefined> {
    const [row] = await this.#rows(
      "SELECT MIN(first_seen_ms) AS t FROM eth_blocks WHERE first_seen_ms > 0",
    );
    return row?.t == null ? undefined : Number(row.t);
  }

  /** See {@linkcode StoreReader.health}. */
  async health(): Promise<StoreHealth[]> {
    return [await probeStore("mysql", this.#describe, () => this.ping())];
  }

  /** Throws unless MySQL answers. */
  async ping(): Promise<void> {
    await this.#rows("SELECT 1");
  }

  /** Closes the pool. */
  async close(): Promise<void> {
    await this.#pool.end().catch(() => {});
  }
}

const BLOCK_SELECT =
  `SELECT hash, block_number, first_seen_ms, last_seen_ms, copies, server
   FROM eth_blocks`;

/** A document with what `eth_blocks` knows of it. */
const DOCUMENT_SELECT = documentSelectSql(HASH_BLOCK_JOIN);

/** {@linkcode DOCUMENT_SELECT} while `eth_blocks` does not exist. */
const PLAIN_DOCUMENT_SELECT = "SELECT hash, payload FROM ethereum_data";

const STORED_SINCE = storedSinceSql(HASH_BLOCK_JOIN);
const NUMBERLESS = historyNumberlessSql(HASH_BLOCK_JOIN);
const UNLISTED = historyUnlistedSql(HASH_BLOCK_JOIN);
