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
import { ConfigError } from "../shared/options.ts";
import { type ClientConfig } from "./options.ts";
import { BlockFollower } from "./follower.ts";
import { HeadGuard } from "./head_guard.ts";
import type { MainContext } from "../shared/run_main.ts";
import { clientMetrics, newAckStats } from "./client_metrics.ts";
import { Registry, serveHealth } from "../shared/metrics.ts";
import { isStale, newPollerStats, pollHeads, recordHead } from "./poller.ts";
import { abortableSleep } from "../shared/async.ts";
import { redactUrl, RpcClient } from "./rpc.ts";
import {
  createRotatingSender,
  DocumentRefusedError,
  formatServer,
  type SendTlsOptions,
} from "./sender.ts";
import { BlockTemplate } from "../shared/template.ts";
import { WsHeads } from "./ws_heads.ts";

/** Runs the client until `signal` aborts. */
export async function runClient(
  { config, log, signal }: MainContext<ClientConfig>,
): Promise<void> {
  const template = await BlockTemplate.load(config.template);
  const wsUrls = config.rpcUrls.filter((u) => /^wss?:/i.test(u));
  const httpUrls = config.rpcUrls.filter((u) => !/^wss?:/i.test(u));
  const lastSent = await loadCheckpoint(config.stateFile);
  const stats = newPollerStats();
  const rpc = httpUrls.length > 0
    ? new RpcClient(httpUrls, {
      timeoutMs: config.rpcTimeoutMs,
      cooldownMs: config.rpcCooldownMs,
    })
    : undefined;
  // No abort signal: a document in flight at shutdown is finished (within
  // --timeout) rather than cut off after the server may have printed it.
  const acks = newAckStats();
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
    onResult: (result, ms) => {
      acks[result]++;
      ackLatency.observe(ms / 1000, { result });
    },
  });
  const { stateFile } = config;
  const follower = new BlockFollower({
    log,
    lastSent,
    maxBackfill: config.maxBackfill,
    signal,
    send: async (block) => {
      try {
        const { server, delivery } = await send(template.render(block));
        if (delivery === "close") {
          log.debug(
            `${
              formatServer(server)
            } closed without answering (an original server)`,
          );
        }
        log.debug(`Block ${block} sent to ${formatServer(server)}`);
      } catch (error) {
        // Final: every server would refuse it, so it is not retried.
        if (!(error instanceof DocumentRefusedError)) throw error;
        log.error(`Block ${block} not stored: ${error.message}`);
      }
    },
    onSent: stateFile
      ? (block) => writeCheckpoint(stateFile, block)
      : undefined,
  });
  if (lastSent !== undefined) {
    log.info(`Resuming after block ${lastSent} (from ${stateFile})`);
  }
  const guard = new HeadGuard({ log });
  const onHead = (head: bigint): Promise<boolean> => {
    const believed = guard.check(head);
    // false: ask again soon, so a held head is confirmed or dropped.
    if (believed === undefined) return Promise.resolve(false);
    recordHead(stats, believed, { log });
    return follower.advance(believed);
  };
  let using: string | undefined;
  const use = (url: string) => {
    if (url === using) return;
    const line = `Using RPC endpoint ${redactUrl(url)}`;
    if (using === undefined) log.info(line);
    else log.warn(`${line} (was ${redactUrl(using)})`);
    using = url;
  };
  const ws = wsUrls.length > 0
    ? new WsHeads(wsUrls, {
      signal,
      timeoutMs: config.rpcTimeoutMs,
      cooldownMs: config.rpcCooldownMs,
      log,
      onHead: (head, url) => {
        use(url);
        // Unfinished (a held head, a failed send): the poll loop asks again
        // now over the socket and retries with its backoff.
        onHead(head).then(
          (done) => done || wake(),
          (error) =>
            log.error(`Handling head ${head}: ${(error as Error).message}`),
        );
      },
    })
    : undefined;
  let wake = () => {};
  const sleep = (ms: number, s: AbortSignal) => {
    const early = new AbortController();
    wake = () => early.abort();
    return abortableSleep(ms, AbortSignal.any([s, early.signal]));
  };
  const fetchHead = async (s: AbortSignal): Promise<bigint | undefined> => {
    if (ws?.connected) {
      const url = ws.current!;
      try {
        const head = await ws.blockNumber(s);
        use(url);
        return head;
      } catch (error) {
        // Counted and logged by WsHeads; HTTP, if any, answers this poll.
        if (s.aborted || !rpc) return undefined;
        log.debug(`${(error as Error).message}; polling HTTP instead`);
      }
    }
    if (!rpc) return undefined;
    const head = await rpc.blockNumber(s);
    use(rpc.current!);
    return head;
  };
  const staleFor = () => Math.round((Date.now() - stats.lastHeadAt) / 1000);
  const onStale = () => {
    // A node whose head stopped moving is left for another, if there is one.
    const reason = `no new block for ${staleFor()} s`;
    if (ws?.connected) {
      if (ws.endpoints.length > 1 || rpc) ws.markDown(reason);
    } else if (rpc && rpc.endpoints.length > 1 && rpc.current) {
      rpc.markDown(rpc.current);
      log.warn(
        `Leaving ${redactUrl(rpc.current)} for ${
          config.rpcCooldownMs / 1000
        } s: ${reason}`,
      );
    }
  };
  let metrics: Deno.HttpServer | undefined;
  if (config.metricsPort > 0) {
    try {
      metrics = serveHealth({
        port: config.metricsPort,
        registry: clientMetrics({ stats, follower, guard, ws, acks, registry }),
        signal,
        notReady: () =>
          isStale(stats, config.staleAfterMs)
            ? `no new block for ${staleFor()} s (head ${
              stats.head ?? "unknown"
            })`
            : undefined,
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
  log.info(describeSources(wsUrls, httpUrls, config.intervalMs));
  const subscribing = ws?.run();
  try {
    await ws?.firstAttempt;
    await pollHeads({
      fetchHead,
      onHead,
      intervalMs: config.intervalMs,
      staleAfterMs: config.staleAfterMs,
      onStale,
      recordHeads: false,
      sleep,
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

function describeSources(ws: string[], http: string[], intervalMs: number) {
  const every = `every ${intervalMs / 1000} s`;
  const list = (urls: string[]) => urls.map(redactUrl).join(", ");
  if (ws.length === 0) return `Polling ${list(http)} ${every}`;
  const subscribe = `Subscribing to newHeads on ${list(ws)}`;
  return http.length === 0
    ? `${subscribe}, with eth_blockNumber over the socket ${every}`
    : `${subscribe}; polling ${list(http)} ${every} while no socket is up`;
}

/** Reads `--state-file`; an unreadable or corrupt one stops the client. */
async function loadCheckpoint(path: string | undefined) {
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
