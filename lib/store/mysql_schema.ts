/**
 * What a MySQL writer makes sure of on open: the originals' table as it
 * is, our `eth_` tables, and the indexes the stats side summarises from
 * (added in the background when an older table lacks them).
 *
 * @module
 */
import type mysql from "mysql2/promise";
import type { MysqlConfig } from "./config.ts";
import type { Logger } from "../shared/mod.ts";
import { createPool, type Row } from "./mysql_connection.ts";
import {
  ETHEREUM_DATA_DDL,
  MYSQL_INDEX_NAMES_SQL,
  MYSQL_OWN_DDL,
  MYSQL_STATS_INDEXES,
} from "./schema.ts";
import { StoreError } from "./types.ts";

/** Batch markers older than this are pruned: no retry waits that long. */
export const BATCH_MARKER_TTL_MS = 24 * 3600_000;

/** An index build under way: `done` settles, `stop` abandons it. */
export interface IndexBuild {
  /** Resolves when the build ends (never rejects). */
  done: Promise<void>;
  /** Drops the build's connection, abandoning it. */
  stop: () => void;
}

/**
 * Adds the indexes of `MYSQL_STATS_INDEXES` that `eth_blocks` lacks (a
 * table made before they were in its DDL), on a connection of its own so
 * the server starts and stores meanwhile (InnoDB builds them online: about
 * a minute per million rows). `stop` drops the connection, which makes
 * MySQL abandon an unfinished build; the next start does it again.
 */
export function addStatsIndexes(
  config: MysqlConfig,
  missing: readonly string[],
  log: Logger,
): IndexBuild {
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
export async function ensureTables(
  pool: mysql.Pool,
  log: Logger,
): Promise<string[]> {
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
