/**
 * The client's command line: every option declared once, and the typed
 * {@linkcode ClientConfig} it parses to.
 *
 * @module
 */
import {
  ACK_MODES,
  type AckMode,
  DEFAULT_ACK_MODE,
  DEFAULT_SEND_TIMEOUT_MS,
  isAckMode,
  type ServerAddress,
} from "./sender.ts";
import { DEFAULT_MAX_BACKFILL } from "./follower.ts";
import { DEFAULT_POLL_INTERVAL_MS, DEFAULT_STALE_AFTER_MS } from "./poller.ts";
import {
  blockNumber,
  type Command,
  COMMON_OPTIONS,
  type CommonConfig,
  commonConfig,
  ConfigError,
  DEFAULT_RPC_COOLDOWN_MS,
  DEFAULT_RPC_TIMEOUT_MS,
  type Env,
  flag,
  list,
  number,
  type Option,
  type OptionValues,
  parseHostPort,
  parseOptions,
  port,
  seconds,
  text,
} from "../shared/mod.ts";

/** Public keyless mainnet endpoints, tried in this order. */
export const DEFAULT_RPC_URLS: readonly string[] = [
  "https://ethereum-rpc.publicnode.com",
  "https://eth.drpc.org",
];

/** The option table of `client.ts`: config field name → option. */
export type ClientOptions = typeof COMMON_OPTIONS & {
  /** `--host`. */
  hosts: Option<string[]>;
  /** `--port`. */
  port: Option<number | undefined>;
  /** `--rpc-url`. */
  rpcUrls: Option<string[]>;
  /** `--interval`, in ms. */
  intervalMs: Option<number>;
  /** `--timeout`, in ms. */
  timeoutMs: Option<number>;
  /** `--ack`, checked against {@linkcode ACK_MODES} by the config. */
  ack: Option<string>;
  /** `--rpc-timeout`, in ms. */
  rpcTimeoutMs: Option<number>;
  /** `--template`. */
  template: Option<string | undefined>;
  /** `--max-backfill`. */
  maxBackfill: Option<number>;
  /** `--from-block`. */
  fromBlock: Option<bigint | undefined>;
  /** `--to-block`. */
  toBlock: Option<bigint | undefined>;
  /** `--fill-gaps`. */
  fillGaps: Option<string | undefined>;
  /** `--state-file`. */
  stateFile: Option<string | undefined>;
  /** `--stale-after`, in ms. */
  staleAfterMs: Option<number>;
  /** `--rpc-cooldown`, in ms. */
  rpcCooldownMs: Option<number>;
  /** `--metrics-port`. */
  metricsPort: Option<number>;
  /** `--tls`. */
  tls: Option<boolean>;
  /** `--tls-ca`. */
  tlsCa: Option<string | undefined>;
};

/** Option table of `client.ts`. */
export const CLIENT_OPTIONS: ClientOptions = {
  hosts: list({
    name: "host",
    value: "HOST[:PORT]",
    env: ["ETH_CLIENT_HOST"],
    help: "server to send documents to (required); several rotate",
  }),
  port: port({
    name: "port",
    env: ["ETH_CLIENT_PORT"],
    help: "server port, for hosts given without one (required)",
  }),
  rpcUrls: list({
    name: "rpc-url",
    value: "URL",
    default: DEFAULT_RPC_URLS,
    env: ["ETH_RPC_URL", "ETH_CLIENT_RPC_URL"],
    help: "Ethereum JSON-RPC endpoint; several fail over in order",
  }),
  intervalMs: seconds({
    name: "interval",
    default: DEFAULT_POLL_INTERVAL_MS / 1000,
    min: 0.01,
    max: 86400,
    env: ["ETH_CLIENT_INTERVAL"],
    help: "poll interval (may be fractional); with ws:// the heartbeat",
  }),
  timeoutMs: seconds({
    name: "timeout",
    default: DEFAULT_SEND_TIMEOUT_MS / 1000,
    min: 0.01,
    max: 600,
    env: ["ETH_CLIENT_TIMEOUT"],
    help: "TCP connect and send timeout",
  }),
  ack: text({
    name: "ack",
    value: "MODE",
    default: DEFAULT_ACK_MODE,
    env: ["ETH_CLIENT_ACK"],
    help: "server acknowledgements: auto (demand ok from servers that " +
      "answer, accept the originals' close), required, off (never read)",
  }),
  rpcTimeoutMs: seconds({
    name: "rpc-timeout",
    default: DEFAULT_RPC_TIMEOUT_MS / 1000,
    min: 0.01,
    max: 600,
    env: ["ETH_CLIENT_RPC_TIMEOUT"],
    help: "JSON-RPC request timeout",
  }),
  template: text({
    name: "template",
    value: "FILE",
    env: ["ETH_CLIENT_TEMPLATE"],
    help: "Eta template of the document (default: templates/block.eta)",
  }),
  maxBackfill: number({
    name: "max-backfill",
    default: DEFAULT_MAX_BACKFILL,
    max: 1_000_000,
    integer: true,
    env: ["ETH_CLIENT_MAX_BACKFILL"],
    help: "most blocks sent when the head jumps; older ones are skipped",
  }),
  fromBlock: blockNumber({
    name: "from-block",
    env: ["ETH_CLIENT_FROM_BLOCK"],
    help:
      "replay: send blocks from N (to --to-block, else the head), then exit",
  }),
  toBlock: blockNumber({
    name: "to-block",
    env: ["ETH_CLIENT_TO_BLOCK"],
    help: "replay: last block to send (needs --from-block)",
  }),
  fillGaps: text({
    name: "fill-gaps",
    value: "STATS_URL",
    env: ["ETH_CLIENT_FILL_GAPS"],
    help: "replay: send the ranges STATS_URL/api/gaps lists, then exit",
  }),
  stateFile: text({
    name: "state-file",
    value: "FILE",
    env: ["ETH_CLIENT_STATE_FILE"],
    help: "checkpoint of the last block sent, to resume after a restart " +
      "(default: none)",
  }),
  staleAfterMs: seconds({
    name: "stale-after",
    default: DEFAULT_STALE_AFTER_MS / 1000,
    min: 0.01,
    max: 86400,
    env: ["ETH_CLIENT_STALE_AFTER"],
    help: "warn and fail /readyz when no new block came for this long",
  }),
  rpcCooldownMs: seconds({
    name: "rpc-cooldown",
    default: DEFAULT_RPC_COOLDOWN_MS / 1000,
    max: 86400,
    env: ["ETH_CLIENT_RPC_COOLDOWN"],
    help: "skip a failed RPC endpoint this long before trying it again " +
      "(ws://: the longest reconnect backoff)",
  }),
  metricsPort: port({
    name: "metrics-port",
    default: 0,
    allowZero: true,
    env: ["ETH_CLIENT_METRICS_PORT"],
    help: "serve /livez, /readyz and /metrics on this port (0: off)",
  }),
  tls: flag({
    name: "tls",
    env: ["ETH_CLIENT_TLS"],
    help: "connect to the servers over TLS, verifying their certificate",
  }),
  tlsCa: text({
    name: "tls-ca",
    value: "FILE",
    env: ["ETH_CLIENT_TLS_CA"],
    help: "PEM CA certificate trusted for the servers (implies --tls; " +
      "default: public roots only)",
  }),
  ...COMMON_OPTIONS,
};

