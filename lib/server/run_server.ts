/**
 * The server program, wired from its parts: a TCP listener, the ingest loop,
 * batched stdout, and the store.
 *
 * @module
 */
import { AllowList } from "./cidr.ts";
import { BlockTemplate, ConfigError } from "../shared/mod.ts";
import type { MainContext } from "../shared/mod.ts";
import type { ServerConfig } from "./options.ts";
import { type IngestListener, IngestServer, LISTEN_BACKLOG } from "./ingest.ts";
import { TlsListener } from "./tls_listener.ts";
import { LineWriter } from "./output.ts";
import { ServerMetrics, serveServerHealth } from "./server_metrics.ts";
import { Storage } from "./storage.ts";

/** Runs the server until `signal` aborts, then drains and returns. */
export async function runServer(
  { config, log, signal }: MainContext<ServerConfig>,
): Promise<void> {
  const template = config.acceptAnyPayload
    ? undefined
    : await BlockTemplate.load(config.template);
  const listener = await openListener(config);
  const port = (listener.addr as Deno.NetAddr).port;
  const metrics = config.metricsPort > 0 ? new ServerMetrics() : undefined;
  // The spool is read first (replaying what some store lacks); stores open
  // in the background, retrying, while documents are spooled.
  const storage = await Storage.open(config.store, {
    // One spool per listening port by default: servers sharing a working
    // directory must not share a spool.
    spoolDir: config.spoolDir ?? `eth.spool/${port}`,
    spoolMaxBytes: config.spoolMaxBytes,
    log,
    onLatency: metrics?.onStoreLatency,
  });
  const out = new LineWriter();
  const server = new IngestServer(listener, {
    template,
    maxFrameBytes: config.maxFrameBytes,
    idleTimeoutMs: config.idleTimeoutMs,
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    maxConnectionAgeMs: config.maxConnectionAgeMs,
    allowFrom: config.allowFrom.length > 0
      ? AllowList.parse(config.allowFrom)
      : undefined,
    print: (line) => out.writeLine(line),
    onDocument: storage && ((doc) => storage.push(doc)),
    room: storage && (() => storage.room()),
    storeWaitMs: config.storeWaitMs,
    signal,
    serverId: config.serverId ?? `${Deno.hostname()}:${port}`,
    log,
  });
  log.info(`Listening on ${config.host}:${server.addr.port}`, {
    address: `${config.host}:${server.addr.port}`,
  });
  log.info(
    template
      ? `Accepting renderings of ${config.template ?? "the built-in template"}`
      : "Accepting any UTF-8 payload (--accept-any-payload)",
    {
      template: config.acceptAnyPayload ? null : config.template ?? "built in",
    },
  );
  const stores = storage?.queues.map((q) => q.name) ?? [];
  log.info(
    stores.length > 0
      ? `Storing into ${stores.join(" and ")} (connecting)`
      : "Storing nothing (--no-store)",
    { stores, sqlitePath: config.store.sqlitePath ?? null },
  );
  const health = metrics && serveServerHealth(metrics, {
    hostname: config.host,
    port: config.metricsPort,
    ingest: server.stats,
    storage,
    closing: () => signal.aborted,
    log,
  });
  try {
    await server.serve();
    await server.shutdown();
  } finally {
    // The DATA lines still queued are written even when serving failed.
    await out.flush();
  }
  await storage?.close(config.storeFlushTimeoutMs);
  await health?.shutdown();
  log.info("Stopped");
}

/**
 * Opens the server's listener: TLS when `--tls-cert`/`--tls-key` are set
 * (a {@linkcode TlsListener}, whose stalled handshakes can be closed),
 * plain TCP otherwise. Unreadable key material is a configuration error.
 */
export async function openListener(
  config: Pick<ServerConfig, "host" | "port" | "tls">,
): Promise<IngestListener> {
  const { host: hostname, port, tls } = config;
  if (tls === undefined) {
    try {
      return Deno.listen({ hostname, port, tcpBacklog: LISTEN_BACKLOG });
    } catch (error) {
      // Name the address: "Address already in use" alone does not say which.
      if (error instanceof Error) {
        error.message = `${hostname}:${port}: ${error.message}`;
      }
      throw error;
    }
  }
  const read = async (flag: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(
        `Cannot read ${flag} ${path}: ${(error as Error).message}`,
      );
    }
  };
  const cert = await read("--tls-cert", tls.certFile);
  const key = await read("--tls-key", tls.keyFile);
  try {
    return await TlsListener.listen({ hostname, port, cert, key });
  } catch (error) {
    if ((error as { code?: string }).code === "EADDRINUSE") {
      throw new Error(`${hostname}:${port}: ${(error as Error).message}`);
    }
    throw new ConfigError(
      `Cannot use --tls-cert/--tls-key: ${(error as Error).message}`,
    );
  }
}
