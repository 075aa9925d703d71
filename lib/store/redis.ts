/**
 * The Redis store (npm:ioredis): the originals' `eth:hashes` and
 * `eth:ip_addresses` (SPEC 1.5), plus keys of our own for what they did not
 * keep. Redis keeps no payloads.
 *
 * | key | type | member / field | value |
 * |---|---|---|---|
 * | `eth:hashes` | sorted set | document hash | first receipt, Unix s (ZADD NX) |
 * | `eth:ip_addresses` | hash | client IP | documents received (HINCRBY 1) |
 * | `eth:blocks` | hash | document hash | block number |
 * | `eth:servers` | hash | document hash | server that stored the first copy |
 * | `eth:clients:first_seen` | hash | client IP | first receipt, ms |
 * | `eth:clients:last_seen` | hash | client IP | latest receipt, ms |
 * | `ethts:batches` | sorted set | batch id | when it was saved, µs (Redis clock) |
 * | `ethts:batches:results` | hash | batch id | the batch's first-copy flags |
 *
 * The last two are this project's own bookkeeping, outside the originals'
 * `eth:` keyspace: one bounded record of recent batches (at most
 * {@linkcode BATCH_RECORD_MAX} entries, none older than an hour, trimmed by
 * the same script that adds to it), so that a batch retried after its reply
 * was lost is recognised and not counted twice.
 *
 * @module
 */
import { Redis } from "ioredis";
import { type RedisConfig } from "./options.ts";
import { type Logger, silentLogger } from "../shared/log.ts";
import { batchId, parseFlags } from "./batch.ts";
import { probeStore } from "./health.ts";
import { isCertificateError } from "./tls.ts";
import {
  type BlockRecord,
  type ClientRecord,
  type ReceivedDocument,
  type StoredRow,
  StoreError,
  type StoreHealth,
  type StoreReader,
  type StoreWriter,
} from "./types.ts";

const CONNECT_TIMEOUT_MS = 5000;
const COMMAND_TIMEOUT_MS = 10_000;
/** Bounds of the batch record (`ethts:batches`). */
export interface BatchRecordLimits {
  /** Batches remembered at most. */
  maxEntries: number;
  /** Age in ms past which a batch is forgotten. */
  maxAgeMs: number;
}

/** Recent batches remembered at most (see the module doc). */
export const BATCH_RECORD_MAX = 10_000;
/** How long a batch is remembered at most, in ms: a retry comes within seconds. */
export const BATCH_RECORD_MAX_AGE_MS = 3600_000;

/** The key names, with the configured prefix. */
export function redisKeys(prefix = "") {
  return {
    hashes: `${prefix}eth:hashes`,
    ips: `${prefix}eth:ip_addresses`,
    blocks: `${prefix}eth:blocks`,
    servers: `${prefix}eth:servers`,
    clientsFirstSeen: `${prefix}eth:clients:first_seen`,
    clientsLastSeen: `${prefix}eth:clients:last_seen`,
    batches: `${prefix}ethts:batches`,
    batchResults: `${prefix}ethts:batches:results`,
  };
}

/** Says where a Redis store is, and how it is reached; never its password. */
export function describeRedis(config: RedisConfig): string {
  const { tls } = config;
  return `Redis ${
    config.username ? `${config.username}@` : ""
  }${config.host}:${config.port}/${config.db}${
    config.keyPrefix ? ` (keys ${config.keyPrefix}eth:*)` : ""
  }${tls ? ` over TLS${tls.caSource ? ` (CA ${tls.caSource})` : ""}` : ""}`;
}

/**
 * Saves one batch atomically. ZADD NX decides the first copy; a retried
 * batch whose reply was lost finds its id in the batch record and returns
 * the same results without counting its documents twice. The record is
 * trimmed here too, by age and by count, so it stays bounded.
 * KEYS: hashes, ips, blocks, servers, first_seen, last_seen, batches,
 * batch results.
 * ARGV: batch id, max age ms, max entries, then per document: hash, score,
 * ip, block, ms, server.
 */
