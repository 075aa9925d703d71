/**
 * The stores: where a server keeps each document it receives and where the
 * stats API reads them back. Three kinds share one pair of interfaces
 * ({@linkcode StoreWriter}, {@linkcode StoreReader}): an embedded SQLite
 * file, MySQL (the originals' `ethereum_data` table plus our `eth_` tables)
 * and Redis (the originals' `eth:hashes` and `eth:ip_addresses` plus our
 * keys). {@linkcode storeConfig} turns the store flags into a
 * {@linkcode StoreConfig}; {@linkcode openReader} and
 * {@linkcode writerTargets} open what it names.
 *
 * @example Read what a SQLite store holds
 * ```ts
 * import assert from "node:assert/strict";
 * import { openReader, SqliteWriter } from "./mod.ts";
 *
 * const path = await Deno.makeTempFile({ suffix: ".sqlite" });
 * const writer = SqliteWriter.open(path);
 * await writer.save([{
 *   payload: "<p>1</p>",
 *   hash: "0".repeat(64),
 *   block: 1n,
 *   ip: "127.0.0.1",
 *   port: 40000,
 *   receivedAt: Date.now(),
 *   server: "example",
 * }]);
 * await writer.close();
 *
 * const reader = await openReader({ sqlitePath: path });
 * assert.equal(await reader!.countBlocks(), 1);
 * await reader!.close();
 * await Deno.remove(path);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./config.ts";
export {
  DEFAULT_SQLITE_PATH,
  envName,
  type ServerStoreOptionTable,
  storeConfig,
  type StoreConfigOptions,
  storeOptions,
  type StoreOptionTable,
  type StoreOptionValues,
} from "./options.ts";
export {
  type MysqlUrlParts,
  parseMysqlUrl,
  parseRedisUrl,
  type ParseUrlOptions,
  type RedisUrlParts,
} from "./url.ts";
export {
  describeStore,
  openReader,
  type OpenStoreOptions,
  type WriterTarget,
  writerTargets,
} from "./open.ts";
export { CombinedReader } from "./combined.ts";
export { describeMysql } from "./mysql_connection.ts";
export { MysqlReader } from "./mysql_reader.ts";
export { MysqlWriter, type MysqlWriterOptions } from "./mysql_writer.ts";
export { describeRedis } from "./redis_connection.ts";
export {
  BATCH_RECORD_MAX,
  BATCH_RECORD_MAX_AGE_MS,
  type RedisKeys,
  redisKeys,
} from "./redis_schema.ts";
export { RedisReader, type RedisReaderOptions } from "./redis_reader.ts";
export {
  type BatchRecordLimits,
  RedisWriter,
  type RedisWriterOptions,
} from "./redis_writer.ts";
export { SqliteWorkerWriter, SqliteWriter } from "./sqlite.ts";
export {
  CLOSE_WAIT_MS,
  type WorkerTarget,
  WorkerWriter,
  type WorkerWriterOptions,
} from "./worker_writer.ts";
export { SqliteReader } from "./sqlite_reader.ts";
