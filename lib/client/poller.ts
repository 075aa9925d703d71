/**
 * The client's poll loop: ask for the head, hand it on, wait, with backoff
 * and jitter after errors. Clock, sleep and randomness are injectable so tests
 * drive it without waiting.
 *
 * @module
 */
import {
  abortableSleep,
  backoffDelay,
  type Logger,
  RepeatGate,
  RpcError,
  silentLogger,
} from "../shared/mod.ts";

/** How long the head may stand still before it is called stale, in ms. */
export const DEFAULT_STALE_AFTER_MS = 60_000;

/** Time between polls, in ms. */
export const DEFAULT_POLL_INTERVAL_MS = 5000;

/** Counters a poller keeps, for metrics. */
export interface PollerStats {
  /** Polls made. */
  polls: number;
  /** Failed polls by error kind (`timeout`, `http`, `rpc`, ...). */
  errors: Record<string, number>;
  /** Whether no new head arrived for `staleAfterMs`. */
  stale: boolean;
  /** When the head last moved, in ms since the epoch. */
  lastHeadAt: number;
  /** Highest head seen by any source. */
  head?: bigint;
}

/** Options for {@linkcode pollHeads}. */
export interface PollOptions {
  /**
   * Asks for the current head; `undefined` means there is nothing to ask
   * right now (e.g. only a WebSocket endpoint, and it is reconnecting).
   */
  fetchHead: (signal: AbortSignal) => Promise<bigint | undefined>;
  /** Receives each head; resolves `false` when it could not finish. */
  onHead: (head: bigint) => Promise<boolean>;
  /**
   * Time between polls, in ms.
   *
   * @default {DEFAULT_POLL_INTERVAL_MS}
   */
  intervalMs?: number;
  /**
   * Warn once when the head has not moved for this long, in ms.
   *
   * @default {DEFAULT_STALE_AFTER_MS}
   */
  staleAfterMs?: number;
  /**
   * Called once each time the head goes stale (after the warning), with
   * the reason (`no new block for 61 s`).
   */
  onStale?: (reason: string) => void;
  /**
   * Whether each fetched head restarts the staleness clock. Default true;
   * false when `onHead` calls {@linkcode recordHead} itself with the heads
   * it believes (so one absurd answer cannot hide a stalled chain).
   */
  recordHeads?: boolean;
  /** Stops the loop. */
  signal: AbortSignal;
  /** Where stats are kept (shared with metrics); a new object by default. */
  stats?: PollerStats;
  /** Where to log. */
  log?: Logger;
  /** Clock in ms. Defaults to `Date.now`. */
  now?: () => number;
  /** Sleeps `ms`, resolving early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform random in [0, 1), for jitter. Defaults to `Math.random`. */
  random?: () => number;
}

/** Creates empty poller stats. */
export function newPollerStats(now: number = Date.now()): PollerStats {
  return { polls: 0, errors: {}, stale: false, lastHeadAt: now };
}

/**
 * Notes a head from any source (a poll or a subscription): when it is above
 * every head seen so far, the staleness clock restarts. Returns whether the
 * head was new.
 */
export function recordHead(
  stats: PollerStats,
  head: bigint,
  { now = Date.now, log = silentLogger }: { now?: () => number; log?: Logger } =
    {},
): boolean {
  if (stats.head !== undefined && head <= stats.head) return false;
  stats.head = head;
  stats.lastHeadAt = now();
  if (stats.stale) log.warn(`Head moving again at ${head}`);
  stats.stale = false;
  return true;
}

/** Whether no new head arrived for `staleAfterMs` (live, for `/readyz`). */
export function isStale(
  stats: PollerStats,
  staleAfterMs: number,
  now: number = Date.now(),
): boolean {
  return now - stats.lastHeadAt >= staleAfterMs;
}

/**
 * Why the client is not ready (`/readyz`): no new head for `staleAfterMs`,
 * or `undefined` while heads move.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newPollerStats, staleReason } from "./poller.ts";
 *
 * const stats = newPollerStats(0);
 * assert.equal(staleReason(stats, 60_000, 30_000), undefined);
 * assert.equal(
 *   staleReason(stats, 60_000, 61_000),
 *   "no new block for 61 s (head unknown)",
 * );
 * ```
 */
export function staleReason(
  stats: PollerStats,
  staleAfterMs: number,
  now: number = Date.now(),
): string | undefined {
  if (!isStale(stats, staleAfterMs, now)) return undefined;
  return `${noNewBlockFor(stats, now)} (head ${stats.head ?? "unknown"})`;
}

function noNewBlockFor(stats: PollerStats, now: number): string {
  return `no new block for ${Math.round((now - stats.lastHeadAt) / 1000)} s`;
}

/**
 * Polls until `signal` aborts. After a failed poll it retries sooner than
 * the interval, backing off exponentially from 250 ms with jitter but never
 * beyond the interval, so a healed endpoint is used again within one
 * interval; an endpoint's `Retry-After` is honoured (up to 10 intervals).
 */
export async function pollHeads(options: PollOptions): Promise<void> {
  const {
    fetchHead,
    onHead,
    intervalMs = DEFAULT_POLL_INTERVAL_MS,
    signal,
    log = silentLogger,
    now = Date.now,
    sleep = abortableSleep,
    random = Math.random,
  } = options;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const stats = options.stats ?? newPollerStats(now());
  let failures = 0;
  const gate = new RepeatGate({ now });
  while (!signal.aborted) {
    const started = now();
    let delay = intervalMs;
    try {
      const head = await fetchHead(signal);
      if (head !== undefined) {
        stats.polls++;
        if (failures > 0) {
          log.warn(`RPC healthy again after ${failures} errors`);
        }
        failures = 0;
        gate.reset();
        if (options.recordHeads ?? true) recordHead(stats, head, { now, log });
        const complete = await onHead(head);
        if (!complete) delay = retryDelay(1, intervalMs, random);
      }
    } catch (error) {
      if (signal.aborted) break;
      stats.polls++;
      failures++;
      const kind = error instanceof RpcError ? error.kind : "other";
      stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
      delay = retryDelay(failures, intervalMs, random);
      if (error instanceof RpcError && error.retryAfterMs !== undefined) {
        delay = Math.max(delay, Math.min(error.retryAfterMs, 10 * intervalMs));
      }
      // Visible at a bounded rate while it keeps failing; every one at debug.
      const line = `Poll failed (${kind}), retrying in ${
        Math.round(delay)
      } ms: ${(error as Error).message}`;
      const held = gate.pass();
      if (held === undefined) log.debug(line);
      else {
        log.warn(held > 0 ? `${line} (${held} more failures since)` : line, {
          failures,
        });
      }
    }
    if (!stats.stale && isStale(stats, staleAfterMs, now())) {
      stats.stale = true;
      log.warn(
        `No new block for ${
          Math.round((now() - stats.lastHeadAt) / 1000)
        } s (head ${stats.head ?? "unknown"})`,
      );
      options.onStale?.(noNewBlockFor(stats, now()));
    }
    await sleep(Math.max(0, delay - (now() - started)), signal);
  }
}

/** 250 ms doubling, never beyond the interval; in [50 %, 100 %) of that. */
function retryDelay(
  failures: number,
  intervalMs: number,
  random: () => number,
) {
  return backoffDelay(failures, { initialMs: 250, maxMs: intervalMs, random });
}
