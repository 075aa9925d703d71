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

/** The same tables in SQLite (no batch table: a local commit is certain). */
export const SQLITE_DDL = [
  `CREATE TABLE IF NOT EXISTS ethereum_data (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  UNIQUE (hash)
)`,
  `CREATE TABLE IF NOT EXISTS eth_blocks (
  hash VARCHAR(64) NOT NULL PRIMARY KEY,
  block_number BIGINT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  copies BIGINT NOT NULL,
  server VARCHAR(255) NULL
)`,
  `CREATE INDEX IF NOT EXISTS idx_eth_blocks_first_seen
  ON eth_blocks (first_seen_ms, hash)`,
  `CREATE INDEX IF NOT EXISTS idx_eth_blocks_number
  ON eth_blocks (block_number)`,
  `CREATE INDEX IF NOT EXISTS idx_eth_blocks_server
  ON eth_blocks (server, first_seen_ms)`,
  `CREATE TABLE IF NOT EXISTS eth_clients (
  ip VARCHAR(45) NOT NULL PRIMARY KEY,
  documents BIGINT NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL
)`,
];
