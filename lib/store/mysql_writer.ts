/**
 * The MySQL store's write side: the originals' `ethereum_data` table, plus
 * our `eth_` tables for what they did not keep.
 *
 * @module
 */
import type mysql from "mysql2/promise";
import type { MysqlConfig } from "./config.ts";
import { type Logger, silentLogger } from "../shared/mod.ts";
import {
  batchId,
  blockRows,
  clientRows,
  hashOrder,
  parseFlags,
} from "./batch.ts";
import {
  createPool,
  describeMysql,
  type Header,
  QUERY_TIMEOUT_MS,
  type Row,
  storeError,
} from "./mysql_connection.ts";
import {
  addStatsIndexes,
  ensureTables,
  type IndexBuild,
} from "./mysql_schema.ts";
import type { ReceivedDocument, StoreWriter } from "./types.ts";

/** Options for {@linkcode MysqlWriter.open}. */
export interface MysqlWriterOptions {
  /** Where to log (index builds, a table without a unique hash). */
  log?: Logger;
  /**
   * Connections in the writer's pool.
   *
   * @default {2}
   */
  connectionLimit?: number;
}

/**
 * Writes to MySQL. On open it creates `ethereum_data` with the Python
 * original's DDL when missing (an existing one, Python's or Go's, is used as
 * it is) and our `eth_` tables. A batch is one transaction in two round
 * trips; one insert per document lets the unique key on `hash` decide,
 * atomically, which server stores the first copy, and its affected-rows
 * count tells us which ones we stored.
 */
