/**
 * Opens the stores a configuration names: the read side for the stats API,
 * and each store's write side for the server, which queues each store on
 * its own.
 *
 * @module
 */
import type { StoreConfig } from "./config.ts";
import { type Logger, silentLogger } from "../shared/mod.ts";
import { CombinedReader } from "./combined.ts";
import { describeMysql } from "./mysql_connection.ts";
import { MysqlReader } from "./mysql_reader.ts";
import { describeRedis } from "./redis_connection.ts";
import { RedisReader } from "./redis_reader.ts";
import { REDIS_MAX_BATCH } from "./redis_writer.ts";
import { SqliteWorkerWriter } from "./sqlite.ts";
import { SqliteReader } from "./sqlite_reader.ts";
import type { StoreReader, StoreWriter } from "./types.ts";
import { WorkerWriter } from "./worker_writer.ts";

/** Options for {@linkcode openReader} and {@linkcode writerTargets}. */
export interface OpenStoreOptions {
  /** Where to log (connection errors, index builds). */
  log?: Logger;
}

/** How to open one configured store for writing, and what to call it. */
export interface WriterTarget {
  /** `sqlite`, `mysql` or `redis`. */
  name: string;
  /** Where it is, for logs (never a password). */
  describe: string;
  /** Connects and prepares tables; throws a `StoreError` when it cannot. */
  open(): Promise<StoreWriter>;
  /** Documents per save at most, when the store needs a bound of its own. */
  maxBatch?: number;
}

/**
 * The stores `config` names, each with a way to open it: MySQL and/or
 * Redis, else the SQLite file; none with `--no-store`.
 */
export function writerTargets(
  config: StoreConfig,
  { log = silentLogger }: OpenStoreOptions = {},
): WriterTarget[] {
  const targets: WriterTarget[] = [];
  const { mysql, redis, sqlitePath } = config;
  if (mysql) {
    targets.push({
      name: "mysql",
      describe: describeMysql(mysql),
      open: () => WorkerWriter.start({ kind: "mysql", config: mysql }, { log }),
    });
  }
  if (redis) {
    targets.push({
      name: "redis",
      describe: describeRedis(redis),
      open: () => WorkerWriter.start({ kind: "redis", config: redis }, { log }),
      maxBatch: REDIS_MAX_BATCH,
    });
  }
  if (targets.length === 0 && sqlitePath) {
    targets.push({
      name: "sqlite",
      describe: `SQLite ${sqlitePath}`,
      open: () => SqliteWorkerWriter.open(sqlitePath, { log }),
    });
  }
  return targets;
}

/** Says which stores `config` names, e.g. `SQLite eth.sqlite`. */
export function describeStore(config: StoreConfig): string {
  const targets = writerTargets(config);
  return targets.length === 0
    ? "no store (--no-store)"
    : targets.map((t) => t.describe).join(" + ");
}

/**
 * The read side of the configured store, or undefined with `--no-store`.
 * With both Redis and MySQL, hashes and clients come from Redis and payloads
 * from MySQL, as the original stats API reads them. Readers connect on first
 * use, so this does not fail when a store is down.
 */
export function openReader(
  config: StoreConfig,
  { log = silentLogger }: OpenStoreOptions = {},
): Promise<StoreReader | undefined> {
  const { mysql, redis, sqlitePath } = config;
  let reader: StoreReader | undefined;
  if (mysql && redis) {
    reader = new CombinedReader(
      new RedisReader(redis, { log }),
      new MysqlReader(mysql),
    );
  } else if (mysql) reader = new MysqlReader(mysql);
  else if (redis) reader = new RedisReader(redis, { log });
  else if (sqlitePath) reader = new SqliteReader(sqlitePath);
  return Promise.resolve(reader);
}
