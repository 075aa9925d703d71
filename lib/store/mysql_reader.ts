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
  STORED_SINCE_SQL,
  toBlockRecord,
  toClientRecord,
  toStoredRow,
} from "./rows.ts";
import { MYSQL_INDEX_NAMES_SQL, MYSQL_STATS_INDEXES } from "./schema.ts";
import {
  HISTORY_MARK_SQL,
  HISTORY_NUMBERLESS_SQL,
  HISTORY_PAYLOADS_SQL,
  HISTORY_RECENT_SQL,
  HISTORY_RUNS_SQL,
  HISTORY_SERVERS_SQL,
  HISTORY_UNLISTED_SQL,
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

/**
 * Reads MySQL for the stats API. It does not create tables: until a server
 * has, queries answer as an empty store. Documents only an original server
 * stored have no `eth_blocks` row; they are listed after ours, with
 * `firstSeen` 0.
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

  async #rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      const [rows] = await this.#pool.query(
        { sql, timeout: QUERY_TIMEOUT_MS },
        params,
      );
      return rows as Row[];
    } catch (error) {
      if ((error as { errno?: number }).errno === 1146) return [];
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
      const after = before?.firstSeen === 0 ? before.hash : undefined;
      const rows = await this.#rows(
        `SELECT d.hash AS hash FROM ethereum_data d
         LEFT JOIN eth_blocks b ON b.hash = d.hash
         WHERE b.hash IS NULL AND d.hash IS NOT NULL
         ${after === undefined ? "" : "AND d.hash < ?"}
         ORDER BY d.hash DESC LIMIT ?`,
        after === undefined
          ? [limit - out.length]
          : [after, limit - out.length],
      );
      out.push(...rows.map(toBlockRecord));
    }
    return out;
  }

  /** See {@linkcode StoreReader.document}. */
  async document(hash: string): Promise<BlockRecord | undefined> {
    const [row] = await this.#rows(
      `SELECT d.hash AS hash, d.payload AS payload,
         b.block_number AS block_number, b.first_seen_ms AS first_seen_ms,
         b.last_seen_ms AS last_seen_ms, b.copies AS copies, b.server AS server
       FROM ethereum_data d LEFT JOIN eth_blocks b ON b.hash = d.hash
       WHERE d.hash = ? LIMIT 1`,
      [hash],
    );
    if (row) return toBlockRecord(row);
    // A database only an original server wrote has no eth_blocks to join.
    const [plain] = await this.#rows(
      "SELECT hash, payload FROM ethereum_data WHERE hash = ? LIMIT 1",
      [hash],
    );
    return plain ? toBlockRecord(plain) : undefined;
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
    return (await this.#rows(STORED_SINCE_SQL, [after, limit])).map(
      toStoredRow,
    );
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
        if ((error as { errno?: number }).errno === 1146) return [];
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
        numberless: await rows(HISTORY_NUMBERLESS_SQL),
        unlisted: await payloads(await rows(HISTORY_UNLISTED_SQL)),
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