const SAVE_SCRIPT = `
local id = ARGV[1]
local done = redis.call('HGET', KEYS[8], id)
if done then return done end
local out = {}
for i = 4, #ARGV, 6 do
  local hash, score, ip, block, ms, server =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local added = redis.call('ZADD', KEYS[1], 'NX', score, hash)
  if added == 1 then redis.call('HSET', KEYS[4], hash, server) end
  if block ~= '' then redis.call('HSETNX', KEYS[3], hash, block) end
  redis.call('HINCRBY', KEYS[2], ip, 1)
  redis.call('HSETNX', KEYS[5], ip, ms)
  local last = tonumber(redis.call('HGET', KEYS[6], ip) or '0')
  if tonumber(ms) > last then redis.call('HSET', KEYS[6], ip, ms) end
  out[#out + 1] = added
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

/** The last connection error a client reported, to explain a failure. */
const lastErrors = new WeakMap<Redis, Error>();

function createClient(config: RedisConfig, log: Logger): Redis {
  const { tls } = config;
  const client = new Redis({
    host: config.host,
    port: config.port,
    db: config.db,
    username: config.username,
    password: config.password,
    // Verified against `ca` (or the system's CAs) and the host name.
    tls: tls && { ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: true },
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    // Fail at once while disconnected: the caller's queue holds documents,
    // and a command in flight when the link drops is not silently resent.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
  // Without a listener ioredis prints every connection error to the console.
  client.on("error", (error: Error) => {
    lastErrors.set(client, error);
    log.debug(`${describeRedis(config)}: ${error.message}`);
  });
  return client;
}

/** What to change when the error says AUTH or TLS failed, or "". */
function advice(config: RedisConfig, error: Error): string {
  if (/^(NOAUTH|WRONGPASS)/.test(error.message)) {
    return `: set the password with ${
      config.passwordFrom ?? "--redis-pass-file"
    }${config.username ? "" : " (and --redis-user for an ACL user)"}`;
  }
  if (config.tls && isCertificateError(error)) {
    return `: the server's certificate is not trusted${
      config.tls.caSource ? ` by ${config.tls.caSource}` : ""
    }: check --redis-ca`;
  }
  if (
    !config.tls && /EPIPE|ECONNRESET|closed before Redis/.test(error.message)
  ) {
    return " (add --redis-tls if the server requires TLS)";
  }
  return "";
}

function storeError(
  what: string,
  error: unknown,
  config?: RedisConfig,
): StoreError {
  // Only a script error means Redis answered and refused this data.
  const rejected = (error as Error).name === "ReplyError" &&
    !/^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|NOPERM|OOM)/
      .test((error as Error).message);
  return new StoreError(
    `${what}: ${(error as Error).message}${
      config ? advice(config, error as Error) : ""
    }`,
    { cause: error, kind: rejected ? "rejected" : "unavailable" },
  );
}

/**
 * ioredis rejects a failed connection with "Connection is closed.", "Reached
 * the max retries per request limit" or, between reconnects, "Stream isn't
 * writeable"; the reason came as an event.
 */
function explained(client: Redis, error: unknown): unknown {
  const vague = (e: unknown) =>
    /Connection is closed|max retries per request|Stream isn't writeable/.test(
      (e as Error).message,
    );
  if (!vague(error)) return error;
  const last = lastErrors.get(client);
  return last && !vague(last)
    ? last
    : new Error("the connection closed before Redis answered", {
      cause: error,
    });
}

async function connect(client: Redis, config: RedisConfig): Promise<void> {
  lastErrors.delete(client);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw storeError(
      `Cannot reach ${describeRedis(config)}`,
      explained(client, error),
      config,
    );
  }
}

/**
 * Writes to Redis: per batch one script call, atomic, so a batch is either
 * counted whole or not at all.
 */
export class RedisWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name = "redis";
  readonly #client: Redis;
  readonly #keys;
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
    { log = silentLogger, batchRecord }: {
      log?: Logger;
      batchRecord?: Partial<BatchRecordLimits>;
    } = {},
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
    ];
    for (const d of docs) {
      args.push(
        d.hash,
        // SPEC 1.5: the score is Unix time in (fractional) seconds.
        String(d.receivedAt / 1000),
        d.ip,
        d.block?.toString() ?? "",
        String(d.receivedAt),
        d.server,
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

/**
 * Reads Redis for the stats API: documents from `eth:hashes` (no payloads:
 * `CombinedReader` adds them from MySQL), clients from
 * `eth:ip_addresses` and our `eth:clients:*` keys.
 */
export class RedisReader implements StoreReader {
  readonly #client: Redis;
  readonly #keys;
  readonly #describe: string;
  readonly #config: RedisConfig;
  #connecting: Promise<void> | undefined;

  /** A reader; it connects on first use and reconnects by itself. */
  constructor(config: RedisConfig, { log = silentLogger } = {}) {
    this.#client = createClient(config, log);
    this.#keys = redisKeys(config.keyPrefix);
    this.#describe = describeRedis(config);
    this.#config = config;
  }

  async #do<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    try {
      // Concurrent first uses share one connect: a command sent while the
      // client connects fails at once (no offline queue).
      if (this.#client.status === "wait" || this.#client.status === "end") {
        this.#connecting ??= this.#client.connect().finally(() => {
          this.#connecting = undefined;
        });
      }
      if (this.#connecting) await this.#connecting;
      return await fn(this.#client);
    } catch (error) {
      throw storeError(
        `Cannot read ${this.#describe}`,
        explained(this.#client, error),
        this.#config,
      );
    }
  }

  /** See {@linkcode StoreReader.recentBlocks}. */
  recentBlocks(
    { limit, before }: {
      limit: number;
      before?: { firstSeen: number; hash: string };
    },
  ): Promise<BlockRecord[]> {
    return this.#do(async (client) => {
      const found: [string, number][] = [];
      // The cursor's ms went through a float conversion: fetch from a little
      // above it and let the exact comparison below decide.
      const max = before ? String(before.firstSeen / 1000 + 0.001) : "+inf";
      let offset = 0;
      while (found.length < limit) {
        const page = await client.zrevrangebyscore(
          this.#keys.hashes,
          max,
          "-inf",
          "WITHSCORES",
          "LIMIT",
          offset,
          limit + 16,
        );
        for (let i = 0; i < page.length && found.length < limit; i += 2) {
          const hash = page[i];
          const score = Number(page[i + 1]);
          const firstSeen = score * 1000;
          if (
            before && !(firstSeen < before.firstSeen ||
              (firstSeen === before.firstSeen && hash < before.hash))
          ) continue;
          found.push([hash, score]);
        }
        offset += page.length / 2;
        if (page.length / 2 < limit + 16) break;
      }
      return await this.#records(client, found);
    });
  }

  /** Records of `[hash, score]` pairs. */
  async #records(
    client: Redis,
    found: [string, number][],
  ): Promise<BlockRecord[]> {
    if (found.length === 0) return [];
    const hashes = found.map(([h]) => h);
    const [blocks, servers] = await Promise.all([
      client.hmget(this.#keys.blocks, ...hashes),
      client.hmget(this.#keys.servers, ...hashes),
    ]);
    return found.map(([hash, score], i) => ({
      hash,
      block: blocks[i] == null ? null : BigInt(blocks[i]!),
      firstSeen: score * 1000,
      score,
      server: servers[i] ?? null,
    }));
  }

  /** The document's record without payload, or undefined. */
  document(hash: string): Promise<BlockRecord | undefined> {
    return this.#do(async (client) => {
      const score = await client.zscore(this.#keys.hashes, hash);
      if (score === null) return undefined;
      const [record] = await this.#records(client, [[
        hash,
        Number(score),
      ]]);
      return record;
    });
  }

  /** See {@linkcode StoreReader.clients}. */
  clients(): Promise<ClientRecord[]> {
    return this.#do(async (client) => {
      const [counts, first, last] = await Promise.all([
        client.hgetall(this.#keys.ips),
        client.hgetall(this.#keys.clientsFirstSeen),
        client.hgetall(this.#keys.clientsLastSeen),
      ]);
      return Object.entries(counts).map(([ip, count]) => ({
        ip,
        count: Number(count),
        firstSeen: first[ip] === undefined ? null : Number(first[ip]),
        lastSeen: last[ip] === undefined ? null : Number(last[ip]),
      })).sort((a, b) =>
        b.count - a.count || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0)
      );
    });
  }

  /** See {@linkcode StoreReader.countBlocks}. */
  countBlocks(): Promise<number> {
    return this.#do((client) => client.zcard(this.#keys.hashes));
  }

  /**
   * Scores are first-receipt times, and a server may write a document a
   * while after receiving it: rows are re-read a minute back. A document
   * written later than that (after a Redis outage) is not seen by a running
   * stats process until it restarts.
   */
  readonly reorderWindow = 60;

  /**
   * See {@linkcode StoreReader.storedSince}; `order` is the `eth:hashes`
   * score (Unix seconds). Redis keeps no payloads: an original server's
   * document has no known block number here.
   */
  storedSince(after: number, limit: number): Promise<StoredRow[]> {
    return this.#do(async (client) => {
      const page = await client.zrangebyscore(
        this.#keys.hashes,
        `(${after}`,
        "+inf",
        "WITHSCORES",
        "LIMIT",
        0,
        limit,
      );
      const found: [string, number][] = [];
      for (let i = 0; i < page.length; i += 2) {
        found.push([page[i], Number(page[i + 1])]);
      }
      return (await this.#records(client, found)).map((r) => ({
        hash: r.hash,
        order: r.score!,
        block: r.block,
        server: r.server,
        firstSeen: r.firstSeen,
      }));
    });
  }

  /** See {@linkcode StoreReader.firstSeenCounts}. */
  firstSeenCounts(
    sinceMs: number,
    bucketMs: number,
  ): Promise<Map<number, number>> {
    return this.#do(async (client) => {
      const scores = await client.zrangebyscore(
        this.#keys.hashes,
        String(sinceMs / 1000),
        "+inf",
        "WITHSCORES",
      );
      const counts = new Map<number, number>();
      for (let i = 1; i < scores.length; i += 2) {
        const start = Math.floor(Number(scores[i]) * 1000 / bucketMs) *
          bucketMs;
        counts.set(start, (counts.get(start) ?? 0) + 1);
      }
      return counts;
    });
  }

  /** See {@linkcode StoreReader.oldestFirstSeen}. */
  oldestFirstSeen(): Promise<number | undefined> {
    return this.#do(async (client) => {
      const [, score] = await client.zrange(
        this.#keys.hashes,
        0,
        0,
        "WITHSCORES",
      );
      return score === undefined ? undefined : Number(score) * 1000;
    });
  }

  /** See {@linkcode StoreReader.health}. */
  async health(): Promise<StoreHealth[]> {
    return [await probeStore("redis", this.#describe, () => this.ping())];
  }

  /** Throws unless Redis answers. */
  async ping(): Promise<void> {
    await this.#do((client) => client.ping());
  }

  /** Disconnects. */
  async close(): Promise<void> {
    if (this.#client.status === "wait") {
      this.#client.disconnect();
      return;
    }
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
