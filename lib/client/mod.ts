/**
 * The client package's public surface.
 *
 * @module
 */
export * from "./checkpoint.ts";
export * from "./client_metrics.ts";
export * from "./follower.ts";
export * from "./head_guard.ts";
export * from "./head_sources.ts";
export * from "./options.ts";
export * from "./poller.ts";
export * from "./replay.ts";
export * from "./sender.ts";
export * from "./ws_heads.ts";
export * from "./ws_session.ts";
export * from "./ws_socket.ts";
