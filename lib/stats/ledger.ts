/**
 * What the fleet stored, kept current by reading only what is new: the
 * block numbers as runs (so the gaps between them are known at once), the
 * documents, and the servers that stored them. Each refresh is one indexed
 * range read of the rows added since the last one. The first asks the store
 * for a summary of the whole history (runs of block numbers and documents
 * per server, from indexes) where it can give one, and otherwise reads the
 * history once, in pages.
 *
 * @module
 */
import type { StoreReader } from "../store/mod.ts";
import { type BlockTemplate, settleWithin } from "../shared/mod.ts";
import { type BlockRange, RangeSet } from "./ranges.ts";

const PAGE = 10_000;
/** How long an answer waits for the first read of the history. */
const FIRST_READ_WAIT_MS = 2000;
/** A refresh sooner than this after the last one answers from what is known, ms. */
export const DEFAULT_MIN_REFRESH_MS = 500;

/** What one server stored, as the servers panel shows it. */
export interface ServerTally {
  /** `--server-id`; null for documents an original server stored. */
  server: string | null;
  /** First copies it stored. */
  documents: number;
  /** When it last stored a first copy, ms since the epoch; 0 when unknown. */
  lastSeen: number;
}

/** The gaps between stored blocks, as `/api/gaps` shows them. */
export interface GapReport {
  /** The lowest stored block, undefined when none is stored. */
  from?: bigint;
  /** The span's end: the chain head when known and higher, else the highest stored block. */
  to?: bigint;
  /** The chain head, when a node was asked. */
  head?: bigint;
  /** Missing ranges, lowest first, at most `limit`. */
  ranges: BlockRange[];
  /** Missing ranges in all. */
  count: number;
  /** Missing block numbers in all. */
  missing: bigint;
  /** False while the first read of the history is still under way. */
  complete: boolean;
}

/** Options for {@linkcode FleetLedger}. */
export interface FleetLedgerOptions {
  /**
   * Parses block numbers from the payloads of rows that have none recorded
   * (an original server's). Without it such rows count as documents only.
   */
  template?: BlockTemplate;
  /** The chain head, e.g. from a node; undefined when unknown. */
  head?: () => Promise<bigint | undefined>;
  /**
   * A refresh sooner than this after the last one (ms) answers from what is
   * known.
   *
   * @default {DEFAULT_MIN_REFRESH_MS}
   */
  minRefreshMs?: number;
  /**
   * Clock in ms.
   *
   * @default {performance.now}
   */
  now?: () => number;
}

/**
 * Follows a store's documents in the store's own order.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a store (tests/stats/gaps_test.ts runs it).
 * import { FleetLedger } from "./ledger.ts";
 * const ledger = new FleetLedger(reader, { template });
 * await ledger.refresh();
 * (await ledger.gaps()).missing; // 0n
 * ```
 */
export class FleetLedger {
  readonly #reader: StoreReader;
  readonly #template?: BlockTemplate;
  readonly #head?: () => Promise<bigint | undefined>;
  readonly #minRefreshMs: number;
  readonly #now: () => number;
  readonly #blocks = new RangeSet();
  readonly #servers = new Map<string | null, ServerTally>();
  /** Rows with an order above this may still be read again. */
  #mark = -1;
  /** Hashes (and orders) of the rows counted above `#mark`. */
  #tail = new Map<string, number>();
  #documents = 0;
  #refreshing: Promise<void> | undefined;
  #refreshedAt = -Infinity;
  #lastHead: bigint | undefined;
  #missing = 0n;
  #loaded = false;
  #summarised = false;

