/**
 * The server's Prometheus metrics (`--metrics-port`): connections, frames
 * accepted and rejected by reason, documents stored, duplicate, queued and
 * dropped per store, store errors and write latency. Counters are read from
 * the ingest loop and the store queues at scrape time; no client address
 * ever becomes a label.
 *
 * @module
 */
import {
  ConfigError,
  DEFAULT_BUCKETS,
  type Histogram,
  type Labels,
  type Logger,
  registerProcessMetrics,
  Registry,
  serveHealth,
} from "../shared/mod.ts";
import type { IngestStats } from "./ingest.ts";
import type { Storage } from "./storage.ts";
import type { StoreQueueStats } from "./store_queue.ts";

/** Batch write latency buckets, in seconds. */
const STORE_BUCKETS = [...DEFAULT_BUCKETS, 10];

/**
 * The server's registry. Create it before the storage so its
 * {@linkcode ServerMetrics.onStoreLatency} can be handed to `Storage.open`,
 * then {@linkcode ServerMetrics.watch} the live counters.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a store, an ingest loop and a free port (tests/e2e/server_metrics_test.ts runs it).
 * import { ServerMetrics } from "./server_metrics.ts";
 * const metrics = new ServerMetrics();
 * const storage = Storage.open(store, { onLatency: metrics.onStoreLatency });
 * metrics.watch(ingest.stats, storage);
 * serveHealth({ port: 9100, registry: metrics.registry });
 * ```
 */
export class ServerMetrics {
  /** The registry to serve on `/metrics`. */
  readonly registry: Registry = new Registry();
  readonly #latency: Histogram;

  /** Registers the latency histogram; counters come with `watch`. */
  constructor() {
    registerProcessMetrics(this.registry, "server");
    this.#latency = this.registry.histogram(
      "eth_server_store_write_seconds",
      "Time to write one batch of documents, by store.",
      STORE_BUCKETS,
    );
  }

  /** Records a batch write's latency in ms (the `Storage` hook). */
  readonly onStoreLatency = (store: string, ms: number): void => {
    this.#latency.observe(ms / 1000, { store });
  };

  /** Exposes the ingest loop's and the store queues' live counters. */
  watch(ingest: IngestStats, storage?: Storage): void {
    this.#watchIngest(ingest);
    this.#watchStorage(storage);
  }

  #watchIngest(ingest: IngestStats) {
    const r = this.registry;
    r.collect(
      "eth_server_connections_total",
      "TCP connections accepted.",
      "counter",
      () => ingest.connections,
    );
    r.collect(
      "eth_server_connections_active",
      "TCP connections open now.",
      "gauge",
      () => ingest.active,
    );
    r.collect(
      "eth_server_connections_refused_total",
      "Times --max-connections were open, so accepting paused.",
      "counter",
      () => ingest.refused,
    );
    r.collect(
      "eth_server_connections_yielded_total",
      "Connections closed between frames to make room for a waiting peer.",
      "counter",
      () => ingest.yielded,
    );
    r.collect(
      "eth_server_frames_accepted_total",
      "Documents accepted (printed and queued for storage).",
      "counter",
      () => ingest.accepted,
    );
    r.collect(
      "eth_server_frames_rejected_total",
      "Frames or connections rejected, by reason.",
      "counter",
      () =>
        Object.entries(ingest.rejected).map((
          [reason, n],
        ) => [{ reason }, n ?? 0] as [Labels, number]),
    );
  }

  #watchStorage(storage: Storage | undefined) {
    const r = this.registry;
    const perStore = (
      name: string,
      help: string,
      kind: "counter" | "gauge",
      read: (s: StoreQueueStats) => number,
    ) =>
      r.collect(
        name,
        help,
        kind,
        () =>
          Object.entries(storage?.stats ?? {}).map((
            [store, s],
          ) => [{ store }, read(s)] as [Labels, number]),
      );
    perStore(
      "eth_server_documents_stored_total",
      "First copies this server stored, by store.",
      "counter",
      (s) => s.stored,
    );
    perStore(
      "eth_server_documents_duplicate_total",
      "Documents the store already had (from any server), by store.",
      "counter",
      (s) => s.duplicate,
    );
    perStore(
      "eth_server_documents_queued",
      "Documents waiting to be written, by store.",
      "gauge",
      (s) => s.queued,
    );
    perStore(
      "eth_server_documents_dropped_total",
      "Oldest documents dropped because a store's queue was full.",
      "counter",
      (s) => s.dropped,
    );
    r.collect(
      "eth_server_spool_bytes",
      "Bytes held in the spool.",
      "gauge",
      () => storage?.spool.bytes ?? 0,
    );
    r.collect(
      "eth_server_spool_documents",
      "Documents in the spool that some store does not hold yet.",
      "gauge",
      () => storage?.spool.held ?? 0,
    );
    perStore(
      "eth_server_documents_rejected_total",
      "Documents a store refused alone while taking others: dead-lettered.",
      "counter",
      (s) => s.rejected,
    );
    perStore(
      "eth_server_store_errors_total",
      "Failed attempts to open or write a store.",
      "counter",
      (s) => s.errors,
    );
    perStore(
      "eth_server_store_up",
      "1 while a store answers, 0 while it does not.",
      "gauge",
      (s) => s.up,
    );
  }
}

/**
 * Why the server is not ready, or undefined: shutting down, or a store that
 * does not answer (its documents are queued meanwhile).
 */
export function serverNotReady(
  { closing, storage }: { closing: boolean; storage?: Storage },
): string | undefined {
  if (closing) return "shutting down";
  const reasons = Object.entries(storage?.stats ?? {}).filter(([, s]) =>
    s.up !== 1
  ).map(([store, s]) =>
    `${store} store failing (${s.queued} documents spooled)${
      s.cause ? `: ${s.cause}` : ""
    }`
  );
  const spool = storage?.spool;
  if (spool?.failure) {
    reasons.push(`cannot write the spool: ${spool.failure.message}`);
  } else if (spool?.full) {
    reasons.push(
      `spool full (${spool.bytes} bytes, --spool-max-bytes): not reading`,
    );
  }
  return reasons.length === 0 ? undefined : reasons.join("; ");
}

/** Options for {@linkcode serveServerHealth}. */
export interface ServerHealthOptions {
  /** Address to listen on (the server's `--host`). */
  hostname: string;
  /** `--metrics-port`. */
  port: number;
  /** The ingest loop's counters. */
  ingest: IngestStats;
  /** The store queues, unless `--no-store`. */
  storage?: Storage;
  /** True once the server is draining. */
  closing: () => boolean;
  /** Where to log. */
  log: Logger;
}

/**
 * Serves `/livez`, `/readyz` and `/metrics` for the server. Stop it with
 * `shutdown()` after the server has drained, so `/readyz` reports the
 * drain. A port in use is a configuration error.
 */
export function serveServerHealth(
  metrics: ServerMetrics,
  options: ServerHealthOptions,
): Deno.HttpServer {
  metrics.watch(options.ingest, options.storage);
  try {
    return serveHealth({
      hostname: options.hostname,
      port: options.port,
      registry: metrics.registry,
      notReady: () =>
        serverNotReady({
          closing: options.closing(),
          storage: options.storage,
        }),
      onListen: ({ port }) => options.log.info(`Metrics on port ${port}`),
      routes: {
        // The documents a store refused alone, kept rather than discarded.
        "/dead-letter": async () =>
          new Response(await options.storage?.deadLetters() ?? "", {
            headers: { "content-type": "application/x-ndjson" },
          }),
      },
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    throw new ConfigError(`--metrics-port ${options.port} is already in use`);
  }
}
