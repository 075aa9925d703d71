/**
 * The server program, wired from its parts: a TCP listener, the ingest loop,
 * batched stdout, and the store.
 *
 * @module
 */
import type { ServerConfig } from "./config.ts";
import { IngestServer } from "./ingest.ts";
import type { MainContext } from "./main.ts";
import { LineWriter } from "./output.ts";
import { BlockTemplate } from "./template.ts";

/** Runs the server until `signal` aborts, then drains and returns. */
export async function runServer(
  { config, log, signal }: MainContext<ServerConfig>,
): Promise<void> {
  const template = config.acceptAnyPayload
    ? undefined
    : await BlockTemplate.load(config.template);
  const { store } = config;
  if (store.mysql || store.redis || store.sqlitePath) {
    log.warn(
      "Storage is not available in this build yet: documents are printed only",
    );
  }
  const listener = Deno.listen({ hostname: config.host, port: config.port });
  const out = new LineWriter();
  const server = new IngestServer(listener, {
    template,
    maxFrameBytes: config.maxFrameBytes,
    idleTimeoutMs: config.idleTimeoutMs,
    maxConnections: config.maxConnections,
    print: (line) => out.writeLine(line),
    log,
  });
  log.info(`Listening on ${config.host}:${server.addr.port}`);
  signal.addEventListener("abort", () => server.shutdown(), { once: true });
  await server.serve();
  await server.shutdown();
  await out.flush();
  log.info("Stopped");
}
