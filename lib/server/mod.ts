/**
 * The ingest server as a library: accept netstring frames over TCP (or
 * TLS), check each is a block document, print it, spool it and store the
 * first copy, answering every frame (`2:ok,` once durable, `err <reason>`
 * when refused).
 *
 * {@linkcode IngestServer} serves one listener; {@linkcode Storage} (a
 * durable spool plus one {@linkcode StoreQueue} per store) is what its
 * `onDocument` and `room` usually call; {@linkcode runServer} wires both
 * from a {@linkcode ServerConfig} as the `server` program does.
 *
 * @example Serve documents in-process, without a store
 * ```ts
 * import assert from "node:assert/strict";
 * import { IngestServer } from "./mod.ts";
 *
 * const lines: string[] = [];
 * const server = new IngestServer(
 *   Deno.listen({ hostname: "127.0.0.1", port: 0 }),
 *   { print: (line) => lines.push(line) },
 * );
 * const served = server.serve();
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * await conn.write(new TextEncoder().encode("5:hello,"));
 * await conn.closeWrite();
 * const answer = new Uint8Array(5);
 * assert.equal(await conn.read(answer), 5);
 * assert.equal(new TextDecoder().decode(answer), "2:ok,");
 * conn.close();
 * await server.shutdown();
 * await served;
 * assert.match(lines[0], /^DATA - 127\.0\.0\.1:\d+ - hello$/);
 * ```
 *
 * @module
 */
export {
  DEFAULT_MAX_CONNECTIONS,
  type IngestConn,
  type IngestListener,
  type IngestOptions,
  IngestServer,
  type IngestStats,
  type RejectReason,
  sha256Hex,
} from "./ingest.ts";
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTION_AGE_MS,
  DEFAULT_STORE_WAIT_MS,
} from "./connection.ts";
export { DEFAULT_MAX_CONNECTIONS_PER_IP } from "./admission.ts";
export { AllowList, type Cidr, CidrError, parseCidr } from "./cidr.ts";
export { formatDataLine, LineWriter } from "./output.ts";
export { DEAD_LETTER_FILE, Storage, type StorageOptions } from "./storage.ts";
export {
  type CloseReport,
  DEFAULT_STORE_QUEUE_CAPACITY,
  StoreQueue,
  type StoreQueueOptions,
  type StoreQueueStats,
} from "./store_queue.ts";
export {
  DEFAULT_SEGMENT_BYTES,
  Spool,
  type SpooledDocument,
  SpoolError,
  type SpoolOptions,
  type SpoolReplay,
} from "./spool.ts";
export { TlsConn, TlsListener } from "./tls_listener.ts";
export {
  type ServerHealthOptions,
  ServerMetrics,
  serveServerHealth,
} from "./server_metrics.ts";
export { openListener, runServer } from "./run_server.ts";
export {
  parseServerConfig,
  SERVER_COMMAND,
  type ServerConfig,
  type ServerOptionTable,
} from "./options.ts";
