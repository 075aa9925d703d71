/**
 * The shared package's public surface.
 *
 * @module
 */
export * from "./async.ts";
export * from "./deque.ts";
export * from "./endpoints.ts";
export * from "./health.ts";
export * from "./jsonrpc.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./net.ts";
export * from "./netstring.ts";
export * from "./options.ts";
export * from "./redact.ts";
export * from "./rpc.ts";
export * from "./template.ts";
