/**
 * The MySQL store (npm:mysql2, pooled): the originals' `ethereum_data`
 * table, plus our `eth_` tables for what they did not keep.
 *
 * @module
 */
import mysql from "mysql2/promise";
import { type MysqlConfig } from "./options.ts";
import { type Logger, silentLogger } from "../shared/log.ts";
import {
  batchId,
  blockRows,
  clientRows,
  hashOrder,
  parseFlags,
} from "./batch.ts";
import { probeStore } from "./health.ts";
import {
  bucketRows,
  STORED_SINCE_SQL,
  toBlockRecord,
  toClientRecord,
  toStoredRow,
} from "./rows.ts";
import { isCertificateError } from "./tls.ts";
import {
  ETHEREUM_DATA_DDL,
  MYSQL_INDEX_NAMES_SQL,
  MYSQL_OWN_DDL,
  MYSQL_STATS_INDEXES,
} from "./schema.ts";
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

const CONNECT_TIMEOUT_MS = 5000;
const QUERY_TIMEOUT_MS = 15_000;
/** Batch markers older than this are pruned: no retry waits that long. */
const BATCH_MARKER_TTL_MS = 24 * 3600_000;

// Server error numbers after which the same batch can succeed later:
// deadlock, lock wait timeout, too many connections, read-only (failover),
// shutdown in progress, access denied, unknown database or table.
const TRANSIENT_ERRNOS = new Set([
  1213,
  1205,
  1040,
  1203,
  1226,
  1290,
  1836,
  1053,
  1045,
  1044,
  1049,
  1146,
]);

type Row = Record<string, unknown>;
interface Header {
  affectedRows: number;
}

/** Says where a MySQL store is, and how it is reached; never its password. */
export function describeMysql(config: MysqlConfig): string {
  const { tls } = config;
  return `MySQL ${config.user}@${config.host}:${config.port}/${config.database}${
    tls ? ` over TLS${tls.caSource ? ` (CA ${tls.caSource})` : ""}` : ""
  }`;
}

function createPool(config: MysqlConfig, connectionLimit: number) {
  const { tls } = config;
  return mysql.createPool({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    connectionLimit,
    // The server's certificate must chain to `ca` (or the system's CAs) and
    // name the host: encryption to an impostor protects nothing.
    ssl: tls && {
      ...(tls.ca ? { ca: tls.ca } : {}),
      rejectUnauthorized: true,
      verifyIdentity: true,
    },
    // Our batches are one round trip; every value is still escaped by the
    // client (`?` placeholders), so no caller text becomes SQL.
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    // Affected rows must be 0 for a duplicate left as it is (see `save`).
    flags: ["-FOUND_ROWS"],
  });
}

/** Classifies a driver error: can the same operation succeed later? */
function errorKind(error: unknown): "unavailable" | "rejected" {
  const e = error as { errno?: number; fatal?: boolean; sqlState?: string };
  if (e.fatal || e.sqlState === undefined || e.errno === undefined) {
    return "unavailable";
  }
  return TRANSIENT_ERRNOS.has(e.errno) ? "unavailable" : "rejected";
}

/** What to change when the error says access or TLS failed, or "". */
function advice(config: MysqlConfig, error: unknown): string {
  const e = error as { errno?: number; code?: string; message?: string };
  if (e.errno === 1045) {
    // MariaDB also answers a plaintext login to a TLS-only account so.
    return `: check the user and set its password with ${
      config.passwordFrom ?? "--mysql-pass-file"
    }${config.tls ? "" : " (or add --mysql-tls if the server requires TLS)"}`;
  }
  // MariaDB's and MySQL's refusals of a plaintext connection.
  if (e.errno === 3159 || /secure transport/i.test(e.message ?? "")) {
    return ": the server requires TLS: add --mysql-tls";
  }
  if (config.tls && isCertificateError(e)) {
    return `: the server's certificate is not trusted${
      config.tls.caSource ? ` by ${config.tls.caSource}` : ""
    }: check --mysql-ca`;
  }
  return "";
}