export class MysqlWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name = "mysql";
  readonly #pool: mysql.Pool;
  readonly #nonce = crypto.randomUUID();
  readonly #describe: string;
  readonly #config: MysqlConfig;

  readonly #indexing: IndexBuild;

  private constructor(
    pool: mysql.Pool,
    config: MysqlConfig,
    indexing: IndexBuild,
  ) {
    this.#pool = pool;
    this.#indexing = indexing;
    this.#describe = describeMysql(config);
    this.#config = config;
  }

  /**
   * Connects and makes sure the tables exist. Throws a `StoreError` when
   * MySQL cannot be reached or the tables cannot be created.
   */
  static async open(
    config: MysqlConfig,
    { log = silentLogger, connectionLimit = 2 }: MysqlWriterOptions = {},
  ): Promise<MysqlWriter> {
    const where = describeMysql(config);
    const pool = createPool(config, connectionLimit);
    let missing: string[];
    try {
      missing = await ensureTables(pool, log);
    } catch (error) {
      await pool.end().catch(() => {});
      throw storeError(`Cannot prepare ${where}`, error, config);
    }
    return new MysqlWriter(pool, config, addStatsIndexes(config, missing, log));
  }

  /** Saves a batch in one transaction; see {@linkcode StoreWriter.save}. */
  async save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return [];
    const id = batchId(this.#nonce, docs);
    let conn: mysql.PoolConnection;
    try {
      conn = await this.#pool.getConnection();
    } catch (error) {
      throw storeError(`Cannot reach ${this.#describe}`, error, this.#config);
    }
    try {
      const firsts = await this.#save(conn, id, docs);
      conn.release();
      return firsts;
    } catch (error) {
      // Never reuse a connection whose transaction state is unknown.
      conn.destroy();
      throw storeError(
        `Cannot save ${docs.length} documents to ${this.#describe}`,
        error,
      );
    }
  }

  async #save(
    conn: mysql.PoolConnection,
    id: string,
    docs: readonly ReceivedDocument[],
  ): Promise<boolean[]> {
    const order = hashOrder(docs);
    // The first copy of each hash in the batch; later copies are never first.
    const fresh = order.filter((i, k) =>
      k === 0 || docs[i].hash !== docs[order[k - 1]].hash
    );
    // One multi-row insert: its affected rows say only how many rows were
    // new. All or none settles every document; a mix (a copy another server
    // stored meanwhile, a replay) is settled one statement per document.
    let claimed = await this.#claim(conn, id, docs, fresh, true);
    if (claimed.length === 0) return await this.#stored(conn, id, docs.length);
    const inserted = claimed[3].affectedRows;
    const firsts = new Array<boolean>(docs.length).fill(false);
    if (inserted === fresh.length) {
      for (const i of fresh) firsts[i] = true;
    } else if (inserted !== 0) {
      await conn.query("ROLLBACK");
      claimed = await this.#claim(conn, id, docs, order, false);
      if (claimed.length === 0) {
        return await this.#stored(conn, id, docs.length);
      }
      order.forEach((i, k) => firsts[i] = claimed[k + 3].affectedRows === 1);
    }
    const blocks = blockRows(docs, firsts);
    const clients = clientRows(docs);
    await conn.query(
      {
        sql: [
          `INSERT INTO eth_blocks
             (hash, block_number, first_seen_ms, last_seen_ms, copies, server)
           VALUES ${blocks.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}
           ON DUPLICATE KEY UPDATE
             block_number = COALESCE(block_number, VALUES(block_number)),
             last_seen_ms = GREATEST(last_seen_ms, VALUES(last_seen_ms)),
             copies = copies + VALUES(copies),
             server = COALESCE(server, VALUES(server))`,
          `INSERT INTO eth_clients (ip, documents, first_seen_ms, last_seen_ms)
           VALUES ${clients.map(() => "(?, ?, ?, ?)").join(", ")}
           ON DUPLICATE KEY UPDATE
             documents = documents + VALUES(documents),
             first_seen_ms = LEAST(first_seen_ms, VALUES(first_seen_ms)),
             last_seen_ms = GREATEST(last_seen_ms, VALUES(last_seen_ms))`,
          "UPDATE eth_batches SET results = ? WHERE id = ?",
          "COMMIT",
        ].join(";\n"),
        timeout: QUERY_TIMEOUT_MS,
      },
      [
        ...blocks.flatMap((r) => [
          r.hash,
          r.block?.toString() ?? null,
          r.firstSeen,
          r.lastSeen,
          r.copies,
          r.server,
        ]),
        ...clients.flatMap((r) => [r.ip, r.documents, r.firstSeen, r.lastSeen]),
        firsts.map((f) => f ? "1" : "0").join(""),
        id,
      ],
    );
    return firsts;
  }

  /**
   * Starts the batch's transaction, records its id and inserts the
   * documents `rows` (indices into `docs`): in one statement when `together`,
   * else one each. The statements' headers, or none when the batch was
   * committed before (its id is taken) and the transaction rolled back.
   */
  async #claim(
    conn: mysql.PoolConnection,
    id: string,
    docs: readonly ReceivedDocument[],
    rows: readonly number[],
    together: boolean,
  ): Promise<Header[]> {
    // Not INSERT IGNORE, which would also turn data errors into truncation:
    // the no-op update keeps only the unique key deciding.
    const insert = "INSERT INTO ethereum_data (hash, payload) VALUES ";
    const noop = " ON DUPLICATE KEY UPDATE id = id";
    const [headers] = await conn.query(
      {
        sql: [
          // Strict, so a payload too long for the column is an error rather
          // than stored truncated; the table itself is left as it is.
          "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
          "START TRANSACTION",
          "INSERT IGNORE INTO eth_batches (id, created_ms) VALUES (?, ?)",
          ...together
            ? [insert + rows.map(() => "(?, ?)").join(", ") + noop]
            : rows.map(() => insert + "(?, ?)" + noop),
        ].join(";\n"),
        timeout: QUERY_TIMEOUT_MS,
      },
      [id, Date.now(), ...rows.flatMap((i) => [docs[i].hash, docs[i].payload])],
    ) as unknown as [Header[]];
    if (headers[2].affectedRows !== 0) return headers;
    await conn.query("ROLLBACK");
    return [];
  }

  /** The flags of a batch committed before, whose reply was lost. */
  async #stored(
    conn: mysql.PoolConnection,
    id: string,
    count: number,
  ): Promise<boolean[]> {
    const [rows] = await conn.query(
      "SELECT results FROM eth_batches WHERE id = ?",
      [id],
    ) as unknown as [Row[]];
    return parseFlags(String(rows[0]?.results ?? ""), count);
  }

  /**
   * Resolves once the indexes the stats side reads exist (built in the
   * background at open when the table lacked them), or could not be built.
   */
  get indexed(): Promise<void> {
    return this.#indexing.done;
  }

  /** Closes the pool (abandoning an unfinished index build). */
  async close(): Promise<void> {
    this.#indexing.stop();
    await this.#indexing.done;
    await this.#pool.end().catch(() => {});
  }
}
