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
  for (
    const [name, help, type, read] of followerMetrics(
      stats,
      follower,
      guard,
      ws,
    )
  ) {
    r.collect(name, help, type, read);
  }
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

/** One metric family: name, help, type and how to read it. */
type Family = [
  string,
  string,
  "counter" | "gauge",
  () => Iterable<[Labels, number]> | number,
];

/** The families of the head sources, the follower and the guard, in order. */
function followerMetrics(
  stats: PollerStats,
  follower: BlockFollower,
  guard: HeadGuard,
  ws: WsHeads | undefined,
): Family[] {
  const f = follower.stats;
  const errors = (transport: string, counts: Record<string, number>) =>
    Object.entries(counts).map(([kind, n]) =>
      [{ kind, transport }, n] as [Labels, number]
    );
  return [
    [
      "eth_client_polls_total",
      "Head polls made.",
      "counter",
      () => stats.polls,
    ],
    [
      "eth_client_rpc_errors_total",
      "Failed RPC requests and bad messages, by error kind and transport.",
      "counter",
      () => [
        ...errors("http", stats.errors),
        ...errors("ws", ws?.stats.errors ?? {}),
      ],
    ],
    ...followCounters(follower, guard).map((
      [name, help, read],
    ): Family => [`eth_client_${name}_total`, help, "counter", read]),
    [
      "eth_client_head_block",
      "Highest head seen.",
      "gauge",
      () => Number(f.head ?? -1n),
    ],
    [
      "eth_client_last_sent_block",
      "Last block sent.",
      "gauge",
      () => Number(follower.lastSent ?? -1n),
    ],
    [
      "eth_client_seconds_since_new_head",
      "Seconds since the head last moved.",
      "gauge",
      () => (Date.now() - stats.lastHeadAt) / 1000,
    ],
    [
      "eth_client_stale",
      "1 while no new head came for --stale-after.",
      "gauge",
      () => stats.stale ? 1 : 0,
    ],
  ];
}

/** The follower's and the guard's counters: name (within `eth_client_*_total`), help, read. */
function followCounters(
  follower: BlockFollower,
  guard: HeadGuard,
): [string, string, () => number][] {
  const f = follower.stats;
  return [
    ["blocks_sent", "Documents delivered.", () => f.sent],
    [
      "blocks_backfilled",
      "Of those, blocks sent to fill a gap (not the head itself).",
      () => f.backfilled,
    ],
    [
      "blocks_skipped",
      "Blocks never sent because a gap exceeded --max-backfill.",
      () => f.skipped,
    ],
    [
      "send_failures",
      "Documents no server accepted (retried).",
      () => f.sendFailures,
    ],
    [
      "stale_heads",
      "Heads below one seen before (lagging nodes); never sent.",
      () => f.staleHeads,
    ],
    [
      "heads_held",
      "Heads held back until a second answer confirmed a large jump.",
      () => guard.stats.held,
    ],
    [
      "heads_discarded",
      "Held heads the next answer did not confirm.",
      () => guard.stats.discarded,
    ],
  ];
}