function storeError(
  what: string,
  error: unknown,
  config?: MysqlConfig,
): StoreError {
  const message = String((error as Error).message).split("\n")[0];
  return new StoreError(
    `${what}: ${message}${config ? advice(config, error) : ""}`,
    { cause: error, kind: errorKind(error) },
  );
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

  readonly #indexing: { done: Promise<void>; stop: () => void };

  private constructor(
    pool: mysql.Pool,
    config: MysqlConfig,
    indexing: { done: Promise<void>; stop: () => void },
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
    { log = silentLogger, connectionLimit = 2 }: {
      log?: Logger;
      connectionLimit?: number;
    } = {},
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
    const [claimed] = await conn.query(
      {
        sql: [
          // Strict, so a payload too long for the column is an error rather
          // than stored truncated; the table itself is left as it is.
          "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
          "START TRANSACTION",
          "INSERT IGNORE INTO eth_batches (id, created_ms) VALUES (?, ?)",
          // Not INSERT IGNORE, which would also turn data errors into
          // truncation: the no-op update keeps only the unique key deciding.
          ...order.map(() =>
            "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?) " +
            "ON DUPLICATE KEY UPDATE id = id"
          ),
        ].join(";\n"),
        timeout: QUERY_TIMEOUT_MS,
      },
      [
        id,
        Date.now(),
        ...order.flatMap((i) => [docs[i].hash, docs[i].payload]),
      ],
    ) as unknown as [Header[]];
    if (claimed[2].affectedRows === 0) {
      // This batch was committed before, but the reply was lost.
      await conn.query("ROLLBACK");
      const [rows] = await conn.query(
        "SELECT results FROM eth_batches WHERE id = ?",
        [id],
      ) as unknown as [Row[]];
      return parseFlags(String(rows[0]?.results ?? ""), docs.length);
    }
    const firsts = new Array<boolean>(docs.length).fill(false);
    order.forEach((i, k) => firsts[i] = claimed[k + 3].affectedRows === 1);
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

/**
 * Adds the indexes of `MYSQL_STATS_INDEXES` that `eth_blocks` lacks (a
 * table made before they were in its DDL), on a connection of its own so
 * the server starts and stores meanwhile (InnoDB builds them online: about
 * a minute per million rows). `stop` drops the connection, which makes
 * MySQL abandon an unfinished build; the next start does it again.
 */
function addStatsIndexes(
  config: MysqlConfig,
  missing: readonly string[],
  log: Logger,
): { done: Promise<void>; stop: () => void } {
  if (missing.length === 0) return { done: Promise.resolve(), stop() {} };
  const pool = createPool(config, 1);
  let conn: mysql.PoolConnection | undefined;
  let stopped = false;
  const done = (async () => {
    try {
      conn = await pool.getConnection();
      for (const name of missing) {
        if (stopped) break;
        log.info(
          `Adding index ${name} to eth_blocks (once, in the background)`,
        );
        try {
          await conn.query(MYSQL_STATS_INDEXES[name]);
          log.info(`Index ${name} added`);
        } catch (error) {
          // Another server added it meanwhile (duplicate key name).
          if ((error as { errno?: number }).errno !== 1061) throw error;
        }
      }
    } catch (error) {
      if (!stopped) {
        log.warn(
          `Cannot add the stats indexes to eth_blocks (stats reads the history row by row until one server can): ${
            String((error as Error).message).split("\n")[0]
          }`,
        );
      }
    } finally {
      if (!stopped) conn?.release();
      await pool.end().catch(() => {});
    }
  })();
  return {
    done,
    stop: () => {
      stopped = true;
      conn?.destroy();
    },
  };
}

/** Creates missing tables, checks ours; returns the stats indexes missing. */
async function ensureTables(pool: mysql.Pool, log: Logger): Promise<string[]> {
  await pool.query(ETHEREUM_DATA_DDL);
  for (const ddl of MYSQL_OWN_DDL) await pool.query(ddl);
  const [indexes] = await pool.query(MYSQL_INDEX_NAMES_SQL) as unknown as [
    Row[],
  ];
  const has = new Set(indexes.map((i) => String(i.name)));
  const [columns] = await pool.query(
    `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ethereum_data'`,
  ) as unknown as [Row[]];
  const names = new Set(columns.map((c) => String(c.name).toLowerCase()));
  for (const needed of ["hash", "payload"]) {
    if (!names.has(needed)) {
      throw new StoreError(
        `Table ethereum_data has no column ${needed}; it is not the originals' table`,
        { kind: "rejected" },
      );
    }
  }
  const [unique] = await pool.query(
    `SELECT COUNT(*) AS n FROM information_schema.STATISTICS s
     WHERE s.TABLE_SCHEMA = DATABASE() AND s.TABLE_NAME = 'ethereum_data'
       AND s.NON_UNIQUE = 0 AND s.COLUMN_NAME = 'hash' AND s.SEQ_IN_INDEX = 1
       AND NOT EXISTS (
         SELECT 1 FROM information_schema.STATISTICS o
         WHERE o.TABLE_SCHEMA = s.TABLE_SCHEMA AND o.TABLE_NAME = s.TABLE_NAME
           AND o.INDEX_NAME = s.INDEX_NAME AND o.SEQ_IN_INDEX > 1)`,
  ) as unknown as [Row[]];
  if (Number(unique[0]?.n ?? 0) === 0) {
    log.error(
      "Table ethereum_data has no unique index on hash: duplicate copies " +
        "cannot be refused atomically (the table is used as it is, not altered)",
    );
  }
  await pool.query("DELETE FROM eth_batches WHERE created_ms < ?", [
    Date.now() - BATCH_MARKER_TTL_MS,
  ]);
  return Object.keys(MYSQL_STATS_INDEXES).filter((name) => !has.has(name));
}

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
