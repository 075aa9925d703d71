/**
 * The client program, wired from its parts: an RPC client, a follower that
 * sends every new block in order, and the poll loop.
 *
 * @module
 */
import { ConfigError } from "./cli.ts";
import type { ClientConfig } from "./config.ts";
import { BlockFollower } from "./follower.ts";
import { HeadGuard } from "./head_guard.ts";
import type { MainContext } from "./main.ts";
import { pollHeads } from "./poller.ts";
import { redactUrl, RpcClient } from "./rpc.ts";
import {
  formatServer,
  sendDocument,
  type SendTlsOptions,
  type ServerAddress,
} from "./sender.ts";
import { BlockTemplate } from "./template.ts";
import type { Logger } from "./log.ts";

/** Options for {@linkcode createRotatingSender}. */
export interface RotatingSenderOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  log?: Logger;
  /** Speak TLS to every server. */
  tls?: SendTlsOptions;
}

/**
 * Returns a function that sends a payload to the next server in turn; when a
 * server fails, the following ones are tried for the same payload (as DNS
 * round-robin did for the originals). It throws the last error when every
 * server failed.
 */
export function createRotatingSender(
  servers: readonly ServerAddress[],
  options: RotatingSenderOptions,
): (payload: string) => Promise<ServerAddress> {
  let next = 0;
  return async (payload) => {
    let last: unknown;
    for (let k = 0; k < servers.length; k++) {
      const i = (next + k) % servers.length;
      try {
        await sendDocument(servers[i], payload, options);
        next = (i + 1) % servers.length;
        return servers[i];
      } catch (error) {
        last = error;
        if (servers.length > 1) {
          options.log?.debug(
            `${(error as Error).message}; trying the next server`,
          );
        }
      }
    }
    throw last;
  };
}

/** Runs the client until `signal` aborts. */
export async function runClient(
  { config, log, signal }: MainContext<ClientConfig>,
): Promise<void> {
  const template = await BlockTemplate.load(config.template);
  const ws = config.rpcUrls.filter((u) => /^wss?:/i.test(u));
  if (ws.length > 0) {
    throw new ConfigError(
      `--rpc-url ${ws[0]}: WebSocket endpoints are not supported yet`,
    );
  }
  const rpc = new RpcClient(config.rpcUrls, {
    timeoutMs: config.rpcTimeoutMs,
    onSwitch: (url, previous) => {
      const line = `Using RPC endpoint ${redactUrl(url)}`;
      if (previous === undefined) log.info(line);
      else log.warn(`${line} (was ${redactUrl(previous)})`);
    },
  });
  const send = createRotatingSender(config.servers, {
    timeoutMs: config.timeoutMs,
    signal,
    log,
    tls: await loadClientTls(config.tls),
  });
  const guard = new HeadGuard({ log });
  const follower = new BlockFollower({
    log,
    send: async (block) => {
      const server = await send(template.render(block));
      log.debug(`Block ${block} sent to ${formatServer(server)}`);
    },
  });
  log.info(
    `Polling ${config.rpcUrls.map(redactUrl).join(", ")} every ${
      config.intervalMs / 1000
    } s`,
  );
  await pollHeads({
    fetchHead: (s) => rpc.blockNumber(s),
    onHead: (head) => {
      const believed = guard.check(head);
      // false: poll again soon, so a held head is confirmed or dropped.
      return believed === undefined
        ? Promise.resolve(false)
        : follower.advance(believed);
    },
    intervalMs: config.intervalMs,
    signal,
    log,
  });
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
