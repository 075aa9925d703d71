/**
 * The MySQL store's write side: the originals' `ethereum_data` table, plus
 * our `eth_` tables for what they did not keep.
 *
 * @module
 */
import type mysql from "mysql2/promise";
import type { MysqlConfig } from "./config.ts";
import {
  abortableSleep,
  type Logger,
  settleWithin,
  silentLogger,
} from "../shared/mod.ts";
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
  ER_LOCK_DEADLOCK,
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

/**
 * Rows per prepared multi-row statement at most. A batch is sent in chunks
 * of this many rows and the rest in chunks of powers of two, so that a
 * connection prepares at most 11 statements per table whatever the batch
 * sizes, and the values travel as binary parameters: neither escaped here
 * nor parsed as SQL text by the server (which spent about a fifth of its
 * time lexing payloads).
 */
export const PREPARED_MAX_ROWS = 1024;

/**
 * Times a batch is tried when MySQL rolls it back as a deadlock's victim
 * (error 1213, "try restarting transaction"). Inserts into a unique index
 * can deadlock even when every writer takes its rows in the same order
 * (InnoDB's gap locks), and the victim is rolled back whole, so the same
 * batch is simply tried again, after {@linkcode DEADLOCK_RETRY_MS} or so,
 * before the store queue's backoff gets it.
 */
export const DEADLOCK_ATTEMPTS = 3;
/** About this long between a deadlocked batch's attempts, in ms (jittered). */
export const DEADLOCK_RETRY_MS = 20;

