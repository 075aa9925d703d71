/**
 * Ranked endpoints with cool-downs, shared by both transports: endpoints are
 * preferred in the order given; one that fails is put out for a while (a
 * fixed cool-down, or a growing backoff) and asked again once that passes,
 * so the client returns to the preferred endpoint when it heals. And the
 * one log line saying which endpoint is in use, whenever that changes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EndpointRanking } from "./endpoints.ts";
 *
 * let now = 0;
 * const ranking = new EndpointRanking(["http://a", "http://b"], { now: () => now });
 * ranking.markDown(0, 1000);
 * assert.deepEqual(ranking.order(), [1]);
 * now = 1000;
 * assert.deepEqual(ranking.order(), [0, 1]);
 * ```
 *
 * @module
 */
import { backoffDelay, type BackoffOptions } from "./async.ts";
import { type Logger, silentLogger } from "./log.ts";
import { redactUrl } from "./redact.ts";

/** Options for {@linkcode EndpointRanking}. */
export interface EndpointRankingOptions {
  /**
   * The clock, in ms.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/** Endpoints in rank order, each either ready or cooling down. */
export class EndpointRanking {
  /** The endpoints, best first. */
  readonly urls: readonly string[];
  readonly #now: () => number;
  readonly #downUntil: number[];
  readonly #failures: number[];

  /** Ranks `urls` in the order given; they must not be empty. */
  constructor(urls: readonly string[], options: EndpointRankingOptions = {}) {
    if (urls.length === 0) throw new TypeError("No endpoint to rank");
    this.urls = urls;
    this.#now = options.now ?? Date.now;
    this.#downUntil = urls.map(() => 0);
    this.#failures = urls.map(() => 0);
  }

  /** The rank of `url`, or -1. */
  indexOf(url: string): number {
    return this.urls.indexOf(url);
  }

  /** Puts endpoint `index` out for `ms` (an earlier return is kept later). */
  markDown(index: number, ms: number): void {
    this.#downUntil[index] = Math.max(this.#downUntil[index], this.#now() + ms);
  }

  /** Endpoint `index` answered: it is ready and its backoff starts over. */
  markUp(index: number): void {
    this.#downUntil[index] = 0;
    this.#failures[index] = 0;
  }

  /**
   * Endpoint `index` failed again: it is put out for its next backoff
   * delay, which is returned.
   */
  backOff(index: number, backoff: BackoffOptions): number {
    const delay = backoffDelay(++this.#failures[index], backoff);
    this.markDown(index, delay);
    return delay;
  }

  /** Failures in a row of endpoint `index` (for quieter repeated logs). */
  failures(index: number): number {
    return this.#failures[index];
  }

  /** Starts the backoff of endpoint `index` over (it held for a while). */
  resetBackoff(index: number): void {
    this.#failures[index] = 0;
  }

  /**
   * The order to try endpoints in now: the ready ones by rank, or every
   * one when none is ready (a request must go somewhere).
   */
  order(): number[] {
    const now = this.#now();
    const all = this.urls.map((_, i) => i);
    const ready = all.filter((i) => this.#downUntil[i] <= now);
    return ready.length > 0 ? ready : all;
  }

  /** The best ready endpoint ranked above `limit`, or -1. */
  pickReady(limit: number = this.urls.length): number {
    const now = this.#now();
    for (let i = 0; i < limit; i++) {
      if (this.#downUntil[i] <= now) return i;
    }
    return -1;
  }

  /** Milliseconds until an endpoint ranked above `limit` is ready. */
  nextReadyIn(limit: number = this.urls.length): number {
    const now = this.#now();
    let soonest = Infinity;
    for (let i = 0; i < limit; i++) {
      soonest = Math.min(soonest, Math.max(0, this.#downUntil[i] - now));
    }
    return soonest;
  }
}

/**
 * Remembers which endpoint gave the last head and logs
 * `Using RPC endpoint …` when that changes: at info the first time, then at
 * warn with the one it replaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EndpointInUse } from "./endpoints.ts";
 * import { createLogger } from "./log.ts";
 *
 * const lines: string[] = [];
 * const log = createLogger("client", { level: "info", write: (l) => lines.push(l) });
 * const inUse = new EndpointInUse(log);
 * inUse.use("http://a:1/key");
 * inUse.use("http://a:1/key");
 * inUse.use("ws://b:2");
 * assert.equal(lines.length, 2);
 * assert.match(lines[1], /WARN client: Using RPC endpoint ws:\/\/b:2 \(was http:\/\/a:1\)$/);
 * ```
 */
export class EndpointInUse {
  readonly #log: Logger;
  #url: string | undefined;

  /** Logs to `log`. */
  constructor(log: Logger = silentLogger) {
    this.#log = log;
  }

  /** The endpoint in use, if any gave a head yet. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Notes that `url` gave the latest head. */
  use(url: string): void {
    if (url === this.#url) return;
    const line = `Using RPC endpoint ${redactUrl(url)}`;
    if (this.#url === undefined) this.#log.info(line);
    else this.#log.warn(`${line} (was ${redactUrl(this.#url)})`);
    this.#url = url;
  }
}
