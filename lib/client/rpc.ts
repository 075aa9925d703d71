/**
 * A small JSON-RPC 2.0 client over `fetch`, with per-request timeouts,
 * typed errors and ranked endpoint failover.
 *
 * @module
 */
import { CLIENT_OPTIONS } from "./options.ts";

/** What went wrong with a JSON-RPC request; stable strings for metrics. */
export type RpcErrorKind =
  | "timeout"
  | "transport"
  | "http"
  | "json"
  | "rpc"
  | "result";

/** Options for {@linkcode RpcError}. */
export interface RpcErrorOptions extends ErrorOptions {
  /** HTTP status, for `http` errors. */
  status?: number;
  /** JSON-RPC error code, for `rpc` errors. */
  code?: number;
  /** How long the endpoint asked us to wait (`Retry-After`), in ms. */
  retryAfterMs?: number;
}

/**
 * A failed JSON-RPC request. `kind` says which layer failed; the message
 * names the endpoint and the method.
 */
export class RpcError extends Error {
  /** Which layer failed. */
  readonly kind: RpcErrorKind;
  /** The endpoint the request went to. */
  readonly endpoint: string;
  /** HTTP status, for `http` errors. */
  readonly status?: number;
  /** JSON-RPC error code, for `rpc` errors. */
  readonly code?: number;
  /** How long the endpoint asked us to wait, in ms, when it said. */
  readonly retryAfterMs?: number;

