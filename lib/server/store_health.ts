/**
 * What one store queue tells about its store: the counters of
 * {@linkcode StoreQueueStats}, and the warnings when the store goes away
 * and comes back (once each, and a reminder at most every 30 s meanwhile).
 *
 * @module
 */
import { type Logger, RepeatGate } from "../shared/mod.ts";
import type { ReceivedDocument } from "../store/mod.ts";

/** Live counters of one store queue, plain numbers for a metrics endpoint. */
export interface StoreQueueStats {
  /** First copies this server stored. */
  stored: number;
  /** Documents the store already had (from any server). */
  duplicate: number;
  /** Documents waiting now (including the batch being written). */
  queued: number;
  /** Oldest documents dropped because the queue was full. */
  dropped: number;
  /**
   * Documents the store refused alone while it took others: set aside in
   * the dead-letter file, not stored.
   */
  rejected: number;
  /** Failed attempts to open or write the store. */
  errors: number;
  /** Batches written. */
  batches: number;
  /**
   * 1 while the store takes documents; 0 while it does not answer, is not
   * open yet, or refuses every document (e.g. a missing privilege).
   */
  up: number;
  /** Why the store is not up, while it is not. */
  cause?: string;
  /** Latency of successful batch writes, in ms. */
  latencyMs: { last: number; max: number; sum: number; count: number };
}

/** A repeated warning (still unavailable, queue full) at most this often. */
export const REPEAT_WARNING_MS = 30_000;

/** What {@linkcode StoreHealth} reports with and to. */
export interface StoreHealthOptions {
  /** `mysql`, `redis` or `sqlite`, for debug lines. */
  name: string;
  /** Where the store is, for warnings. */
  describe: string;
  /** Where to log. */
  log: Logger;
  /** Clock in ms. */
  now: () => number;
  /** Receives each successful batch's latency in ms. */
  onLatency?: (ms: number) => void;
}

/** Keeps a store queue's counters and says when its store fails and heals. */
export class StoreHealth {
  /** The counters, updated in place. */
  readonly stats: StoreQueueStats = {
    stored: 0,
    duplicate: 0,
    queued: 0,
    dropped: 0,
    rejected: 0,
    errors: 0,
    batches: 0,
    up: 0,
    latencyMs: { last: 0, max: 0, sum: 0, count: 0 },
  };
  readonly #o: StoreHealthOptions;
  readonly #stillDown: RepeatGate;
  #failingSince: number | undefined;

  /** Starts with the store not up (not open yet). */
  constructor(options: StoreHealthOptions) {
    this.#o = options;
    this.#stillDown = new RepeatGate({
      burst: 1,
      intervalMs: REPEAT_WARNING_MS,
      now: options.now,
    });
  }

  /** The store opened: up until an attempt fails. */
  opened(): void {
    this.stats.up = 1;
    this.stats.cause = undefined;
    this.#o.log.info(`${this.#o.describe}: ready`);
  }

  /**
   * An attempt failed with `held` documents waiting: a warning the first
   * time, a reminder at most every {@linkcode REPEAT_WARNING_MS}, else a
   * debug line.
   */
  failed(error: unknown, held: number, backoffMs: number): void {
    this.stats.errors++;
    this.stats.up = 0;
    const message = (error as Error).message;
    this.stats.cause = message;
    const t = this.#o.now();
    const log = this.#o.log;
    if (this.#failingSince === undefined) {
      this.#failingSince = t;
      this.#stillDown.reset();
      this.#stillDown.pass();
      log.warn(
        `${this.#o.describe}: unavailable (${message}); holding ${held} ` +
          `documents and retrying with backoff until it takes them`,
      );
    } else if (this.#stillDown.pass() !== undefined) {
      log.warn(
        `${this.#o.describe}: still unavailable after ${
          ((t - this.#failingSince) / 1000).toFixed(0)
        } s (${message}); ${held} documents held, next retry in ${backoffMs} ms`,
      );
    } else {
      log.debug(
        `${this.#o.name}: attempt failed (${message}); retry in ${backoffMs} ms`,
      );
    }
  }

  /**
   * A batch was written in `ms`, `firsts[i]` saying whether `batch[i]` was
   * a first copy; `held` documents were waiting. Ends a failure, if any.
   */
  saved(
    batch: readonly ReceivedDocument[],
    firsts: readonly boolean[],
    ms: number,
    held: number,
  ): void {
    const stats = this.stats;
    const log = this.#o.log;
    stats.batches++;
    const l = stats.latencyMs;
    l.last = ms;
    l.max = Math.max(l.max, ms);
    l.sum += ms;
    l.count++;
    this.#o.onLatency?.(ms);
    const debug = log.enabled("debug");
    batch.forEach((doc, i) => {
      if (firsts[i]) stats.stored++;
      else stats.duplicate++;
      if (!debug) return;
      const what = `${doc.hash}${
        doc.block === null ? "" : ` (block ${doc.block})`
      } from ${doc.ip}:${doc.port}`;
      log.debug(
        firsts[i]
          ? `${this.#o.name}: ${what}: first copy, stored by ${doc.server}`
          : `${this.#o.name}: ${what}: already stored (first copy from another server or an earlier copy)`,
      );
    });
    if (this.#failingSince !== undefined) {
      const seconds = ((this.#o.now() - this.#failingSince) / 1000).toFixed(1);
      stats.cause = undefined;
      log.warn(
        `${this.#o.describe}: back after ${seconds} s; writing the ` +
          `${held} documents held meanwhile, in order`,
      );
      this.#failingSince = undefined;
    }
    stats.up = 1;
  }
}
