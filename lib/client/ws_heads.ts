/**
 * New chain heads pushed over a WebSocket: `eth_subscribe` `newHeads` on
 * ranked `ws://`/`wss://` endpoints, with reconnects (backoff and jitter), a
 * catch-up `eth_blockNumber` on every (re)connect, and a return to the
 * preferred endpoint once it heals. Clock, sleep and randomness are
 * injectable so tests drive it without waiting.
 *
 * @module
 */
import {
  abortableSleep,
  type BackoffOptions,
  DEFAULT_RPC_COOLDOWN_MS,
  DEFAULT_RPC_TIMEOUT_MS,
  EndpointRanking,
  type Logger,
  redactUrl,
  RpcError,
  silentLogger,
} from "../shared/mod.ts";
import { WsSession } from "./ws_session.ts";

/** Counters a {@linkcode WsHeads} keeps, for metrics. */
export interface WsHeadsStats {
  /** Subscriptions established (first connect, reconnects, switches). */
  connects: number;
  /** Established subscriptions that were lost. */
  disconnects: number;
  /** Heads delivered (notifications and catch-ups). */
  heads: number;
  /** Failures by error kind (`transport`, `timeout`, `rpc`, `json`, ...). */
  errors: Record<string, number>;
}

/** Options for {@linkcode WsHeads}. */
export interface WsHeadsOptions {
  /** Receives each head, from a notification or a catch-up request. */
  onHead: (head: bigint, endpoint: string) => void;
  /** Called when a subscription is established on `endpoint`. */
  onConnect?: (endpoint: string) => void;
  /** Stops {@linkcode WsHeads.run} and closes the socket. */
  signal: AbortSignal;
  /**
   * Budget for connect + subscribe, and for each request, in ms.
   *
   * @default {DEFAULT_RPC_TIMEOUT_MS}
   */
  timeoutMs?: number;
  /**
   * Longest wait before an endpoint that keeps failing is tried again, and
   * how long {@linkcode WsHeads.markDown} skips one, in ms.
   *
   * @default {DEFAULT_RPC_COOLDOWN_MS}
   */
  cooldownMs?: number;
  /** Where to log. */
  log?: Logger;
  /** Clock in ms. Defaults to `Date.now`. */
  now?: () => number;
  /** Sleeps `ms`, resolving early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform random in [0, 1), for jitter. Defaults to `Math.random`. */
  random?: () => number;
}

/** Malformed messages logged at warn per connection; the rest at debug. */
const LOUD_MESSAGES = 3;

/**
 * Keeps one `newHeads` subscription alive on the best endpoint available.
 * Endpoints are ranked in the order given: a failing one is retried after an
 * exponential backoff with jitter (250 ms doubling, capped at `cooldownMs`)
 * while the next one is used, and while a lower-ranked endpoint serves, a
 * better one is re-probed whenever its backoff ends and taken back once it
 * subscribes. Every (re)connect subscribes first and then asks
 * `eth_blockNumber` once, so blocks mined while disconnected are caught up.
 * Whatever an endpoint sends, malformed or not, never throws out of
 * {@linkcode WsHeads.run}: it is counted, logged and skipped.
 *
 * @example
 * ```ts ignore
 * // Not run: needs an Ethereum node (`deno task devnet` starts one).
 * import assert from "node:assert/strict";
 * import { WsHeads } from "./ws_heads.ts";
 * const heads: bigint[] = [];
 * const ws = new WsHeads(["ws://127.0.0.1:8545"], {
 *   signal: AbortSignal.timeout(10_000),
 *   onHead: (head) => heads.push(head),
 * });
 * await ws.run();
 * assert.ok(heads.length > 0);
 * ```
 */
export class WsHeads {
  /** The endpoints, best first. */
  readonly endpoints: readonly string[];
  /** Live counters (read by metrics). */
  readonly stats: WsHeadsStats;
  readonly #options: WsHeadsOptions;
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #ranking: EndpointRanking;
  readonly #backoff: BackoffOptions;
  readonly #attempted = Promise.withResolvers<void>();
  #session: WsSession | undefined;
  #connectedAt = 0;

