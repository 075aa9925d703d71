/**
 * What the three programs share, and what a library user needs to speak
 * their protocols: netstring framing of the wire (SPEC part 1), the block
 * document template, JSON-RPC messages and a client with endpoint failover,
 * leveled logging, Prometheus metrics and health routes, small async and
 * network helpers, and the option engine with `runMain` that every program
 * is built on.
 *
 * Other packages import this package through this module only.
 *
 * @example Decode netstrings from a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNetstring, NetstringDecoderStream } from "./mod.ts";
 *
 * const bytes = new Uint8Array([
 *   ...encodeNetstring("hello"),
 *   ...encodeNetstring(new TextEncoder().encode("world")),
 * ]);
 * const frames = ReadableStream.from([bytes])
 *   .pipeThrough(new NetstringDecoderStream());
 * const words: string[] = [];
 * for await (const frame of frames) words.push(new TextDecoder().decode(frame));
 * assert.deepEqual(words, ["hello", "world"]);
 * ```
 *
 * @module
 */

// The wire: netstring framing.
export {
  DEFAULT_MAX_FRAME_BYTES,
  encodeNetstring,
  type NetstringDecoderOptions,
  NetstringDecoderStream,
  NetstringError,
  type NetstringErrorReason,
  NetstringParser,
  type NetstringParserOptions,
} from "./netstring.ts";

// The document: the block template.
export {
  BlockTemplate,
  DEFAULT_TEMPLATE_PATH,
  defaultTemplateCandidates,
  findDefaultTemplate,
  MAX_BLOCK,
  TemplateError,
  type TemplateLookupOptions,
  type VerbatimParts,
} from "./template.ts";

// JSON-RPC: messages, and a client over ranked endpoints.
export {
  describeCall,
  encodeRequest,
  MAX_MESSAGE_BYTES,
  parseBlockNumber,
  parseMessage,
  parseQuantity,
  replyResult,
  type RpcCall,
  RpcError,
  type RpcErrorKind,
  type RpcErrorOptions,
} from "./jsonrpc.ts";
export {
  DEFAULT_RPC_COOLDOWN_MS,
  DEFAULT_RPC_TIMEOUT_MS,
  parseRetryAfter,
  RpcClient,
  type RpcClientOptions,
} from "./rpc.ts";
export {
  EndpointInUse,
  EndpointRanking,
  type EndpointRankingOptions,
} from "./endpoints.ts";

// Observability: logs, metrics, health, redaction of what is logged.
export {
  createLogger,
  DEFAULT_LOG_FORMAT,
  DEFAULT_LOG_LEVEL,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFields,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  RepeatGate,
  silentLogger,
} from "./log.ts";
export {
  DEFAULT_BUCKETS,
  type Histogram,
  type Labels,
  type Metric,
  METRICS_CONTENT_TYPE,
  registerProcessMetrics,
  Registry,
  VERSION,
} from "./metrics.ts";
export {
  type HealthRoutes,
  healthRoutes,
  type HealthRoutesOptions,
  type HealthServerOptions,
  serveHealth,
} from "./health.ts";
export {
  cleanText,
  MAX_LOGGED_CHARS,
  redactUrl,
  redactUrlsIn,
} from "./redact.ts";

// Small helpers: bounded waits, backoff, a queue, addresses, full writes.
export {
  abortableSleep,
  backoffDelay,
  type BackoffOptions,
  backoffStep,
  settleWithin,
} from "./async.ts";
export { Deque } from "./deque.ts";
export {
  formatHostPort,
  type HostPort,
  parseHostPort,
  writeAll,
  type Writer,
} from "./net.ts";

// Programs: the option engine, the options every program takes, and the
// frame every program runs in.
export * from "./options.ts";
export { type MainContext, runMain } from "./run_main.ts";
