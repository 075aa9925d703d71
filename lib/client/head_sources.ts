/**
 * Where the client's heads come from: a `newHeads` subscription on the
 * `ws://` endpoints and polling of the `http://` ones, which of them is in
 * use (logged when it changes), and what staleness does to them (the
 * endpoint in use is left for the next one, if there is one).
 *
 * @module
 */
import {
  abortableSleep,
  EndpointInUse,
  type Logger,
  redactUrl,
  RpcClient,
} from "../shared/mod.ts";
import { WsHeads } from "./ws_heads.ts";

/** Options for {@linkcode HeadSources}. */
export interface HeadSourcesOptions {
  /** Per-request timeout, in ms (`--rpc-timeout`). */
  timeoutMs: number;
  /** How long a failed or stale endpoint is left, in ms (`--rpc-cooldown`). */
  cooldownMs: number;
  /**
   * Receives each pushed head; resolves `false` when it could not finish,
   * which wakes the poll loop to ask again soon.
   */
  onHead: (head: bigint) => Promise<boolean>;
  /** Stops the subscription. */
  signal: AbortSignal;
  /** Where to log. */
  log: Logger;
}

/**
 * The client's head sources. WebSocket endpoints give the heads wherever
 * they are listed; the HTTP ones are polled only while no socket is up.
 * Pass {@linkcode HeadSources.fetchHead} and {@linkcode HeadSources.sleep}
 * to the poll loop, and run {@linkcode HeadSources.run} beside it.
 */
export class HeadSources {
  /** The subscription, when a `ws://` endpoint is given. */
  readonly ws: WsHeads | undefined;
  /** The polling client, when an `http://` endpoint is given. */
  readonly rpc: RpcClient | undefined;
  readonly #wsUrls: string[];
  readonly #httpUrls: string[];
  readonly #options: HeadSourcesOptions;
  readonly #inUse: EndpointInUse;
  #wake = () => {};

  /** Splits `urls` by scheme into a subscription and a polling client. */
  constructor(urls: readonly string[], options: HeadSourcesOptions) {
    const { log, signal, timeoutMs, cooldownMs } = options;
    this.#options = options;
    this.#inUse = new EndpointInUse(log);
    this.#wsUrls = urls.filter((u) => /^wss?:/i.test(u));
    this.#httpUrls = urls.filter((u) => !/^wss?:/i.test(u));
    this.rpc = this.#httpUrls.length > 0
      ? new RpcClient(this.#httpUrls, { timeoutMs, cooldownMs })
      : undefined;
    this.ws = this.#wsUrls.length > 0
      ? new WsHeads(this.#wsUrls, {
        signal,
        timeoutMs,
        cooldownMs,
        log,
        onHead: (head, url) => {
          this.#inUse.use(url);
          // Unfinished (a held head, a failed send): the poll loop asks
          // again now over the socket and retries with its backoff.
          options.onHead(head).then(
            (done) => done || this.#wake(),
            (error) =>
              log.error(`Handling head ${head}: ${(error as Error).message}`),
          );
        },
      })
      : undefined;
  }

  /** Keeps the subscription (if any) until the signal aborts. */
  async run(): Promise<void> {
    await this.ws?.run();
  }

  /** Resolves once the subscription (if any) had its first chance. */
  async firstAttempt(): Promise<void> {
    await this.ws?.firstAttempt;
  }

  /**
   * The poll loop's question: over the live socket if there is one, else
   * over HTTP; `undefined` when there is nothing to ask right now.
   */
  fetchHead = async (signal: AbortSignal): Promise<bigint | undefined> => {
    const { ws, rpc } = this;
    if (ws?.connected) {
      const url = ws.current!;
      try {
        const head = await ws.blockNumber(signal);
        this.#inUse.use(url);
        return head;
      } catch (error) {
        // Counted and logged by WsHeads; HTTP, if any, answers this poll.
        if (signal.aborted || !rpc) return undefined;
        this.#options.log.debug(
          `${(error as Error).message}; polling HTTP instead`,
        );
      }
    }
    if (!rpc) return undefined;
    const head = await rpc.blockNumber(signal);
    this.#inUse.use(rpc.current!);
    return head;
  };

  /** The poll loop's sleep, which a pushed head that did not finish wakes. */
  sleep = (ms: number, signal: AbortSignal): Promise<void> => {
    const early = new AbortController();
    this.#wake = () => early.abort();
    return abortableSleep(ms, AbortSignal.any([signal, early.signal]));
  };

  /**
   * The staleness policy: a node whose head stopped moving is left for
   * another for the cool-down, if there is another.
   */
  leaveStale(reason: string): void {
    const { ws, rpc } = this;
    if (ws?.connected) {
      if (ws.endpoints.length > 1 || rpc) ws.markDown(reason);
    } else if (rpc && rpc.endpoints.length > 1 && rpc.current) {
      rpc.markDown(rpc.current);
      this.#options.log.warn(
        `Leaving ${redactUrl(rpc.current)} for ${
          this.#options.cooldownMs / 1000
        } s: ${reason}`,
      );
    }
  }

  /** One line saying where heads come from, and how often they are asked. */
  describe(intervalMs: number): string {
    const every = `every ${intervalMs / 1000} s`;
    const list = (urls: string[]) => urls.map(redactUrl).join(", ");
    const ws = this.#wsUrls;
    const http = this.#httpUrls;
    if (ws.length === 0) return `Polling ${list(http)} ${every}`;
    const subscribe = `Subscribing to newHeads on ${list(ws)}`;
    return http.length === 0
      ? `${subscribe}, with eth_blockNumber over the socket ${every}`
      : `${subscribe}; polling ${list(http)} ${every} while no socket is up`;
  }
}