  /** Follows `reader`; nothing is read until {@linkcode FleetLedger.refresh}. */
  constructor(reader: StoreReader, options: FleetLedgerOptions = {}) {
    this.#reader = reader;
    this.#template = options.template;
    this.#head = options.head;
    this.#minRefreshMs = options.minRefreshMs ?? DEFAULT_MIN_REFRESH_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Distinct documents stored. */
  get documents(): number {
    return this.#documents;
  }

  /** The highest stored block number. */
  get latest(): bigint | undefined {
    return this.#blocks.max;
  }

  /** Missing blocks as of the last {@linkcode FleetLedger.gaps}. */
  get missing(): bigint {
    return this.#missing;
  }

  /** Every server that stored a first copy, most documents first. */
  servers(): ServerTally[] {
    return [...this.#servers.values()].sort((a, b) =>
      b.documents - a.documents ||
      String(a.server).localeCompare(String(b.server))
    );
  }

  /**
   * Reads what was stored since the last refresh (everything, the first
   * time). Calls while one runs share it; a call within `minRefreshMs` of
   * the last one returns at once.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    if (this.#now() - this.#refreshedAt < this.#minRefreshMs) {
      return Promise.resolve();
    }
    this.#refreshing = this.#read().finally(() => {
      this.#refreshedAt = this.#now();
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Resolves once no refresh is running (never rejects). */
  async idle(): Promise<void> {
    await this.#refreshing?.catch(() => {});
  }

  /**
   * Starts from the store's summary of everything stored: rows above its
   * mark (and the re-read window below it) are then read as new ones.
   * Without a summary, the first read pages through every row.
   */
  async #summarise(): Promise<void> {
    const history = await this.#reader.history?.();
    if (!history) return;
    for (const run of history.runs) this.#blocks.addRange(run.from, run.to);
    for (const payload of history.payloads) {
      const block = this.#parse(payload);
      if (block !== null) this.#blocks.add(block);
    }
    for (const tally of history.servers) {
      this.#documents += tally.documents;
      const known = this.#servers.get(tally.server);
      if (known) {
        known.documents += tally.documents;
        known.lastSeen = Math.max(known.lastSeen, tally.lastSeen);
      } else this.#servers.set(tally.server, { ...tally });
    }
    this.#mark = history.mark - this.#reader.reorderWindow;
    this.#tail = new Map(history.recent.map((r) => [r.hash, r.order]));
  }

  async #read(): Promise<void> {
    if (!this.#summarised) {
      await this.#summarise();
      this.#summarised = true;
    }
    const window = this.#reader.reorderWindow;
    let after = this.#mark;
    let top = this.#mark;
    while (true) {
      const rows = await this.#reader.storedSince(after, PAGE);
      for (const row of rows) {
        top = Math.max(top, row.order);
        if (this.#tail.has(row.hash)) continue;
        this.#count(row.block ?? this.#parse(row.payload), row);
        this.#tail.set(row.hash, row.order);
      }
      // Forget what can no longer be read again, page by page, so the first
      // read of a long history holds one window of hashes, not all of them.
      this.#forget(top - window);
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1].order;
    }
    this.#mark = Math.max(this.#mark, top - window);
    this.#forget(this.#mark);
    this.#loaded = true;
  }

  /** Whether the whole history has been read once. */
  get complete(): boolean {
    return this.#loaded;
  }

  /**
   * Refreshes, but while the first read of a long history runs (seconds
   * for a million rows) waits at most `FIRST_READ_WAIT_MS` and
   * answers from what was read so far (`complete` false).
   */
  async current(): Promise<void> {
    const refreshed = this.refresh();
    if (this.#loaded) return await refreshed;
    // Settled in time: await it again, so a failed read still throws.
    if (await settleWithin(refreshed, FIRST_READ_WAIT_MS)) await refreshed;
  }

  #forget(below: number) {
    const kept = new Map<string, number>();
    for (const [hash, order] of this.#tail) {
      if (order > below) kept.set(hash, order);
    }
    this.#tail = kept;
  }

  /**
   * The block number of a stored document: the one the store recorded, else
   * the one its payload was rendered for (an original server's document),
   * else null.
   */
  blockOf(record: { block: bigint | null; payload?: string }): bigint | null {
    return record.block ?? this.#parse(record.payload);
  }

  #parse(payload: string | undefined): bigint | null {
    if (payload === undefined || !this.#template) return null;
    return this.#template.parse(payload) ?? null;
  }

  #count(
    block: bigint | null,
    row: { server: string | null; firstSeen: number },
  ) {
    this.#documents++;
    if (block !== null) this.#blocks.add(block);
    let tally = this.#servers.get(row.server);
    if (!tally) {
      tally = { server: row.server, documents: 0, lastSeen: 0 };
      this.#servers.set(row.server, tally);
    }
    tally.documents++;
    tally.lastSeen = Math.max(tally.lastSeen, row.firstSeen);
  }

  /**
   * The missing ranges from the lowest stored block to the highest, or to
   * the chain head when one is known and higher; the first `limit` listed.
   * Refreshes first.
   */
  async gaps(limit = Infinity): Promise<GapReport> {
    await this.current();
    if (this.#head) {
      try {
        this.#lastHead = await this.#head() ?? this.#lastHead;
      } catch {
        // Keep the last head: an unreachable node must not hide the gaps.
      }
    }
    const from = this.#blocks.min;
    const max = this.#blocks.max;
    if (from === undefined || max === undefined) {
      this.#missing = 0n;
      return {
        head: this.#lastHead,
        ranges: [],
        count: 0,
        missing: 0n,
        complete: this.#loaded,
      };
    }
    const to = this.#lastHead !== undefined && this.#lastHead > max
      ? this.#lastHead
      : max;
    const gaps = this.#blocks.gaps(from, to, limit);
    this.#missing = gaps.missing;
    return { from, to, head: this.#lastHead, ...gaps, complete: this.#loaded };
  }
}