  /** Builds the error. */
  constructor(
    kind: RpcErrorKind,
    endpoint: string,
    message: string,
    options: RpcErrorOptions = {},
  ) {
    super(message, options);
    this.name = "RpcError";
    this.kind = kind;
    this.endpoint = endpoint;
    this.status = options.status;
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Options for {@linkcode RpcClient}. */
export interface RpcClientOptions {
  /** Per-request timeout in milliseconds. Defaults to 5000. */
  timeoutMs?: number;
  /** How long a failed endpoint is skipped, in ms. Defaults to 30000. */
  cooldownMs?: number;
  /** The `fetch` to use. Defaults to the global one. */
  fetch?: typeof fetch;
  /** The clock, in ms. Defaults to `Date.now`. */
  now?: () => number;
  /** Called when requests start going to a different endpoint. */
  onSwitch?: (endpoint: string, previous: string | undefined) => void;
}

/** Largest JSON-RPC response body we read, in bytes. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;

/**
 * A JSON-RPC client for one or more endpoints, tried in the order given. An
 * endpoint that fails is skipped for `cooldownMs`, then tried again, so the
 * client returns to the preferred endpoint once it heals. A request fails
 * only when every endpoint failed; the error thrown is the last endpoint's.
 *
 * @example
 * ```ts ignore
 * import { RpcClient } from "./rpc.ts";
 * const rpc = new RpcClient(["http://127.0.0.1:8545"]);
 * console.log(await rpc.blockNumber());
 * ```
 */
export class RpcClient {
  readonly endpoints: readonly string[];
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #onSwitch?: (endpoint: string, previous?: string) => void;
  readonly #downUntil: number[];
  #current: string | undefined;
  #id = 0;

  /** Builds a client; `endpoints` must not be empty. */
  constructor(endpoints: readonly string[], options: RpcClientOptions = {}) {
    if (endpoints.length === 0) {
      throw new TypeError("Cannot create an RPC client without an endpoint");
    }
    this.endpoints = endpoints;
    this.#timeoutMs = options.timeoutMs ?? CLIENT_OPTIONS.rpcTimeoutMs.default;
    this.#cooldownMs = options.cooldownMs ??
      CLIENT_OPTIONS.rpcCooldownMs.default;
    this.#fetch = options.fetch ?? fetch;
    this.#now = options.now ?? Date.now;
    this.#onSwitch = options.onSwitch;
    this.#downUntil = endpoints.map(() => 0);
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
    const i = this.endpoints.indexOf(endpoint);
    if (i >= 0) this.#downUntil[i] = this.#now() + this.#cooldownMs;
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
    parse: (result: unknown, endpoint: string) => T,
    signal?: AbortSignal,
  ): Promise<T> {
    const now = this.#now();
    const order = this.endpoints.map((_, i) => i);
    const ready = order.filter((i) => this.#downUntil[i] <= now);
    let last: unknown;
    for (const i of ready.length > 0 ? ready : order) {
      signal?.throwIfAborted();
      const endpoint = this.endpoints[i];
      try {
        const result = parse(
          await this.#request(endpoint, method, params, signal),
          endpoint,
        );
        this.#downUntil[i] = 0;
        if (this.#current !== endpoint) {
          const previous = this.#current;
          this.#current = endpoint;
          this.#onSwitch?.(endpoint, previous);
        }
        return result;
      } catch (error) {
        if (signal?.aborted) throw error;
        this.#downUntil[i] = this.#now() + this.#cooldownMs;
        last = error;
      }
    }
    throw last;
  }

  async #request(
    endpoint: string,
    method: string,
    params: unknown[],
    outer?: AbortSignal,
  ): Promise<unknown> {
    const id = ++this.#id;
    const what = `${method} to ${redactUrl(endpoint)}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    let text: string;
    try {
      const response = await this.#fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
        signal,
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new RpcError(
          "http",
          endpoint,
          `${what} failed: HTTP ${response.status} ${response.statusText}`,
          {
            status: response.status,
            retryAfterMs: parseRetryAfter(
              response.headers.get("retry-after"),
              this.#now(),
            ),
          },
        );
      }
      text = await readLimited(response, MAX_RESPONSE_BYTES);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      if (timeout.aborted && !outer?.aborted) {
        throw new RpcError(
          "timeout",
          endpoint,
          `${what} timed out after ${this.#timeoutMs} ms`,
          { cause: error },
        );
      }
      if (outer?.aborted) throw error;
      throw new RpcError(
        "transport",
        endpoint,
        `${what} failed: ${describeFailure(error)}`,
        { cause: error },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new RpcError(
        "json",
        endpoint,
        `${what} answered malformed JSON: ${JSON.stringify(text.slice(0, 60))}`,
        { cause },
      );
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new RpcError(
        "json",
        endpoint,
        `${what} answered JSON that is not a response object`,
      );
    }
    const reply = body as Record<string, unknown>;
    if (reply.error !== undefined && reply.error !== null) {
      const err = reply.error as Record<string, unknown>;
      const code = typeof err?.code === "number" ? err.code : undefined;
      const message = typeof err?.message === "string"
        ? err.message
        : JSON.stringify(reply.error).slice(0, 120);
      throw new RpcError(
        "rpc",
        endpoint,
        `${what} returned error ${code ?? "?"}: ${message}`,
        { code },
      );
    }
    if (!("result" in reply)) {
      throw new RpcError("result", endpoint, `${what} returned no result`);
    }
    return reply.result;
  }
}

/**
 * Parses a JSON-RPC QUANTITY (`0x`-prefixed hex) into a bigint, throwing an
 * `RpcError` of kind `result` for anything else.
 */
export function parseQuantity(value: unknown, endpoint = ""): bigint {
  if (typeof value !== "string" || !QUANTITY.test(value)) {
    throw new RpcError(
      "result",
      endpoint,
      `eth_blockNumber to ${redactUrl(endpoint)} returned ${
        JSON.stringify(value)?.slice(0, 60)
      }, not a hex quantity`,
    );
  }
  return BigInt(value);
}

/** Block numbers are 64-bit unsigned, as in the originals' Go client. */
const MAX_BLOCK_NUMBER = 2n ** 64n - 1n;

/**
 * Parses an `eth_blockNumber` result: a hex quantity within the 64-bit block
 * range. Anything else is an `RpcError` of kind `result`.
 */
export function parseBlockNumber(value: unknown, endpoint = ""): bigint {
  const block = parseQuantity(value, endpoint);
  if (block > MAX_BLOCK_NUMBER) {
    throw new RpcError(
      "result",
      endpoint,
      `eth_blockNumber to ${redactUrl(endpoint)} returned ${
        String(value).slice(0, 60)
      }, beyond the 64-bit block range`,
    );
  }
  return block;
}

/**
 * Parses an HTTP `Retry-After` value (seconds or an HTTP date) into
 * milliseconds from `now`; `undefined` when absent or unreadable.
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
 * Hides credentials and API keys in an endpoint URL for logging: the user
 * info, the query string, and path segments that look like keys (20 or more
 * letters and digits with at least one digit, as in `/v3/<project id>`) are
 * replaced.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "***";
      u.password = "";
    }
    if (u.search) u.search = "?***";
    u.pathname = u.pathname.split("/").map((segment) =>
      segment.length >= 20 && /^[\w.~-]+$/.test(segment) && /\d/.test(segment)
        ? "***"
        : segment
    ).join("/");
    return u.href;
  } catch {
    return url;
  }
}

async function readLimited(response: Response, limit: number) {
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
      throw new Error(`response body exceeds ${limit} bytes`);
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
  return redactUrlsIn(text);
}

/** Redacts every http(s)/ws(s) URL quoted in `text` (e.g. an error). */
export function redactUrlsIn(text: string): string {
  return text.replace(
    /\b(?:https?|wss?):\/\/[^\s)]+/gi,
    (url) => redactUrl(url),
  );
}
