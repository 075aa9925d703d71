/**
 * Table definitions. `ethereum_data` is the originals' table (SPEC 1.4),
 * created as the Python server does when missing and never altered; the
 * `eth_` tables are ours and hold what the originals did not keep. SQLite
 * and MySQL share the same tables and columns.
 *
 * @module
 */

/** The Python original's DDL of `ethereum_data`, used when it is missing. */
export const ETHEREUM_DATA_DDL = `CREATE TABLE IF NOT EXISTS ethereum_data (
  id INTEGER NOT NULL AUTO_INCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  PRIMARY KEY (id),
  UNIQUE (hash)
)`;

/** The Go original's variant: unsigned id, unique index named `idx_hash`. */
export const ETHEREUM_DATA_GO_DDL = `CREATE TABLE IF NOT EXISTS ethereum_data (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  PRIMARY KEY (id),
  UNIQUE KEY idx_hash (hash)
)`;

/**
 * Our tables in MySQL. Times are ms since the epoch.
 * - `eth_blocks`: one row per stored document: block number, first and last
 *   time seen, copies received, and which server stored the first copy.
 * - `eth_clients`: one row per client IP: documents sent, first/last seen.
 *   Indexed by first-seen time (recent blocks, series), by block number
 *   (runs and gaps) and by server (documents per server).
 * - `eth_batches`: makes a retried batch count once when the reply to its
 *   COMMIT was lost; rows older than a day are pruned.
 */
export const MYSQL_OWN_DDL = [
  `CREATE TABLE IF NOT EXISTS eth_blocks (
  hash VARCHAR(64) NOT NULL,
  block_number BIGINT UNSIGNED NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  copies BIGINT NOT NULL,
  server VARCHAR(255) NULL,
  PRIMARY KEY (hash),
  KEY idx_eth_blocks_first_seen (first_seen_ms, hash),
  KEY idx_eth_blocks_number (block_number),
  KEY idx_eth_blocks_server (server, first_seen_ms)
)`,
  `CREATE TABLE IF NOT EXISTS eth_clients (
  ip VARCHAR(45) NOT NULL,
  documents BIGINT NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  PRIMARY KEY (ip)
)`,
  `CREATE TABLE IF NOT EXISTS eth_batches (
  id CHAR(64) NOT NULL,
  results TEXT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  KEY idx_eth_batches_created (created_ms)
)`,
];

/**
 * The indexes the stats side summarises `eth_blocks` from (each covering:
 * the summary never reads the table), by name, for a table created before
 * they were part of {@linkcode MYSQL_OWN_DDL}. MySQL has no CREATE INDEX IF
 * NOT EXISTS: {@linkcode MYSQL_INDEX_NAMES_SQL} lists those a table has.
 */
export const MYSQL_STATS_INDEXES: Readonly<Record<string, string>> = {
  idx_eth_blocks_number:
    "CREATE INDEX idx_eth_blocks_number ON eth_blocks (block_number)",
  idx_eth_blocks_server:
    "CREATE INDEX idx_eth_blocks_server ON eth_blocks (server, first_seen_ms)",
};

/** The names of the indexes `eth_blocks` has, one row each (`name`). */
export const MYSQL_INDEX_NAMES_SQL =
  `SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'eth_blocks'`;

/**
 * `eth_blocks` in SQLite, under `name`. Keyed by the document's
 * `ethereum_data.id`, not by its hash: a first copy then lands on the last
 * leaf of each of its B-trees but one (its table, ordered by that id, and the
 * indexes on first-seen time, number and server), and only `ethereum_data`'s
 * unique hash stays a random leaf per document. Keyed by hash, as an earlier
 * version made it, it was two random leaves, each a page the next commit
 * writes to the WAL. The writer's CPU per document, batches of 2,000 (two
 * runs each): 20-21 us against 28-30 over the first 200,000 documents, 34-43
 * against 64-76 from 800,000 to a million. Every row has its
 * `ethereum_data` row in the same file. MySQL's table stays keyed by hash:
 * a fleet shares it, and servers of the version before would still write it
 * by hash during a rolling upgrade.
 */
export function sqliteBlocksDdl(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
  id INTEGER PRIMARY KEY,
  hash VARCHAR(64) NOT NULL,
  block_number BIGINT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  copies BIGINT NOT NULL,
  server VARCHAR(255) NULL
)`;
}

/** The indexes the stats side reads `eth_blocks` in SQLite from. */
export const SQLITE_BLOCK_INDEXES = [
  `CREATE INDEX IF NOT EXISTS idx_eth_blocks_first_seen
  ON eth_blocks (first_seen_ms, hash)`,
  `CREATE INDEX IF NOT EXISTS idx_eth_blocks_number
  ON eth_blocks (block_number)`,
  `CREATE INDEX IF NOT EXISTS idx_eth_blocks_server
  ON eth_blocks (server, first_seen_ms)`,
];

/**
 * The same tables in SQLite (no batch table: a local commit is certain);
 * `eth_blocks` as {@linkcode sqliteBlocksDdl} says. The writer moves an
 * older file's `eth_blocks` to that layout before adding
 * {@linkcode SQLITE_BLOCK_INDEXES}.
 */
export const SQLITE_TABLES_DDL = [
  `CREATE TABLE IF NOT EXISTS ethereum_data (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  UNIQUE (hash)
)`,
  sqliteBlocksDdl("eth_blocks"),
  `CREATE TABLE IF NOT EXISTS eth_clients (
  ip VARCHAR(45) NOT NULL PRIMARY KEY,
  documents BIGINT NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL
)`,
];

/** Every table and index of a new SQLite file, in order. */
export const SQLITE_DDL = [...SQLITE_TABLES_DDL, ...SQLITE_BLOCK_INDEXES];

/**
 * How a statement joins `eth_blocks b` to `ethereum_data d`, and the column
 * of `b` that is NULL when no row of `b` joined.
 */
export interface BlockJoin {
  /** The join condition. */
  on: string;
  /** A column of `b` that is never NULL in a row. */
  key: string;
}

/**
 * Joining by hash: MySQL's `eth_blocks` (the originals' ids are not ours),
 * and an earlier version's SQLite file until a server moves it.
 */
export const HASH_BLOCK_JOIN: BlockJoin = {
  on: "b.hash = d.hash",
  key: "b.hash",
};

/** Joining by row id: SQLite's `eth_blocks` ({@linkcode sqliteBlocksDdl}). */
export const ID_BLOCK_JOIN: BlockJoin = { on: "b.id = d.id", key: "b.id" };
