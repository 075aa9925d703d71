/**
 * JSON-RPC over HTTP: `fetch` with a per-request timeout, replies read up
 * to a size limit, redirects followed only within the endpoint's origin,
 * and failover over ranked endpoints. What a reply means is decided by
 * `jsonrpc.ts`, which endpoint to ask by `endpoints.ts`.
 *
 * @module
 */
import { EndpointRanking } from "./endpoints.ts";
import {
  describeCall,
  encodeRequest,
  MAX_MESSAGE_BYTES,
  parseBlockNumber,
  parseMessage,
  replyResult,
  type RpcCall,
  RpcError,
} from "./jsonrpc.ts";
import { cleanText, redactUrl, redactUrlsIn } from "./redact.ts";

/** How long one JSON-RPC request may take, unless told otherwise. */
export const DEFAULT_RPC_TIMEOUT_MS = 5000;
/** How long a failed endpoint is skipped, unless told otherwise. */
export const DEFAULT_RPC_COOLDOWN_MS = 30_000;

/** Options for {@linkcode RpcClient}. */
export interface RpcClientOptions {
  /** Per-request timeout in milliseconds. Default {@linkcode DEFAULT_RPC_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** How long a failed endpoint is skipped, in ms. Default {@linkcode DEFAULT_RPC_COOLDOWN_MS}. */
  cooldownMs?: number;
  /** Largest reply read, in bytes. Defaults to 1 MiB. */
  maxReplyBytes?: number;
  /** The `fetch` to use. Defaults to the global one. */
  fetch?: typeof fetch;
  /** The clock, in ms. Defaults to `Date.now`. */
  now?: () => number;
  /** Called when requests start going to a different endpoint. */
  onSwitch?: (endpoint: string, previous: string | undefined) => void;
}

/** Redirects followed within one origin before giving up. */
const MAX_REDIRECTS = 5;

/**
 * A JSON-RPC client for one or more endpoints, tried in the order given. An
 * endpoint that fails is skipped for `cooldownMs`, then tried again, so the
 * client returns to the preferred endpoint once it heals. A request fails
 * only when every endpoint failed; the error thrown is the last endpoint's.
 *
 * @example
 * ```ts ignore
 * // Not run: needs an Ethereum node (`deno task devnet` starts one).
 * import assert from "node:assert/strict";
 * import { RpcClient } from "./rpc.ts";
 * const rpc = new RpcClient(["http://127.0.0.1:8545"]);
 * assert.equal(typeof await rpc.blockNumber(), "bigint");
 * ```
 */
export class RpcClient {
  /** The endpoints, best first. */
  readonly endpoints: readonly string[];
  readonly #ranking: EndpointRanking;
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  readonly #maxReplyBytes: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #onSwitch?: (endpoint: string, previous?: string) => void;
  #current: string | undefined;
  #id = 0;

  /** Builds a client; `endpoints` must not be empty. */
  constructor(endpoints: readonly string[], options: RpcClientOptions = {}) {
    if (endpoints.length === 0) {
      throw new TypeError("Cannot create an RPC client without an endpoint");
    }
    this.endpoints = endpoints;
    this.#now = options.now ?? Date.now;
    this.#ranking = new EndpointRanking(endpoints, { now: this.#now });
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.#cooldownMs = options.cooldownMs ??
      DEFAULT_RPC_COOLDOWN_MS;
    this.#maxReplyBytes = options.maxReplyBytes ?? MAX_MESSAGE_BYTES;
    this.#fetch = options.fetch ?? fetch;
    this.#onSwitch = options.onSwitch;
  }

  /** The endpoint that answered last, if any did. */
  get current(): string | undefined {
    return this.#current;
  }

  /**
   * Skips `endpoint` for a cool-down although it answers, e.g. because its
   * head stopped moving; the next request goes to the next endpoint.
   */
  markDown(endpoint: string): void {
    const i = this.#ranking.indexOf(endpoint);
    if (i >= 0) this.#ranking.markDown(i, this.#cooldownMs);
  }

  /**
   * Calls `method` and returns its `result`, trying endpoints in rank order
   * and skipping those cooling down (unless all are).
   */
  call(
    method: string,
    params: unknown[] = [],
    signal?: AbortSignal,
  ): Promise<unknown> {
    return this.#call(method, params, (result) => result, signal);
  }

  /** Returns the number of the most recent block (`eth_blockNumber`). */
  blockNumber(signal?: AbortSignal): Promise<bigint> {
    // A malformed answer counts as that endpoint failing, so it fails over.
    return this.#call("eth_blockNumber", [], parseBlockNumber, signal);
  }