/** Configuration of `client.ts`. */
export interface ClientConfig extends CommonConfig {
  /** Servers to send to, `host:port` pairs, rotated. */
  servers: ServerAddress[];
  /** JSON-RPC endpoints, in order of preference. */
  rpcUrls: string[];
  /** Poll interval in ms. */
  intervalMs: number;
  /** TCP connect/write timeout in ms. */
  timeoutMs: number;
  /** How server acknowledgements are used (SPEC part 3). */
  ack: AckMode;
  /** JSON-RPC request timeout in ms. */
  rpcTimeoutMs: number;
  /** How long a failed RPC endpoint is skipped, in ms. */
  rpcCooldownMs: number;
  /** Most documents sent for one jump of the head. */
  maxBackfill: number;
  /** Replay from this block, then exit (servers keep only first copies). */
  fromBlock?: bigint;
  /** Last block of a replay; undefined: the chain head. */
  toBlock?: bigint;
  /** Replay the gaps a stats API at this URL lists, then exit. */
  fillGaps?: string;
  /** Checkpoint file keeping the last block sent, if any. */
  stateFile?: string;
  /** No new head for this long (ms) is a warning and fails `/readyz`. */
  staleAfterMs: number;
  /** Port of `/livez`, `/readyz` and `/metrics`; 0 serves none. */
  metricsPort: number;
  /** Template file, or undefined for the built-in one. */
  template?: string;
  /** Speak TLS to the servers; `caFile` adds a private CA to trust. */
  tls?: { caFile?: string };
}

function configure(
  v: OptionValues<ClientOptions>,
): ClientConfig {
  const { hosts, port, tls, tlsCa, help: _, ...rest } = v;
  if (hosts.length === 0) {
    throw new ConfigError("Missing required option --host");
  }
  for (const url of v.rpcUrls) {
    let protocol;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new ConfigError(`--rpc-url ${JSON.stringify(url)} is not a URL`);
    }
    if (!["http:", "https:", "ws:", "wss:"].includes(protocol)) {
      throw new ConfigError(
        `--rpc-url ${JSON.stringify(url)} must be http(s):// or ws(s)://`,
      );
    }
  }
  if (v.rpcUrls.length === 0) throw new ConfigError("--rpc-url is empty");
  const ack = v.ack;
  if (!isAckMode(ack)) {
    throw new ConfigError(
      `--ack ${JSON.stringify(ack)} must be ${
        ACK_MODES.slice(0, -1).join(", ")
      } or ${ACK_MODES.at(-1)}`,
    );
  }
  if (v.toBlock !== undefined && v.fromBlock === undefined) {
    throw new ConfigError("--to-block needs --from-block");
  }
  if (
    v.fromBlock !== undefined && v.toBlock !== undefined &&
    v.toBlock < v.fromBlock
  ) {
    throw new ConfigError("--to-block is lower than --from-block");
  }
  if (v.fillGaps !== undefined && v.fromBlock !== undefined) {
    throw new ConfigError("Give --fill-gaps or --from-block, not both");
  }
  return {
    ...rest,
    ...commonConfig(v),
    ack,
    servers: hosts.map((h) => parseHostPort(h, port)),
    tls: tls || tlsCa ? { caFile: tlsCa } : undefined,
  };
}

/** The client's command line. */
export const CLIENT_COMMAND: Command<ClientOptions, ClientConfig> = {
  name: "client",
  usage: "deno task client --host HOST --port PORT [options]",
  summary: "Follows an Ethereum node (polling, or newHeads over ws://) and " +
    "sends a document to a server for every new block, in order.",
  options: CLIENT_OPTIONS,
  configure,
};

/** Parses the client's flags and environment (`--help` is not handled). */
export function parseClientConfig(args: string[], env: Env): ClientConfig {
  return configure(parseOptions(CLIENT_OPTIONS, args, env));
}
