/**
 * The client program, wired from its parts: head sources (a newHeads
 * subscription on ws:// endpoints, polling of http:// ones), a guard against
 * absurd heads, a follower that sends every new block in order with a
 * checkpoint, rotation over several servers, and health/metrics.
 *
 * @module
 */
import {
  CheckpointError,
  probeCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from "./checkpoint.ts";
import {
  BlockTemplate,
  ConfigError,
  formatHostPort,
  type Logger,
  Registry,
  serveHealth,
} from "../shared/mod.ts";
import type { ClientConfig } from "./options.ts";
import { BlockFollower } from "./follower.ts";
import { HeadGuard } from "./head_guard.ts";
import { type AckStats, clientMetrics, newAckStats } from "./client_metrics.ts";
import { HeadSources } from "./head_sources.ts";
import {
  newPollerStats,
  type PollerStats,
  pollHeads,
  recordHead,
  staleReason,
} from "./poller.ts";
import { DocumentRefusedError, type SendTlsOptions } from "./sender.ts";
import { createRotatingSender, type SentTo } from "./rotating_sender.ts";
import { AnswerMemory } from "./answer_memory.ts";
import { fetchGaps, type ReplayRange, replayRanges } from "./replay.ts";

/** What {@linkcode runClient} runs with (a program's main context). */
export interface ClientContext {
  /** The parsed configuration. */
  config: ClientConfig;
  /** Where to log. */
  log: Logger;
  /** Stops the client (the first SIGINT or SIGTERM). */
  signal: AbortSignal;
}

/** The rotating sender with its counters, shared with the metrics. */
interface Sending {
  send: (payload: string) => Promise<SentTo>;
  acks: AckStats;
  answered: AnswerMemory;
  registry: Registry;
}

/** Runs the client until `signal` aborts. */
export async function runClient(context: ClientContext): Promise<void> {
  const { config, log, signal } = context;
  const template = await BlockTemplate.load(config.template);
  const lastSent = await loadCheckpoint(config.stateFile);
  const sending = await createSending(config, log);
  log.info(
    `Sending to ${config.servers.map(formatHostPort).join(", ")}`,
    { template: config.template ?? "built in" },
  );
  if (config.fromBlock !== undefined || config.fillGaps !== undefined) {
    await replay(config, {
      log,
      signal,
      send: async (block) => {
        await sending.send(template.render(block));
      },
      head: () => fetchReplayHead(config, { log, signal }),
    });
    return;
  }
  const { stateFile } = config;
  const follower = new BlockFollower({
    log,
    lastSent,
    maxBackfill: config.maxBackfill,
    signal,
    send: (block) => sendBlock(sending, template.render(block), block, log),
    onSent: stateFile
      ? (block) => writeCheckpoint(stateFile, block)
      : undefined,
  });
  if (lastSent !== undefined) {
    log.info(`Resuming after block ${lastSent} (from ${stateFile})`);
  }
  await follow(context, follower, sending);
}

/**
 * The rotating sender over `--host`, counting each attempt by its answer.
 * No abort signal: a document in flight at shutdown is finished (within
 * --timeout) rather than cut off after the server may have printed it.
 */
async function createSending(
  config: ClientConfig,
  log: Logger,
): Promise<Sending> {
  const acks = newAckStats();
  const answered = new AnswerMemory({ log });
  const registry = new Registry();
  const ackLatency = registry.histogram(
    "eth_client_ack_seconds",
    "From connecting to a server to its answer (or close), per attempt.",
  );
  const send = createRotatingSender(config.servers, {
    timeoutMs: config.timeoutMs,
    log,
    tls: await loadClientTls(config.tls),
    ack: config.ack,
    answered,
    onResult: (result, ms) => {
      acks[result]++;
      ackLatency.observe(ms / 1000, { result });
    },
  });
  return { send, acks, answered, registry };
}

/** The follower's send: a refused document is final, anything else retried. */
async function sendBlock(
  sending: Sending,
  payload: string,
  block: bigint,
  log: Logger,
): Promise<void> {
  try {
    const { server, delivery } = await sending.send(payload);
    if (delivery === "close") {
      log.debug(
        `${
          formatHostPort(server)
        } closed without answering (an original server)`,
      );
    }
    log.debug(`Block ${block} sent to ${formatHostPort(server)}`);
  } catch (error) {
    // Final: every server would refuse it, so it is not retried.
    if (!(error instanceof DocumentRefusedError)) throw error;
    log.error(`Block ${block} not stored: ${error.message}`);
  }
}

/** Follows the chain head until `signal` aborts, serving metrics meanwhile. */
async function follow(
  { config, log, signal }: ClientContext,
  follower: BlockFollower,
  sending: Sending,
): Promise<void> {
  const stats = newPollerStats();
  const guard = new HeadGuard({ log });
  const onHead = (head: bigint): Promise<boolean> => {
    const believed = guard.check(head);
    // false: ask again soon, so a held head is confirmed or dropped.
    if (believed === undefined) return Promise.resolve(false);
    recordHead(stats, believed, { log });
    return follower.advance(believed);
  };
  const sources = new HeadSources(config.rpcUrls, {
    timeoutMs: config.rpcTimeoutMs,
    cooldownMs: config.rpcCooldownMs,
    onHead,
    signal,
    log,
  });
  const metrics = serveMetrics({ config, log, signal }, {
    registry: clientMetrics({
      stats,
      follower,
      guard,
      ws: sources.ws,
      acks: sending.acks,
      answers: sending.answered.stats,
      registry: sending.registry,
    }),
    stats,
  });
  log.info(sources.describe(config.intervalMs));
  const subscribing = sources.run();
  try {
    await sources.firstAttempt();
    await pollHeads({
      fetchHead: sources.fetchHead,
      onHead,
      intervalMs: config.intervalMs,
      staleAfterMs: config.staleAfterMs,
      onStale: (reason) => sources.leaveStale(reason),
      recordHeads: false,
      sleep: sources.sleep,
      stats,
      signal,
      log,
    });
  } finally {
    await subscribing;
    await follower.idle();
    await metrics?.finished;
  }
}

/** Serves `--metrics-port`, if set; a port that cannot be bound stops. */
function serveMetrics(
  { config, log, signal }: ClientContext,
  { registry, stats }: { registry: Registry; stats: PollerStats },
): Deno.HttpServer | undefined {
  if (config.metricsPort === 0) return undefined;
  try {
    return serveHealth({
      port: config.metricsPort,
      registry,
      signal,
      notReady: () => staleReason(stats, config.staleAfterMs),
      onListen: ({ port }) => log.info(`Metrics on port ${port}`),
    });
  } catch (error) {
    throw new ConfigError(
      `Cannot serve --metrics-port ${config.metricsPort}: ${
        (error as Error).message
      }`,
    );
  }
}

/** The head a replay without `--to-block` runs to. */
async function fetchReplayHead(
  config: ClientConfig,
  { log, signal }: { log: Logger; signal: AbortSignal },
): Promise<bigint> {
  const sources = new HeadSources(config.rpcUrls, {
    timeoutMs: config.rpcTimeoutMs,
    cooldownMs: config.rpcCooldownMs,
    onHead: () => Promise.resolve(true),
    signal,
    log,
  });
  const head = await sources.fetchHead(signal);
  if (head === undefined) {
    throw new ConfigError(
      "--from-block without --to-block needs an endpoint for the head",
    );
  }
  return head;
}

/** Reads `--state-file`; an unreadable or corrupt one stops the client. */
async function loadCheckpoint(
  path: string | undefined,
): Promise<bigint | undefined> {
  if (path === undefined) return undefined;
  try {
    const lastSent = await readCheckpoint(path);
    await probeCheckpoint(path);
    return lastSent;
  } catch (error) {
    if (error instanceof CheckpointError) throw new ConfigError(error.message);
    throw error;
  }
}

/** Reads the CA file of `--tls-ca`, if any; unreadable is a ConfigError. */
async function loadClientTls(
  tls: ClientConfig["tls"],
): Promise<SendTlsOptions | undefined> {
  if (tls === undefined) return undefined;
  if (tls.caFile === undefined) return {};
  try {
    return { caCerts: [await Deno.readTextFile(tls.caFile)] };
  } catch (error) {
    throw new ConfigError(
      `Cannot read --tls-ca ${tls.caFile}: ${(error as Error).message}`,
    );
  }
}

/** Replays `--from-block`/`--to-block` or `--fill-gaps`, then returns. */
async function replay(
  config: ClientConfig,
  { log, signal, send, head }: {
    log: Logger;
    signal: AbortSignal;
    send: (block: bigint) => Promise<void>;
    head: () => Promise<bigint>;
  },
): Promise<void> {
  let ranges: ReplayRange[];
  if (config.fillGaps !== undefined) {
    const gaps = await fetchGaps(config.fillGaps);
    ranges = gaps.ranges;
    log.info(
      `${config.fillGaps} lists ${ranges.length} missing ranges${
        gaps.truncated ? " (the first 10,000: run again for the rest)" : ""
      }`,
    );
  } else {
    const from = config.fromBlock!;
    ranges = [{ from, to: config.toBlock ?? await head() }];
  }
  const sent = await replayRanges(ranges, { send, log, signal });
  log.info(`Replay done: ${sent} blocks sent`, { blocks: sent });
}
