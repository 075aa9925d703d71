/**
 * New chain heads pushed over a WebSocket: `eth_subscribe` `newHeads` on
 * ranked `ws://`/`wss://` endpoints, with reconnects (backoff and jitter), a
 * catch-up `eth_blockNumber` on every (re)connect, and a return to the
 * preferred endpoint once it heals. Clock, sleep and randomness are
 * injectable so tests drive it without waiting.
 *
 * @module
 */
import { CLIENT_OPTIONS } from "./options.ts";
import { type Logger, silentLogger } from "../shared/log.ts";
import { abortableSleep } from "../shared/async.ts";
import { redactUrl, redactUrlsIn, RpcError, type RpcErrorKind } from "./rpc.ts";

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
  /** Budget for connect + subscribe, and for each request, in ms. Default 5000. */
  timeoutMs?: number;
  /**
   * Longest wait before an endpoint that keeps failing is tried again, and
   * how long {@linkcode WsHeads.markDown} skips one, in ms. Default 30000.
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

const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
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
 * import { WsHeads } from "./ws_heads.ts";
 * const heads = new WsHeads(["ws://127.0.0.1:8545"], {
 *   signal: AbortSignal.timeout(10_000),
 *   onHead: (head) => console.log(head),
 * });
 * await heads.run();
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
  readonly #random: () => number;
  readonly #downUntil: number[];
  readonly #failures: number[];
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
    this.#timeoutMs = options.timeoutMs ?? CLIENT_OPTIONS.rpcTimeoutMs.default;
    this.#cooldownMs = options.cooldownMs ??
      CLIENT_OPTIONS.rpcCooldownMs.default;
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#random = options.random ?? Math.random;
    this.#downUntil = endpoints.map(() => 0);
    this.#failures = endpoints.map(() => 0);
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
      return quantity(
        await session.request("eth_blockNumber", [], this.#timeoutMs, signal),
        session.url,
        "eth_blockNumber",
      );
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
    const i = this.endpoints.indexOf(session.url);
    this.#downUntil[i] = this.#now() + this.#cooldownMs;
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
        const index = this.#pickReady(this.endpoints.length);
        if (index < 0) {
          await this.#sleep(this.#nextReadyIn(this.endpoints.length), signal);
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
      if (this.#failures[index] <= 3) this.#log.warn(line);
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
      const head = quantity(
        await session.request("eth_blockNumber", [], this.#timeoutMs, signal),
        url,
        "eth_blockNumber",
      );
      this.#deliver(head, url);
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
      const index = this.endpoints.indexOf(session.url);
      const wait = AbortSignal.any([signal, session.closedSignal]);
      if (index === 0) {
        await session.closed;
        break;
      }
      await this.#sleep(this.#nextReadyIn(index), wait);
      if (wait.aborted) break;
      const better = this.#pickReady(index);
      if (better < 0) continue;
      const next = await this.#connect(better);
      if (next) session = next;
    }
    if (signal.aborted) return;
    const reason = await session.closed;
    if (this.#session === session) this.#session = undefined;
    this.stats.disconnects++;
    const index = this.endpoints.indexOf(session.url);
    // A connection that held for a while starts its backoff over.
    if (this.#now() - this.#connectedAt >= this.#cooldownMs) {
      this.#failures[index] = 0;
    }
    const delay = this.#backOff(index);
    this.#log.warn(
      `WebSocket ${redactUrl(session.url)} closed (${reason}); ${
        this.#pickReady(this.endpoints.length) >= 0
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
    this.#failures[index]++;
    const base = Math.min(
      this.#cooldownMs,
      250 * 2 ** Math.min(30, this.#failures[index] - 1),
    );
    const delay = base / 2 + this.#random() * base / 2;
    this.#downUntil[index] = Math.max(
      this.#downUntil[index],
      this.#now() + delay,
    );
    return delay;
  }

  #count(error: unknown) {
    const kind = error instanceof RpcError ? error.kind : "transport";
    this.stats.errors[kind] = (this.stats.errors[kind] ?? 0) + 1;
  }

  /** The best endpoint ranked above `limit` that may be tried now, or -1. */
  #pickReady(limit: number): number {
    const now = this.#now();
    for (let i = 0; i < limit; i++) {
      if (this.#downUntil[i] <= now) return i;
    }
    return -1;
  }

  /** Milliseconds until an endpoint ranked above `limit` may be tried. */
  #nextReadyIn(limit: number): number {
    const now = this.#now();
    let soonest = Infinity;
    for (let i = 0; i < limit; i++) {
      soonest = Math.min(soonest, Math.max(0, this.#downUntil[i] - now));
    }
    return soonest;
  }
}

