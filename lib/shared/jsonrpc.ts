/**
 * JSON-RPC 2.0 as the client speaks it, whatever the transport: requests,
 * the validation of every reply and message, the parsing of quantities and
 * block numbers, and the typed error both transports throw. HTTP polling
 * (`rpc.ts`) and the WebSocket subscription (`ws_session.ts`) only move the
 * bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMessage, replyResult, RpcError } from "./jsonrpc.ts";
 *
 * const what = { method: "eth_blockNumber", endpoint: "http://127.0.0.1:8545" };
 * const reply = parseMessage('{"jsonrpc":"2.0","id":1,"result":"0x10"}', what);
 * assert.equal(replyResult(reply, what), "0x10");
 * assert.throws(
 *   () => replyResult({ error: { code: -32000, message: "no\nway" } }, what),
 *   (e: RpcError) => e.kind === "rpc" && e.message.endsWith("error -32000: no\\nway"),
 * );
 * ```
 *
 * @module
 */
import { cleanText, redactUrl } from "./redact.ts";

/** What went wrong with a JSON-RPC request; stable strings for metrics. */
export type RpcErrorKind =
  | "timeout"
  | "transport"
  | "http"
  | "json"
  | "rpc"
  | "result"
  | "too_large";

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
 * A failed JSON-RPC request, or a bad message. `kind` says which layer
 * failed; the message names the endpoint (redacted) and the method, and
 * quotes what the endpoint sent only escaped and cut short.
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

/** The request an error is about: its method and endpoint. */
export interface RpcCall {
  /** The JSON-RPC method. */
  method: string;
  /** The endpoint URL (logged redacted). */
  endpoint: string;
}

/** Largest reply or message read from an endpoint, in bytes: 1 MiB. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** `eth_blockNumber to http://host:port`: how errors name a request. */
export function describeCall({ method, endpoint }: RpcCall): string {
  return `${method} to ${redactUrl(endpoint)}`;
}

/**
 * The text of a JSON-RPC 2.0 request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRequest } from "./jsonrpc.ts";
 *
 * assert.equal(
 *   encodeRequest(1, "eth_blockNumber"),
 *   '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}',
 * );
 * ```
 */
export function encodeRequest(
  id: number,
  method: string,
  params: unknown[] = [],
): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

/**
 * Parses a reply or message: JSON holding one object, else an `RpcError`
 * of kind `json`.
 */
export function parseMessage(
  text: string,
  call: RpcCall,
): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new RpcError(
      "json",
      call.endpoint,
      `${describeCall(call)} answered malformed JSON: ${
        cleanText(JSON.stringify(text.slice(0, 60)))
      }`,
      { cause },
    );
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RpcError(
      "json",
      call.endpoint,
      `${describeCall(call)} answered JSON that is not a response object`,
    );
  }
  return body as Record<string, unknown>;
}

/**
 * The `result` of a reply, or an `RpcError`: kind `rpc` for a JSON-RPC
 * error object (its message escaped and cut), `result` when there is none.
 */
export function replyResult(
  reply: Record<string, unknown>,
  call: RpcCall,
): unknown {
  if (reply.error !== undefined && reply.error !== null) {
    const err = reply.error as Record<string, unknown>;
    const code = typeof err?.code === "number" ? err.code : undefined;
    const message = typeof err?.message === "string"
      ? cleanText(err.message)
      : cleanText(JSON.stringify(reply.error), 120);
    throw new RpcError(
      "rpc",
      call.endpoint,
      `${describeCall(call)} returned error ${code ?? "?"}: ${message}`,
      { code },
    );
  }
  if (!("result" in reply)) {
    throw new RpcError(
      "result",
      call.endpoint,
      `${describeCall(call)} returned no result`,
    );
  }
  return reply.result;
}

const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;

/**
 * Parses a JSON-RPC QUANTITY (`0x`-prefixed hex, at most 256 bits) into a
 * bigint, throwing an `RpcError` of kind `result` for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseQuantity } from "./jsonrpc.ts";
 *
 * assert.equal(parseQuantity("0x1406f40"), 21000000n);
 * assert.throws(() => parseQuantity("1406f40"));
 * ```
 */
export function parseQuantity(
  value: unknown,
  call: RpcCall = { method: "eth_blockNumber", endpoint: "" },
): bigint {
  if (typeof value !== "string" || !QUANTITY.test(value)) {
    throw new RpcError(
      "result",
      call.endpoint,
      `${describeCall(call)} returned ${
        cleanText(JSON.stringify(value)?.slice(0, 60) ?? "undefined")
      }, not a hex quantity`,
    );
  }
  return BigInt(value);
}

/** Block numbers are 64-bit unsigned, as in the originals' Go client. */
const MAX_BLOCK_NUMBER = 2n ** 64n - 1n;

/**
 * Parses a block number, from `eth_blockNumber` or a `newHeads` head: a
 * hex quantity within the 64-bit block range. Anything else is an
 * `RpcError` of kind `result`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBlockNumber } from "./jsonrpc.ts";
 *
 * assert.equal(parseBlockNumber("0xffffffffffffffff"), 2n ** 64n - 1n);
 * assert.throws(() => parseBlockNumber("0x10000000000000000"), /64-bit/);
 * ```
 */
export function parseBlockNumber(
  value: unknown,
  call: RpcCall = { method: "eth_blockNumber", endpoint: "" },
): bigint {
  const block = parseQuantity(value, call);
  if (block > MAX_BLOCK_NUMBER) {
    throw new RpcError(
      "result",
      call.endpoint,
      `${describeCall(call)} returned ${
        String(value).slice(0, 60)
      }, beyond the 64-bit block range`,
    );
  }
  return block;
}
