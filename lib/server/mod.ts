/**
 * The server package's public surface.
 *
 * @module
 */
export * from "./cidr.ts";
export * from "./ingest.ts";
export * from "./options.ts";
export * from "./output.ts";
export * from "./server_metrics.ts";
export * from "./spool.ts";
export * from "./storage.ts";
export * from "./store_queue.ts";
export * from "./tls_listener.ts";
