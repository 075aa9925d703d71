/**
 * The Redis store's write side: per batch one script call, atomic.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { RedisConfig } from "./config.ts";
import { type Logger, silentLogger } from "../shared/mod.ts";
import { batchId, clientRows, parseFlags } from "./batch.ts";
import {
  connect,
  createClient,
  describeRedis,
  storeError,
} from "./redis_connection.ts";
import {
  BATCH_RECORD_MAX,
  BATCH_RECORD_MAX_AGE_MS,
  type RedisKeys,
  redisKeys,
} from "./redis_schema.ts";
import type { ReceivedDocument, StoreWriter } from "./types.ts";

/** Bounds of the batch record (`ethts:batches`). */
export interface BatchRecordLimits {
  /** Batches remembered at most. */
  maxEntries: number;
  /** Age in ms past which a batch is forgotten. */
  maxAgeMs: number;
}

/** Options for {@linkcode RedisWriter.open}. */
export interface RedisWriterOptions {
  /** Where to log connection errors (at debug level). */
  log?: Logger;
  /**
   * Overrides the batch record's bounds (for tests).
   *
   * @default {{ maxEntries: BATCH_RECORD_MAX, maxAgeMs: BATCH_RECORD_MAX_AGE_MS }}
   */
  batchRecord?: Partial<BatchRecordLimits>;
}

/**
 * Documents per save the server sends Redis at most (`WriterTarget.maxBatch`):
 * Redis runs nothing else while the save script runs (about 10 us per
 * document), so 2,000 keep other clients' wait near 20 ms.
 */
export const REDIS_MAX_BATCH = 2000;

/**
 * Saves one batch atomically. ZADD NX decides the first copy; a retried
 * batch whose reply was lost finds its id in the batch record and returns
 * the same results without counting its documents twice. The record is
 * trimmed here too, by age and by count, so it stays bounded.
 * KEYS: hashes, ips, blocks, servers, first_seen, last_seen, batches,
 * batch results.
 * ARGV: batch id, max age ms, max entries, the number of documents, then per
 * document: hash, score, block, server; then per client IP: ip, documents,
 * first ms, last ms (one entry per IP in the batch, as SQL's `eth_clients`).
 */
const SAVE_SCRIPT = `
local id = ARGV[1]
local done = redis.call('HGET', KEYS[8], id)
if done then return done end
local out = {}
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local hash, score, block, server = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local added = redis.call('ZADD', KEYS[1], 'NX', score, hash)
  if added == 1 then redis.call('HSET', KEYS[4], hash, server) end
  if block ~= '' then redis.call('HSETNX', KEYS[3], hash, block) end
  out[#out + 1] = added
  i = i + 4
end
for j = i, #ARGV, 4 do
  local ip, count, first, last = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  redis.call('HINCRBY', KEYS[2], ip, count)
  redis.call('HSETNX', KEYS[5], ip, first)
  local seen = tonumber(redis.call('HGET', KEYS[6], ip) or '0')
  if tonumber(last) > seen then redis.call('HSET', KEYS[6], ip, last) end
end
local results = table.concat(out)
local t = redis.call('TIME')
-- Microseconds: scripts run one at a time, so saves rarely share a score
-- and trimming by rank removes the oldest, not a tie with the newest.
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[7], now, id)
redis.call('HSET', KEYS[8], id, results)
local old = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf',
  now - tonumber(ARGV[2]) * 1000, 'LIMIT', 0, 100)
local extra = redis.call('ZCARD', KEYS[7]) - #old - tonumber(ARGV[3])
if extra > 0 then
  local oldest = redis.call('ZRANGE', KEYS[7], #old, #old + math.min(extra, 100) - 1)
  for _, k in ipairs(oldest) do old[#old + 1] = k end
end
if #old > 0 then
  redis.call('ZREM', KEYS[7], unpack(old))
  redis.call('HDEL', KEYS[8], unpack(old))
end
return results
`;

/**
 * Writes to Redis: per batch one script call, atomic, so a batch is either
 * counted whole or not at all.
 */
export class RedisWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name = "redis";
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #describe: string;
  readonly #nonce = crypto.randomUUID();
  readonly #record: BatchRecordLimits;

  private constructor(
    client: Redis,
    config: RedisConfig,
    record: BatchRecordLimits,
  ) {
    this.#client = client;
    this.#keys = redisKeys(config.keyPrefix);
    this.#describe = describeRedis(config);
    this.#record = record;
  }

  /**
   * Connects; throws a `StoreError` when Redis cannot be reached.
   * `batchRecord` overrides the batch record's bounds (for tests).
   */
  static async open(
    config: RedisConfig,
    { log = silentLogger, batchRecord }: RedisWriterOptions = {},
  ): Promise<RedisWriter> {
    const client = createClient(config, log);
    await connect(client, config);
    return new RedisWriter(client, config, {
      maxEntries: BATCH_RECORD_MAX,
      maxAgeMs: BATCH_RECORD_MAX_AGE_MS,
      ...batchRecord,
    });
  }

  /** Saves a batch atomically; see {@linkcode StoreWriter.save}. */
  async save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return [];
    const k = this.#keys;
    const args: (string | number)[] = [
      batchId(this.#nonce, docs),
      this.#record.maxAgeMs,
      this.#record.maxEntries,
      docs.length,
    ];
    for (const d of docs) {
      args.push(
        d.hash,
        // SPEC 1.5: the score is Unix time in (fractional) seconds.
        String(d.receivedAt / 1000),
        d.block?.toString() ?? "",
        d.server,
      );
    }
    // Once per client IP, not per document: a batch has few senders.
    for (const c of clientRows(docs)) {
      args.push(
        c.ip,
        c.documents,
        String(c.firstSeen),
        String(c.lastSeen),
      );
    }
    let results: unknown;
    try {
      results = await this.#client.eval(
        SAVE_SCRIPT,
        8,
        k.hashes,
        k.ips,
        k.blocks,
        k.servers,
        k.clientsFirstSeen,
        k.clientsLastSeen,
        k.batches,
        k.batchResults,
        ...args,
      );
    } catch (error) {
      throw storeError(
        `Cannot save ${docs.length} documents to ${this.#describe}`,
        error,
      );
    }
    return parseFlags(String(results), docs.length);
  }

  /** Disconnects. */
  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