interface SessionHandlers {
  onNotification: (head: bigint) => void;
  onBadMessage: (kind: RpcErrorKind, message: string) => void;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** One WebSocket connection speaking JSON-RPC, with at most one subscription. */
class WsSession {
  readonly url: string;
  readonly #handlers: SessionHandlers;
  readonly #socket: WebSocket | undefined;
  readonly #pending = new Map<number, Pending>();
  readonly #closed = Promise.withResolvers<string>();
  readonly #controller = new AbortController();
  readonly #opened = Promise.withResolvers<void>();
  #id = 0;
  #subscription: string | undefined;
  #error: string | undefined;

  constructor(url: string, handlers: SessionHandlers) {
    this.url = url;
    this.#handlers = handlers;
    // Both settle on every path; nobody may be listening yet.
    this.#opened.promise.catch(() => {});
    try {
      this.#socket = new WebSocket(url);
    } catch (error) {
      this.#finish(`cannot connect: ${redactUrlsIn((error as Error).message)}`);
      return;
    }
    this.#socket.addEventListener("open", () => this.#opened.resolve());
    this.#socket.addEventListener("error", (event) => {
      this.#error ??= redactUrlsIn((event as ErrorEvent).message || "") ||
        "socket error";
    });
    this.#socket.addEventListener("close", (event) => {
      const detail = this.#error ??
        `code ${event.code}${event.reason ? `: ${event.reason}` : ""}`;
      this.#finish(detail);
    });
    this.#socket.addEventListener("message", (event) => this.#message(event));
  }

  /** Resolves with the reason once the socket is closed. */
  get closed(): Promise<string> {
    return this.#closed.promise;
  }

  /** Aborted once the socket is closed. */
  get closedSignal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Resolves once the socket is open; rejects after `timeoutMs`. */
  async open(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const timer = setTimeout(
      () => void this.close(`connect timed out after ${timeoutMs} ms`),
      timeoutMs,
    );
    const onAbort = () => void this.close("stopping");
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await this.#opened.promise;
    } catch (reason) {
      const timedOut = /timed out/.test(String(reason));
      throw new RpcError(
        timedOut ? "timeout" : "transport",
        this.url,
        `WebSocket ${redactUrl(this.url)} ${
          timedOut ? String(reason) : `failed: ${reason}`
        }`,
      );
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Subscribes to `newHeads`. */
  async subscribe(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const id = await this.request(
      "eth_subscribe",
      ["newHeads"],
      timeoutMs,
      signal,
    );
    if (typeof id !== "string" || id === "") {
      throw new RpcError(
        "result",
        this.url,
        `eth_subscribe to ${redactUrl(this.url)} returned ${
          JSON.stringify(id)?.slice(0, 60)
        }, not a subscription id`,
      );
    }
    this.#subscription = id;
  }

  /** Sends one request and resolves with its `result`. */
  request(
    method: string,
    params: unknown[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const what = `${method} to ${redactUrl(this.url)}`;
    if (this.closedSignal.aborted || this.#socket?.readyState !== 1) {
      return Promise.reject(
        new RpcError("transport", this.url, `${what} failed: socket closed`),
      );
    }
    const id = ++this.#id;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new RpcError(
          "timeout",
          this.url,
          `${what} timed out after ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#pending.set(id, {
      method,
      resolve: (value) => {
        done();
        resolve(value);
      },
      reject: (error) => {
        done();
        reject(error);
      },
    });
    try {
      this.#socket.send(
        JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      );
    } catch (error) {
      this.#pending.get(id)?.reject(
        new RpcError(
          "transport",
          this.url,
          `${what} failed: ${(error as Error).message}`,
        ),
      );
    }
    return promise;
  }

  /** Closes the socket (if open) and resolves once it is closed. */
  async close(reason: string): Promise<void> {
    if (!this.#controller.signal.aborted) {
      this.#error ??= reason;
      try {
        this.#socket?.close(1000);
      } catch {
        // Closing a socket that is still connecting may throw; it is gone.
        this.#finish(reason);
      }
    }
    await this.#closed.promise;
  }

  #finish(reason: string) {
    if (this.#controller.signal.aborted) return;
    this.#opened.reject(reason);
    for (const pending of [...this.#pending.values()]) {
      pending.reject(
        new RpcError(
          "transport",
          this.url,
          `${pending.method} to ${
            redactUrl(this.url)
          } failed: WebSocket closed (${reason})`,
        ),
      );
    }
    this.#controller.abort();
    this.#closed.resolve(reason);
  }

  #message(event: MessageEvent) {
    const bad = this.#handlers.onBadMessage;
    if (typeof event.data !== "string") {
      bad("json", "sent a binary message");
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(event.data);
    } catch {
      bad(
        "json",
        `sent malformed JSON ${JSON.stringify(event.data.slice(0, 60))}`,
      );
      return;
    }
    if (
      typeof message !== "object" || message === null || Array.isArray(message)
    ) {
      bad("json", "sent JSON that is not a message object");
      return;
    }
    const m = message as Record<string, unknown>;
    if (m.method === "eth_subscription") {
      const params = m.params as Record<string, unknown> | undefined;
      if (
        this.#subscription === undefined ||
        params?.subscription !== this.#subscription
      ) {
        return;
      }
      const number = (params.result as Record<string, unknown> | undefined)
        ?.number;
      if (typeof number !== "string" || !QUANTITY.test(number)) {
        bad(
          "result",
          `sent a newHeads notification without a valid number (${
            JSON.stringify(number)?.slice(0, 60)
          })`,
        );
        return;
      }
      this.#handlers.onNotification(BigInt(number));
      return;
    }
    const pending = typeof m.id === "number"
      ? this.#pending.get(m.id)
      : undefined;
    if (!pending) {
      bad("json", "sent an answer to no request");
      return;
    }
    const what = `${pending.method} to ${redactUrl(this.url)}`;
    if (m.error !== undefined && m.error !== null) {
      const err = m.error as Record<string, unknown>;
      const code = typeof err?.code === "number" ? err.code : undefined;
      const text = typeof err?.message === "string"
        ? err.message
        : JSON.stringify(m.error).slice(0, 120);
      pending.reject(
        new RpcError(
          "rpc",
          this.url,
          `${what} returned error ${code ?? "?"}: ${text}`,
          {
            code,
          },
        ),
      );
      return;
    }
    if (!("result" in m)) {
      pending.reject(
        new RpcError("result", this.url, `${what} returned no result`),
      );
      return;
    }
    pending.resolve(m.result);
  }
}

function quantity(value: unknown, url: string, method: string): bigint {
  if (typeof value !== "string" || !QUANTITY.test(value)) {
    throw new RpcError(
      "result",
      url,
      `${method} to ${redactUrl(url)} returned ${
        JSON.stringify(value)?.slice(0, 60)
      }, not a hex quantity`,
    );
  }
  return BigInt(value);
}
