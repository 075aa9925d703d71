/**
 * The Redis store's read side, for the stats API.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { RedisConfig } from "./config.ts";
import { type Logger, silentLogger } from "../shared/mod.ts";
import { probeStore } from "./health.ts";
import {
  createClient,
  describeRedis,
  explained,
  storeError,
} from "./redis_connection.ts";
import { type RedisKeys, redisKeys } from "./redis_schema.ts";
import type {
  BlockRecord,
  ClientRecord,
  StoredRow,
  StoreHealth,
  StoreReader,
} from "./types.ts";

/** Options for {@linkcode RedisReader}. */
export interface RedisReaderOptions {
  /** Where to log connection errors (at debug level). */
  log?: Logger;
}

/**
 * Reads Redis for the stats API: documents from `eth:hashes` (no payloads:
 * `CombinedReader` adds them from MySQL), clients from
 * `eth:ip_addresses` and our `eth:clients:*` keys.
 */
export class RedisReader implements StoreReader {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #describe: string;
  readonly #config: RedisConfig;
  #connecting: Promise<void> | undefined;

  /** A reader; it connects on first use and reconnects by itself. */
  constructor(
    config: RedisConfig,
    { log = silentLogger }: RedisReaderOptions = {},
  ) {
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
