/**
 * The client package: follow an Ethereum node's blocks and send a document
 * per block to a server, in order, acknowledged (SPEC part 3).
 *
 * - Heads: {@linkcode HeadSources} (a `newHeads` subscription on `ws://`
 *   endpoints via {@linkcode WsHeads}, polling of `http://` ones) drives
 *   {@linkcode pollHeads}; {@linkcode HeadGuard} holds back absurd jumps.
 * - Blocks: {@linkcode BlockFollower} turns heads into every block in order,
 *   with backfill, retries and a checkpoint ({@linkcode writeCheckpoint}).
 * - Sending: {@linkcode sendDocument} (one server) and
 *   {@linkcode createRotatingSender} (several, rotated).
 * - The program: {@linkcode runClient} and {@linkcode CLIENT_COMMAND}.
 *
 * @example Follow heads and send every block once, in order
 * ```ts
 * import assert from "node:assert/strict";
 * import { BlockFollower, pollHeads } from "./mod.ts";
 *
 * const heads = [100n, 103n, 103n, 104n];
 * const sent: bigint[] = [];
 * const stop = new AbortController();
 * const follower = new BlockFollower({
 *   lastSent: 99n,
 *   // A real client renders the block's document and calls sendDocument.
 *   send: async (block) => {
 *     sent.push(block);
 *   },
 * });
 * await pollHeads({
 *   fetchHead: async () => {
 *     const head = heads.shift();
 *     if (heads.length === 0) stop.abort();
 *     return head;
 *   },
 *   onHead: (head) => follower.advance(head),
 *   intervalMs: 1,
 *   signal: stop.signal,
 * });
 * assert.deepEqual(sent, [100n, 101n, 102n, 103n, 104n]);
 * ```
 *
 * @module
 */
export {
  CLIENT_COMMAND,
  type ClientConfig,
  type ClientOptions,
  DEFAULT_RPC_URLS,
  parseClientConfig,
} from "./options.ts";
export { type ClientContext, runClient } from "./run_client.ts";
export {
  BlockFollower,
  type BlockFollowerOptions,
  DEFAULT_MAX_BACKFILL,
  type FollowerStats,
} from "./follower.ts";
export {
  DEFAULT_MAX_JUMP,
  HeadGuard,
  type HeadGuardOptions,
  type HeadGuardStats,
} from "./head_guard.ts";
export { HeadSources, type HeadSourcesOptions } from "./head_sources.ts";
export {
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_STALE_AFTER_MS,
  isStale,
  newPollerStats,
  type PollerStats,
  pollHeads,
  type PollOptions,
  recordHead,
  staleReason,
} from "./poller.ts";
export { WsHeads, type WsHeadsOptions, type WsHeadsStats } from "./ws_heads.ts";
export {
  ACK_MODES,
  type AckMode,
  DEFAULT_ACK_MODE,
  DEFAULT_SEND_TIMEOUT_MS,
  type Delivery,
  DocumentRefusedError,
  isAckMode,
  sendDocument,
  SendError,
  type SendOptions,
  type SendTlsOptions,
  type ServerAddress,
} from "./sender.ts";
export {
  createRotatingSender,
  DEFAULT_SERVER_COOLDOWN_MS,
  type RotatingSenderOptions,
  type SentTo,
} from "./rotating_sender.ts";
export {
  AnswerMemory,
  type AnswerMemoryOptions,
  type AnswerMemoryStats,
  SILENT_CLOSES_FOR_ORIGINAL,
} from "./answer_memory.ts";
export {
  CheckpointError,
  probeCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from "./checkpoint.ts";
export {
  fetchGaps,
  ReplayError,
  type ReplayRange,
  replayRanges,
} from "./replay.ts";
// Types of the shared package that this surface names, so a user of the
// client alone can spell them.
export type {
  Command,
  CommonConfig,
  Env,
  LogFields,
  Logger,
  LogLevel,
  Option,
  OptionTable,
  OptionValues,
  RpcClient,
} from "../shared/mod.ts";