  async #call<T>(
    method: string,
    params: unknown[],
    parse: (result: unknown, call: RpcCall) => T,
    signal?: AbortSignal,
  ): Promise<T> {
    let last: unknown;
    for (const i of this.#ranking.order()) {
      signal?.throwIfAborted();
      const call = { method, endpoint: this.endpoints[i] };
      try {
        const result = parse(await this.#request(call, params, signal), call);
        this.#ranking.markUp(i);
        if (this.#current !== call.endpoint) {
          const previous = this.#current;
          this.#current = call.endpoint;
          this.#onSwitch?.(call.endpoint, previous);
        }
        return result;
      } catch (error) {
        if (signal?.aborted) throw error;
        this.#ranking.markDown(i, this.#cooldownMs);
        last = error;
      }
    }
    throw last;
  }

  async #request(
    call: RpcCall,
    params: unknown[],
    outer?: AbortSignal,
  ): Promise<unknown> {
    const what = describeCall(call);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    const body = encodeRequest(++this.#id, call.method, params);
    let text: string;
    try {
      const response = await this.#post(call, body, signal);
      text = await readLimited(response, this.#maxReplyBytes, call);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      if (timeout.aborted && !outer?.aborted) {
        throw new RpcError(
          "timeout",
          call.endpoint,
          `${what} timed out after ${this.#timeoutMs} ms`,
          { cause: error },
        );
      }
      if (outer?.aborted) throw error;
      throw new RpcError(
        "transport",
        call.endpoint,
        `${what} failed: ${describeFailure(error)}`,
        { cause: error },
      );
    }
    return replyResult(parseMessage(text, call), call);
  }

  /**
   * POSTs `body`, following 307/308 redirects within the endpoint's origin;
   * any other redirect, or one to another origin, is refused: the client
   * must not take its heads from a host it was not pointed at.
   */
  async #post(
    call: RpcCall,
    body: string,
    signal: AbortSignal,
  ): Promise<Response> {
    const origin = new URL(call.endpoint).origin;
    let url = call.endpoint;
    for (let hop = 0;; hop++) {
      const response = await this.#fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal,
        redirect: "manual",
      });
      if (response.ok) return response;
      await response.body?.cancel();
      const status = `HTTP ${response.status} ${
        cleanText(response.statusText, 60)
      }`;
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        const target = URL.parse(location, url);
        const sameOrigin = target?.origin === origin &&
          (response.status === 307 || response.status === 308);
        if (sameOrigin && hop < MAX_REDIRECTS) {
          url = target!.href;
          continue;
        }
        throw new RpcError(
          "http",
          call.endpoint,
          `${describeCall(call)} failed: ${status} to ${
            target ? redactUrl(target.href) : "an unreadable location"
          }; not followed (${
            sameOrigin ? "too many redirects" : "another origin"
          })`,
          { status: response.status },
        );
      }
      throw new RpcError(
        "http",
        call.endpoint,
        `${describeCall(call)} failed: ${status}`,
        {
          status: response.status,
          retryAfterMs: parseRetryAfter(
            response.headers.get("retry-after"),
            this.#now(),
          ),
        },
      );
    }
  }
}

/**
 * Parses an HTTP `Retry-After` value (seconds or an HTTP date) into
 * milliseconds from `now`; `undefined` when absent or unreadable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryAfter } from "./rpc.ts";
 *
 * assert.equal(parseRetryAfter("3"), 3000);
 * assert.equal(parseRetryAfter(new Date(61_000).toUTCString(), 1_000), 60_000);
 * assert.equal(parseRetryAfter("soon"), undefined);
 * ```
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Reads a reply body of at most `limit` bytes: a longer one (declared or
 * streamed) is refused as `too_large` without reading the rest.
 */
async function readLimited(
  response: Response,
  limit: number,
  call: RpcCall,
): Promise<string> {
  const tooLarge = (size: string) =>
    new RpcError(
      "too_large",
      call.endpoint,
      `${
        describeCall(call)
      } answered ${size}, over the limit of ${limit} bytes; refused`,
    );
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw tooLarge(`${declared} bytes`);
  }
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge("more bytes");
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * `fetch failed: Connection refused (os error 111)`: the cause says why. It
 * may quote the URL, so every URL in the text is redacted.
 */
function describeFailure(error: unknown): string {
  const message = (error as Error).message;
  const cause = (error as Error).cause;
  const text = cause instanceof Error && !message.includes(cause.message)
    ? `${message}: ${cause.message}`
    : message;
  return cleanText(redactUrlsIn(text));
}
