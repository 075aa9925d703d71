/**
 * Opens the stores a configuration names: the read side for the stats API
 * and the write side for the server.
 *
 * @example
 * ```ts ignore
 * import { openReader } from "./store/mod.ts";
 * const reader = await openReader(config.store);
 * if (reader) console.log(await reader.countBlocks());
 * ```
 *
 * @module
 */
import type { StoreConfig } from "../config.ts";
import { type Logger, silentLogger } from "../log.ts";
import { SqliteReader, SqliteWriter } from "./sqlite.ts";
import { StoreError, type StoreReader, type StoreWriter } from "./types.ts";

export * from "./types.ts";

/** Options for {@linkcode openReader} and {@linkcode openWriter}. */
export interface OpenStoreOptions {
  /** Where to log. */
  log?: Logger;
}

/**
 * The read side of the configured store, or undefined with `--no-store`.
 * With both Redis and MySQL, hashes and clients come from Redis and payloads
 * from MySQL, as the original stats API reads them.
 */
export function openReader(
  config: StoreConfig,
  _options: OpenStoreOptions = {},
): Promise<StoreReader | undefined> {
  if (config.mysql || config.redis) {
    return Promise.reject(
      new StoreError("MySQL and Redis readers are not in this build yet"),
    );
  }
  if (config.sqlitePath) {
    return Promise.resolve(new SqliteReader(config.sqlitePath));
  }
  return Promise.resolve(undefined);
}

/**
 * The write side of the configured store, connected and with its tables
 * created, or undefined with `--no-store`. Throws a `StoreError` when a
 * store cannot be reached.
 */
export function openWriter(
  config: StoreConfig,
  { log = silentLogger }: OpenStoreOptions = {},
): Promise<StoreWriter | undefined> {
  if (config.mysql || config.redis) {
    return Promise.reject(
      new StoreError("MySQL and Redis writers are not in this build yet"),
    );
  }
  if (config.sqlitePath) {
    log.debug(`Opening SQLite file ${config.sqlitePath}`);
    return Promise.resolve(SqliteWriter.open(config.sqlitePath));
  }
  return Promise.resolve(undefined);
}
