/**
 * The client's Prometheus metrics (`--metrics-port`), read at scrape time
 * from the live counters of the poll loop, the follower, the head guard and
 * the newHeads subscription.
 *
 * @module
 */
import type { AnswerMemoryStats } from "./answer_memory.ts";
import type { BlockFollower } from "./follower.ts";
import type { HeadGuard } from "./head_guard.ts";
import {
  type Labels,
  registerProcessMetrics,
  Registry,
} from "../shared/mod.ts";
import type { PollerStats } from "./poller.ts";
import type { WsHeads } from "./ws_heads.ts";

/** Counts of send attempts by how the server answered (SPEC part 3). */
export interface AckStats {
  /** `ok`: delivered. */
  ok: number;
  /** An orderly close without an answer, taken as delivery (an original). */
  close: number;
  /** `err <reason>`: refused, final. */
  err: number;
  /** No answer (reset, timeout, close where `ok` was due): not delivered. */
  none: number;
}

/** Fresh {@linkcode AckStats}. */
export function newAckStats(): AckStats {
  return { ok: 0, close: 0, err: 0, none: 0 };
}

/** The client's Prometheus metrics, read from the live counters. */
export function clientMetrics(
  { stats, follower, guard, ws, acks, answers, registry }: {
    stats: PollerStats;
    follower: BlockFollower;
    guard: HeadGuard;
    ws?: WsHeads;
    /** Send attempts by answer. */
    acks?: AckStats;
    /** What `--ack auto` learned of the servers. */
    answers?: AnswerMemoryStats;
    /** Registry to add to (e.g. one holding the ack latency histogram). */
    registry?: Registry;
  },
): Registry {
  const r = registry ?? new Registry();
  registerProcessMetrics(r, "client");
  if (acks) {
    r.collect(
      "eth_client_acks_total",
      "Send attempts by the server's answer: ok, close (an original's " +
        "close, taken as delivery), err (refused), none (not delivered).",
      "counter",
      () =>
        Object.entries(acks).map((
          [result, n],
        ) => [{ result }, n] as [Labels, number]),
    );
  }
  if (answers) {
    r.collect(
      "eth_client_servers_without_ack_total",
      "Times a server address that had answered was taken to be one that " +
        "does not (an original) after 3 orderly closes in a row without " +
        "an answer (--ack auto); its close counts as delivery until it " +
        "answers again.",
      "counter",
      () => answers.becameSilent,
    );
  }
  const f = follower.stats;
  r.collect(
    "eth_client_polls_total",
    "Head polls made.",
    "counter",
    () => stats.polls,
  );
  r.collect(
    "eth_client_rpc_errors_total",
    "Failed RPC requests and bad messages, by error kind and transport.",
    "counter",
    () => [
      ...Object.entries(stats.errors).map(([kind, n]) =>
        [{ kind, transport: "http" }, n] as [Labels, number]
      ),
      ...Object.entries(ws?.stats.errors ?? {}).map(([kind, n]) =>
        [{ kind, transport: "ws" }, n] as [Labels, number]
      ),
    ],
  );
  r.collect(
    "eth_client_blocks_sent_total",
    "Documents delivered.",
    "counter",
    () => f.sent,
  );
  r.collect(
    "eth_client_blocks_backfilled_total",
    "Of those, blocks sent to fill a gap (not the head itself).",
    "counter",
    () => f.backfilled,
  );
  r.collect(
    "eth_client_blocks_skipped_total",
    "Blocks never sent because a gap exceeded --max-backfill.",
    "counter",
    () => f.skipped,
  );
  r.collect(
    "eth_client_send_failures_total",
    "Documents no server accepted (retried).",
    "counter",
    () => f.sendFailures,
  );
  r.collect(
    "eth_client_stale_heads_total",
    "Heads below one seen before (lagging nodes); never sent.",
    "counter",
    () => f.staleHeads,
  );
  r.collect(
    "eth_client_heads_held_total",
    "Heads held back until a second answer confirmed a large jump.",
    "counter",
    () => guard.stats.held,
  );
  r.collect(
    "eth_client_heads_discarded_total",
    "Held heads the next answer did not confirm.",
    "counter",
    () => guard.stats.discarded,
  );
  r.collect(
    "eth_client_head_block",
    "Highest head seen.",
    "gauge",
    () => Number(f.head ?? -1n),
  );
  r.collect(
    "eth_client_last_sent_block",
    "Last block sent.",
    "gauge",
    () => Number(follower.lastSent ?? -1n),
  );
  r.collect(
    "eth_client_seconds_since_new_head",
    "Seconds since the head last moved.",
    "gauge",
    () => (Date.now() - stats.lastHeadAt) / 1000,
  );
  r.collect(
    "eth_client_stale",
    "1 while no new head came for --stale-after.",
    "gauge",
    () => stats.stale ? 1 : 0,
  );
  if (ws) {
    r.collect(
      "eth_client_ws_connected",
      "1 while a newHeads subscription is live.",
      "gauge",
      () => ws.connected ? 1 : 0,
    );
    r.collect(
      "eth_client_ws_connects_total",
      "newHeads subscriptions established.",
      "counter",
      () => ws.stats.connects,
    );
  }
  return r;
}
