/**
 * The stats program: opens the configured store's read side and serves the
 * stats API over HTTP until stopped, then finishes the requests in flight
 * and closes the store.
 *
 * @module
 */
import {
  BlockTemplate,
  ConfigError,
  formatHostPort,
  type Logger,
  redactUrl,
  type Registry,
  RpcClient,
  silentLogger,
} from "../shared/mod.ts";
// Not (yet) part of the shared package's front door.
import type { MainContext } from "../shared/mod.ts";
import type { StatsConfig } from "./options.ts";
import { describeStore, openReader, type StoreReader } from "../store/mod.ts";
import { createStatsHandler } from "./handler.ts";
import { STATS_OPTIONS } from "./options.ts";
import { FleetLedger } from "./ledger.ts";

/** How long a chain head read for `/api/gaps` is reused, ms. */
const HEAD_TTL_MS = 5000;

/** Options for {@linkcode StatsServer.listen}. */
export interface StatsServerOptions {
  /** Address to listen on. Default `localhost`. */
  hostname?: string;
  /** Port; 0 picks a free one. Default: `--port`'s. */
  port?: number;
  /** See {@linkcode StatsHandlerOptions.staleAfterMs}. */
  staleAfterMs?: number;
  /** See {@linkcode StatsHandlerOptions.cacheTtlMs}. Default 0. */
  cacheTtlMs?: number;
  /** Metrics registry. Default: a new one. */
  registry?: Registry;
  /** Where to log. */
  log?: Logger;
  /** Close `reader` when the server closes. Default false. */
  closeReader?: boolean;
  /** Parses block numbers from the originals' payloads, for `/api/gaps`. */
  template?: BlockTemplate;
  /** The chain head, for `/api/gaps` up to it. */
  head?: () => Promise<bigint | undefined>;
}

/**
 * A running stats API.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a store reader and a port (tests/stats/run_stats_test.ts runs it).
 * import { StatsServer } from "./run_stats.ts";
 * await using stats = StatsServer.listen(reader, { port: 0 });
 * console.log(stats.url); // http://localhost:PORT/
 * ```
 */
export class StatsServer implements AsyncDisposable {
  /** The address being listened on. */
  readonly addr: Deno.NetAddr;
  /** The API's base URL, ending in `/`. */
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #reader: StoreReader;
  readonly #closeReader: boolean;
  readonly #ledger: FleetLedger;
  readonly #startup: Promise<void>;
  #closed: Promise<void> | undefined;

  private constructor(
    server: Deno.HttpServer<Deno.NetAddr>,
    reader: StoreReader,
    closeReader: boolean,
    ledger: FleetLedger,
    startup: Promise<void>,
  ) {
    this.#server = server;
    this.#startup = startup;
    this.#ledger = ledger;
    this.#reader = reader;
    this.#closeReader = closeReader;
    this.addr = server.addr;
    this.url = `http://${
      formatHostPort({ host: this.addr.hostname, port: this.addr.port })
    }/`;
  }

  /** Starts serving `reader`; resolves nothing, the socket is open at once. */
  static listen(
    reader: StoreReader,
    options: StatsServerOptions = {},
  ): StatsServer {
    const log = options.log ?? silentLogger;
    const ledger = new FleetLedger(reader, {
      template: options.template,
      head: options.head,
    });
    // Reads the history once now, so the first answers need not, and pings
    // every store: one that refuses (a wrong password) is one WARN line
    // now, not an error on each request. Serving starts anyway: the stores
    // may come up later, and /readyz says why until they do.
    const started = performance.now();
    // The ping follows the read: a reader connects on first use, once.
    const startup = ledger.refresh().then(
      () => undefined,
      (error: Error) => error,
    ).then(async (error) => {
      const stores = await reader.health();
      const down = stores.filter((s) => !s.up);
      for (const s of down) {
        log.warn(`${s.describe} does not answer (serving anyway): ${s.error}`);
      }
      if (error && down.length === 0) {
        log.warn(`Cannot read the stored documents yet: ${error.message}`);
      } else if (!error) {
        log.info(
          `Read ${ledger.documents} stored documents in ${
            Math.round(performance.now() - started)
          } ms`,
        );
      }
    });
    const handler = createStatsHandler(reader, {
      ledger,
      staleAfterMs: options.staleAfterMs,
      cacheTtlMs: options.cacheTtlMs,
      registry: options.registry,
      log,
    });
    const server = Deno.serve({
      hostname: options.hostname ?? "localhost",
      port: options.port ?? STATS_OPTIONS.port.default,
      onListen: () => {},
      onError: (error) => {
        log.error(`Request failed: ${(error as Error).stack ?? error}`);
        return new Response("Internal error\n", { status: 500 });
      },
    }, handler);
    return new StatsServer(
      server,
      reader,
      options.closeReader ?? false,
      ledger,
      startup,
    );
  }

  /** Stops accepting, lets requests in flight finish, closes the reader. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#server.shutdown();
      await this.#startup;
      await this.#ledger.idle();
      if (this.#closeReader) await this.#reader.close();
    })();
    return this.#closed;
  }

  /** Same as {@linkcode StatsServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts the stats API on a configuration's store, for programs that run it
 * in-process (`deno task demo`). The server owns the reader it opens.
 */
export async function startStats(
  config:
    & Pick<StatsConfig, "host" | "port" | "store" | "staleAfterMs">
    & Partial<Pick<StatsConfig, "cacheTtlMs" | "rpcUrls" | "template">>,
  { log = silentLogger, registry }: { log?: Logger; registry?: Registry } = {},
): Promise<StatsServer> {
  const reader = await openReader(config.store, { log });
  if (!reader) {
    throw new ConfigError(
      "The stats API needs a store to read; --no-store stores nothing",
    );
  }
  const rpcUrls = config.rpcUrls ?? [];
  const rpc = rpcUrls.length > 0 ? new RpcClient(rpcUrls) : undefined;
  let head: { value: bigint; at: number } | undefined;
  return StatsServer.listen(reader, {
    template: await BlockTemplate.load(config.template),
    // Asked at most every few seconds, however many answers need it.
    head: rpc && (async () => {
      if (!head || performance.now() - head.at > HEAD_TTL_MS) {
        head = { value: await rpc.blockNumber(), at: performance.now() };
      }
      return head.value;
    }),
    hostname: config.host,
    port: config.port,
    staleAfterMs: config.staleAfterMs,
    cacheTtlMs: config.cacheTtlMs,
    registry,
    log,
    closeReader: true,
  });
}

/** Runs the stats API until `signal` aborts (SIGINT/SIGTERM). */
export async function runStats(
  { config, log, signal }: MainContext<StatsConfig>,
): Promise<void> {
  const stats = await startStats(config, { log });
  console.log(
    `Stats API listening on ${stats.url} (dashboard: ${stats.url}dashboard)`,
  );
  log.info(`Listening on ${stats.url}`, {
    url: stats.url,
    dashboard: `${stats.url}dashboard`,
  });
  log.info(`Reading ${describeStore(config.store)}`, {
    store: describeStore(config.store),
    template: config.template ?? "built in",
  });
  log.info(
    config.rpcUrls.length > 0
      ? `Gaps run up to the chain head of ${
        config.rpcUrls.map(redactUrl).join(", ")
      }`
      : "Gaps run up to the highest stored block (no --rpc-url)",
  );
  if (!signal.aborted) {
    await new Promise((resolve) =>
      signal.addEventListener("abort", resolve, { once: true })
    );
  }
  await stats.close();
  log.info("Stopped");
}
