/**
 * Several stores used as one: the originals' pairing of Redis and MySQL.
 *
 * @module
 */
import type {
  BlockRecord,
  ClientRecord,
  StoredHistory,
  StoredRow,
  StoreHealth,
  StoreReader,
} from "./types.ts";

/**
 * Reads Redis and MySQL together, as the original stats API does: hashes,
 * counts and clients from Redis, payloads from MySQL.
 */
export class CombinedReader implements StoreReader {
  readonly #redis: StoreReader;
  readonly #mysql: StoreReader;

  /** Combines a Redis reader and a MySQL reader (closed with it). */
  constructor(redis: StoreReader, mysql: StoreReader) {
    this.#redis = redis;
    this.#mysql = mysql;
  }

  /**
   * From Redis; where Redis holds no block number (a document only an
   * original server stored), MySQL's record and payload fill it in.
   */
  async recentBlocks(
    options: { limit: number; before?: { firstSeen: number; hash: string } },
  ): Promise<BlockRecord[]> {
    const records = await this.#redis.recentBlocks(options);
    const numberless = records.filter((r) => r.block === null);
    if (numberless.length === 0 || !this.#mysql.documents) return records;
    const stored = new Map(
      (await this.#mysql.documents(numberless.map((r) => r.hash)))
        .map((r) => [r.hash, r]),
    );
    return records.map((r) => {
      const s = r.block === null ? stored.get(r.hash) : undefined;
      if (!s) return r;
      const out = { ...r, block: s.block, server: r.server ?? s.server };
      if (s.block === null && s.payload !== undefined) out.payload = s.payload;
      return out;
    });
  }

  /** `stored` (from MySQL) with what Redis knows of it. */
  async #withMeta(stored: BlockRecord): Promise<BlockRecord> {
    const meta = await this.#redis.document(stored.hash);
    return {
      ...stored,
      block: stored.block ?? meta?.block ?? null,
      firstSeen: meta?.firstSeen ?? stored.firstSeen,
      server: stored.server ?? meta?.server ?? null,
    };
  }

  /** The payload from MySQL, with what Redis knows of it. */
  async document(hash: string): Promise<BlockRecord | undefined> {
    const stored = await this.#mysql.document(hash);
    return stored && await this.#withMeta(stored);
  }

  /** From Redis. */
  clients(): Promise<ClientRecord[]> {
    return this.#redis.clients();
  }

  /** From Redis. */
  countBlocks(): Promise<number> {
    return this.#redis.countBlocks();
  }

  /**
   * From MySQL: it keeps every document in row order, and the payloads an
   * original server's rows need for their block numbers.
   */
  storedSince(after: number, limit: number): Promise<StoredRow[]> {
    return this.#mysql.storedSince(after, limit);
  }

  /** From MySQL, as {@linkcode CombinedReader.storedSince}. */
  history(): Promise<StoredHistory | undefined> {
    return this.#mysql.history?.() ?? Promise.resolve(undefined);
  }

  /** MySQL's. */
  get reorderWindow(): number {
    return this.#mysql.reorderWindow;
  }

  /** From Redis: its scores cover the originals' documents too. */
  firstSeenCounts(
    sinceMs: number,
    bucketMs: number,
  ): Promise<Map<number, number>> {
    return this.#redis.firstSeenCounts(sinceMs, bucketMs);
  }

  /** From Redis, as {@linkcode CombinedReader.firstSeenCounts}. */
  oldestFirstSeen(): Promise<number | undefined> {
    return this.#redis.oldestFirstSeen();
  }

  /** Both stores'. */
  async health(): Promise<StoreHealth[]> {
    return (await Promise.all([this.#mysql.health(), this.#redis.health()]))
      .flat();
  }

  /** Both must answer. */
  async ping(): Promise<void> {
    await Promise.all([this.#redis.ping(), this.#mysql.ping()]);
  }

  /** Closes both. */
  async close(): Promise<void> {
    await Promise.all([this.#redis.close(), this.#mysql.close()]);
  }
}