/** The chunk sizes {@linkcode insertRows} sends `rows` rows in. */
export function chunkSizes(rows: number): number[] {
  const sizes: number[] = [];
  for (let left = rows; left > 0;) {
    const size = left >= PREPARED_MAX_ROWS
      ? PREPARED_MAX_ROWS
      : 2 ** Math.floor(Math.log2(left));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/** A value bound to a prepared statement's placeholder. */
type Param = string | number | null;

/** A multi-row statement: its text for `rows` rows. */
interface RowsStatement {
  sql(rows: number): string;
}

/** `head` + `rows` copies of `tuple` + `tail`, memoized per row count. */
function rowsStatement(head: string, tuple: string, tail: string) {
  const texts = new Map<number, string>();
  return {
    sql(rows: number): string {
      let text = texts.get(rows);
      if (text === undefined) {
        text = head + Array(rows).fill(tuple).join(", ") + tail;
        texts.set(rows, text);
      }
      return text;
    },
  };
}

// Not INSERT IGNORE, which would also turn data errors into truncation:
// the no-op update keeps only the unique key deciding.
const DATA_INSERT = rowsStatement(
  "INSERT INTO ethereum_data (hash, payload) VALUES ",
  "(?, ?)",
  " ON DUPLICATE KEY UPDATE id = id",
);

const BLOCKS_UPSERT = rowsStatement(
  `INSERT INTO eth_blocks
     (hash, block_number, first_seen_ms, last_seen_ms, copies, server)
   VALUES `,
  "(?, ?, ?, ?, ?, ?)",
  ` ON DUPLICATE KEY UPDATE
     block_number = COALESCE(block_number, VALUES(block_number)),
     last_seen_ms = GREATEST(last_seen_ms, VALUES(last_seen_ms)),
     copies = copies + VALUES(copies),
     server = COALESCE(server, VALUES(server))`,
);

const CLIENTS_UPSERT = rowsStatement(
  "INSERT INTO eth_clients (ip, documents, first_seen_ms, last_seen_ms) VALUES ",
  "(?, ?, ?, ?)",
  ` ON DUPLICATE KEY UPDATE
     documents = documents + VALUES(documents),
     first_seen_ms = LEAST(first_seen_ms, VALUES(first_seen_ms)),
     last_seen_ms = GREATEST(last_seen_ms, VALUES(last_seen_ms))`,
);

/**
 * Runs `statement` over `rows` as prepared statements, in
 * {@linkcode chunkSizes}; the rows it affected in all. mysql2 has no
 * timeout for prepared statements: each chunk fails after `timeoutMs`
 * (and the caller drops the connection).
 */
async function insertRows(
  conn: mysql.PoolConnection,
  statement: RowsStatement,
  rows: readonly (readonly Param[])[],
  timeoutMs: number,
): Promise<number> {
  let affected = 0;
  let at = 0;
  for (const size of chunkSizes(rows.length)) {
    const work = conn.execute(
      statement.sql(size),
      rows.slice(at, at + size).flat(),
    );
    if (!await settleWithin(work, timeoutMs)) {
      work.catch(() => {});
      throw new Error(`No answer to an insert within ${timeoutMs} ms`);
    }
    const [header] = await work as unknown as [Header];
    affected += header.affectedRows;
    at += size;
  }
  return affected;
}

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
  /**
   * How long one statement (or one batch's round trip) may take, in ms.
   *
   * @default {QUERY_TIMEOUT_MS}
   */
  queryTimeoutMs?: number;
}

/**
 * Writes to MySQL. On open it creates `ethereum_data` with the Python
 * original's DDL when missing (an existing one, Python's or Go's, is used as
 * it is) and our `eth_` tables. A batch is one transaction: the unique key
 * on `hash` decides, atomically, which server stores the first copy of a
 * document, and the inserts' affected-rows counts tell us which ones we
 * stored. Rows go as prepared multi-row statements (binary parameters), a
 * few round trips per batch of thousands.
 */
export class MysqlWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name = "mysql";
  readonly #pool: mysql.Pool;
  readonly #nonce = crypto.randomUUID();
  readonly #describe: string;
  readonly #config: MysqlConfig;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  readonly #indexing: IndexBuild;

  private constructor(
    pool: mysql.Pool,
    config: MysqlConfig,
    indexing: IndexBuild,
    timeoutMs: number,
    log: Logger,
  ) {
    this.#pool = pool;
    this.#indexing = indexing;
    this.#describe = describeMysql(config);
    this.#config = config;
    this.#timeoutMs = timeoutMs;
    this.#log = log;
  }

  /**
   * Connects and makes sure the tables exist. Throws a `StoreError` when
   * MySQL cannot be reached or the tables cannot be created.
   */
  static async open(
    config: MysqlConfig,
    {
      log = silentLogger,
      connectionLimit = 2,
      queryTimeoutMs = QUERY_TIMEOUT_MS,
    }: MysqlWriterOptions = {},
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
    return new MysqlWriter(
      pool,
      config,
      addStatsIndexes(config, missing, log),
      queryTimeoutMs,
      log,
    );
  }

  /**
   * Saves a batch in one transaction, tried again (up to
   * {@linkcode DEADLOCK_ATTEMPTS} times) when MySQL picks it as a deadlock's
   * victim; see {@linkcode StoreWriter.save}.
   */
  async save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return [];
    const id = batchId(this.#nonce, docs);
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#saveOnce(id, docs);
      } catch (error) {
        const cause = (error as Error).cause as { errno?: number } | undefined;
        if (
          attempt >= DEADLOCK_ATTEMPTS || cause?.errno !== ER_LOCK_DEADLOCK
        ) {
          throw error;
        }
        this.#log.debug(
          `${this.#describe}: a batch of ${docs.length} documents was a ` +
            `deadlock's victim; trying it again (attempt ${attempt + 1} ` +
            `of ${DEADLOCK_ATTEMPTS})`,
        );
        await abortableSleep(DEADLOCK_RETRY_MS * (0.5 + Math.random()));
      }
    }
  }

  async #saveOnce(
    id: string,
    docs: readonly ReceivedDocument[],
  ): Promise<boolean[]> {
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
    if (!await this.#begin(conn, id)) {
      return await this.#stored(conn, id, docs.length);
    }
    // Multi-row inserts: their affected rows say only how many rows were
    // new. All or none settles every document; a mix (a copy another server
    // stored meanwhile, a replay) is settled one statement per document.
    const inserted = await insertRows(
      conn,
      DATA_INSERT,
      fresh.map((i) => [docs[i].hash, docs[i].payload]),
      this.#timeoutMs,
    );
    const firsts = new Array<boolean>(docs.length).fill(false);
    if (inserted === fresh.length) {
      for (const i of fresh) firsts[i] = true;
    } else if (inserted !== 0) {
      await conn.query("ROLLBACK");
      if (!await this.#begin(conn, id)) {
        return await this.#stored(conn, id, docs.length);
      }
      const [headers] = await conn.query(
        {
          sql: order.map(() => DATA_INSERT.sql(1)).join(";\n"),
          timeout: this.#timeoutMs,
        },
        order.flatMap((i) => [docs[i].hash, docs[i].payload]),
      ) as unknown as [Header[] | Header];
      const each = Array.isArray(headers) ? headers : [headers];
      order.forEach((i, k) => firsts[i] = each[k].affectedRows === 1);
    }
    await insertRows(
      conn,
      BLOCKS_UPSERT,
      blockRows(docs, firsts, order).map((r) => [
        r.hash,
        r.block?.toString() ?? null,
        r.firstSeen,
        r.lastSeen,
        r.copies,
        r.server,
      ]),
      this.#timeoutMs,
    );
    await insertRows(
      conn,
      CLIENTS_UPSERT,
      clientRows(docs).map((r) => [r.ip, r.documents, r.firstSeen, r.lastSeen]),
      this.#timeoutMs,
    );
    await conn.query(
      {
        sql: "UPDATE eth_batches SET results = ? WHERE id = ?; COMMIT",
        timeout: this.#timeoutMs,
      },
      [firsts.map((f) => f ? "1" : "0").join(""), id],
    );
    return firsts;
  }

  /**
   * Starts the batch's transaction and records its id: false (and rolled
   * back) when the batch was committed before (its id is taken).
   */
  async #begin(conn: mysql.PoolConnection, id: string): Promise<boolean> {
    const [headers] = await conn.query(
      {
        sql: [
          // Strict, so a payload too long for the column is an error rather
          // than stored truncated; the table itself is left as it is.
          "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
          "START TRANSACTION",
          "INSERT IGNORE INTO eth_batches (id, created_ms) VALUES (?, ?)",
        ].join(";\n"),
        timeout: this.#timeoutMs,
      },
      [id, Date.now()],
    ) as unknown as [Header[]];
    if (headers[2].affectedRows !== 0) return true;
    await conn.query("ROLLBACK");
    return false;
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