  /** Builds the subscriber; `endpoints` must not be empty. */
  constructor(endpoints: readonly string[], options: WsHeadsOptions) {
    if (endpoints.length === 0) {
      throw new TypeError("Cannot subscribe without a WebSocket endpoint");
    }
    this.endpoints = endpoints;
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.#cooldownMs = options.cooldownMs ?? DEFAULT_RPC_COOLDOWN_MS;
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#ranking = new EndpointRanking(endpoints, { now: this.#now });
    // 250 ms doubling, up to the cool-down; delays in [50 %, 100 %) of it.
    this.#backoff = {
      initialMs: 250,
      maxMs: this.#cooldownMs,
      random: options.random ?? Math.random,
    };
    this.stats = { connects: 0, disconnects: 0, heads: 0, errors: {} };
  }

  /** Whether a subscription is live. */
  get connected(): boolean {
    return this.#session !== undefined;
  }

  /** The endpoint of the live subscription, if any. */
  get current(): string | undefined {
    return this.#session?.url;
  }

  /**
   * Resolves once the first connection attempt of {@linkcode WsHeads.run}
   * succeeded or failed (or the signal aborted), so a fallback need not
   * start before the subscription had its chance.
   */
  get firstAttempt(): Promise<void> {
    return this.#attempted.promise;
  }

  /**
   * Asks `eth_blockNumber` over the live socket (a heartbeat that also
   * catches a missed notification). Without a live subscription it throws
   * an `RpcError` of kind `transport`; a request that times out also drops
   * the socket, since a silent socket is usually a dead one.
   */
  async blockNumber(signal?: AbortSignal): Promise<bigint> {
    const session = this.#session;
    if (!session) {
      throw new RpcError("transport", "", "No WebSocket subscription is live");
    }
    try {
      return await session.blockNumber(this.#timeoutMs, signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#count(error);
      if (error instanceof RpcError && error.kind === "timeout") {
        void session.close("eth_blockNumber timed out");
      }
      throw error;
    }
  }

  /**
   * Skips the current endpoint for `cooldownMs` although it works (e.g. its
   * head stopped moving) and closes its socket; the next endpoint takes over.
   */
  markDown(reason: string): void {
    const session = this.#session;
    if (!session) return;
    this.#ranking.markDown(
      this.#ranking.indexOf(session.url),
      this.#cooldownMs,
    );
    this.#log.warn(
      `Leaving ${redactUrl(session.url)} for ${
        Math.round(this.#cooldownMs / 1000)
      } s: ${reason}`,
    );
    void session.close(reason);
  }

  /** Subscribes and resubscribes until the signal aborts. Never rejects. */
  async run(): Promise<void> {
    const { signal } = this.#options;
    const onAbort = () => void this.#session?.close("stopping");
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const index = this.#ranking.pickReady();
        if (index < 0) {
          await this.#sleep(this.#ranking.nextReadyIn(), signal);
          continue;
        }
        const session = await this.#connect(index);
        this.#attempted.resolve();
        if (session) await this.#serve(session);
      }
    } finally {
      this.#attempted.resolve();
      signal.removeEventListener("abort", onAbort);
      const session = this.#session;
      this.#session = undefined;
      await session?.close("stopping");
    }
  }

  /** Opens and subscribes on endpoint `index`; undefined when that failed. */
  async #connect(index: number): Promise<WsSession | undefined> {
    const { signal } = this.#options;
    const url = this.endpoints[index];
    let bad = 0;
    const session = new WsSession(url, {
      onNotification: (head) => {
        if (this.#session !== session) return;
        this.#deliver(head, url);
      },
      onBadMessage: (kind, message) => {
        this.stats.errors[kind] = (this.stats.errors[kind] ?? 0) + 1;
        const line = `${redactUrl(url)}: ${message}; ignored`;
        if (++bad <= LOUD_MESSAGES) this.#log.warn(line);
        else this.#log.debug(line);
      },
    });
    try {
      await session.open(this.#timeoutMs, signal);
      await session.subscribe(this.#timeoutMs, signal);
    } catch (error) {
      await session.close("connect failed");
      if (signal.aborted) return undefined;
      this.#count(error);
      const delay = this.#backOff(index);
      const line = `Cannot subscribe to newHeads on ${redactUrl(url)}: ${
        (error as Error).message
      }; retrying it in ${Math.round(delay)} ms`;
      if (this.#ranking.failures(index) <= 3) this.#log.warn(line);
      else this.#log.debug(line);
      return undefined;
    }
    const previous = this.#session;
    this.#session = session;
    this.#connectedAt = this.#now();
    this.stats.connects++;
    const line = `Subscribed to newHeads on ${redactUrl(url)}`;
    if (this.stats.connects === 1) this.#log.info(line);
    else this.#log.warn(line);
    if (previous) await previous.close(`switching to ${redactUrl(url)}`);
    this.#options.onConnect?.(url);
    try {
      // Subscribed first, then asked: no block falls between the two.
      this.#deliver(await session.blockNumber(this.#timeoutMs, signal), url);
    } catch (error) {
      if (!signal.aborted) {
        this.#count(error);
        this.#log.warn(
          `Catch-up on ${redactUrl(url)} failed: ${(error as Error).message}`,
        );
        await session.close("catch-up failed");
      }
    }
    return session;
  }

  /**
   * Waits while `session` serves: until it closes, or until a better-ranked
   * endpoint is due for a probe, which replaces it when it subscribes.
   */
  async #serve(session: WsSession): Promise<void> {
    const { signal } = this.#options;
    while (!signal.aborted && !session.closedSignal.aborted) {
      const index = this.#ranking.indexOf(session.url);
      const wait = AbortSignal.any([signal, session.closedSignal]);
      if (index === 0) {
        await session.closed;
        break;
      }
      await this.#sleep(this.#ranking.nextReadyIn(index), wait);
      if (wait.aborted) break;
      const better = this.#ranking.pickReady(index);
      if (better < 0) continue;
      const next = await this.#connect(better);
      if (next) session = next;
    }
    if (signal.aborted) return;
    const reason = await session.closed;
    if (this.#session === session) this.#session = undefined;
    this.stats.disconnects++;
    const index = this.#ranking.indexOf(session.url);
    // A connection that held for a while starts its backoff over.
    if (this.#now() - this.#connectedAt >= this.#cooldownMs) {
      this.#ranking.resetBackoff(index);
    }
    const delay = this.#backOff(index);
    this.#log.warn(
      `WebSocket ${redactUrl(session.url)} closed (${reason}); ${
        this.#ranking.pickReady() >= 0
          ? "trying the next endpoint"
          : `reconnecting in ${Math.round(delay)} ms`
      }`,
    );
  }

  #deliver(head: bigint, url: string) {
    this.stats.heads++;
    try {
      this.#options.onHead(head, url);
    } catch (error) {
      this.#log.error(`Handling head ${head}: ${(error as Error).message}`);
    }
  }

  /** Puts endpoint `index` out for its next backoff; returns the delay. */
  #backOff(index: number): number {
    return this.#ranking.backOff(index, this.#backoff);
  }

  #count(error: unknown) {
    const kind = error instanceof RpcError ? error.kind : "transport";
    this.stats.errors[kind] = (this.stats.errors[kind] ?? 0) + 1;
  }
}
