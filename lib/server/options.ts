/**
 * The server's command line: every option declared once, and the typed
 * {@linkcode ServerConfig} it parses to.
 *
 * @module
 */
import {
  type Command,
  COMMON_OPTIONS,
  type CommonConfig,
  commonConfig,
  ConfigError,
  DEFAULT_MAX_FRAME_BYTES,
  type Env,
  flag,
  list,
  number,
  type Option,
  type OptionValues,
  parseOptions,
  port,
  seconds,
  text,
} from "../shared/mod.ts";
import { type StoreConfig, storeConfig, storeOptions } from "../store/mod.ts";
import { parseCidr } from "./cidr.ts";
import { DEFAULT_MAX_CONNECTIONS } from "./ingest.ts";
import { DEFAULT_MAX_CONNECTIONS_PER_IP } from "./admission.ts";
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTION_AGE_MS,
  DEFAULT_STORE_WAIT_MS,
} from "./connection.ts";
import { DEFAULT_STORE_QUEUE_CAPACITY } from "./store_queue.ts";

/** The options of `server.ts`, each with the type of its value. */
export type ServerOptionTable =
  & {
    host: Option<string>;
    port: Option<number>;
    serverId: Option<string | undefined>;
    storeQueueSize: Option<number>;
    spoolDir: Option<string | undefined>;
    spoolMaxBytes: Option<number>;
    storeFlushTimeoutMs: Option<number>;
    storeWaitMs: Option<number>;
    template: Option<string | undefined>;
    acceptAnyPayload: Option<boolean>;
    maxFrameBytes: Option<number>;
    idleTimeoutMs: Option<number>;
    maxConnections: Option<number>;
    maxConnectionsPerIp: Option<number>;
    maxConnectionAgeMs: Option<number>;
    tlsCert: Option<string | undefined>;
    tlsKey: Option<string | undefined>;
    allowFrom: Option<string[]>;
    metricsPort: Option<number>;
  }
  & ReturnType<typeof storeOptions>
  & typeof COMMON_OPTIONS;

/** Option table of `server.ts`. */
export const SERVER_OPTIONS: ServerOptionTable = {
  host: text({
    name: "host",
    value: "HOST",
    default: "localhost",
    env: ["ETH_SERVER_HOST"],
    help: "address to listen on",
  }),
  port: port({
    name: "port",
    default: 9999,
    allowZero: true,
    env: ["ETH_SERVER_PORT"],
    help: "TCP port to listen on",
  }),
  ...storeOptions("ETH_SERVER"),
  serverId: text({
    name: "server-id",
    value: "ID",
    shown: "HOSTNAME:PORT",
    env: ["ETH_SERVER_SERVER_ID"],
    help: "name recorded with each document this server stores first",
  }),
  storeQueueSize: number({
    name: "store-queue-size",
    default: DEFAULT_STORE_QUEUE_CAPACITY,
    min: 1,
    max: 100_000_000,
    integer: true,
    env: ["ETH_SERVER_STORE_QUEUE_SIZE"],
    help: "deprecated, ignored: the spool (--spool-max-bytes) bounds what " +
      "is held, and nothing is dropped",
  }),
  spoolDir: text({
    name: "spool-dir",
    value: "DIR",
    shown: "eth.spool/PORT",
    env: ["ETH_SERVER_SPOOL_DIR"],
    help: "where documents are kept on disk until every store holds them " +
      "(a document is acknowledged once it is here); one server per DIR",
  }),
  spoolMaxBytes: number({
    name: "spool-max-bytes",
    value: "BYTES",
    default: 256 * 1024 * 1024,
    min: 64 * 1024,
    max: 2 ** 50,
    integer: true,
    env: ["ETH_SERVER_SPOOL_MAX_BYTES"],
    help: "largest spool; when full the server stops reading and " +
      "acknowledging until a store catches up",
  }),
  storeFlushTimeoutMs: seconds({
    name: "store-flush-timeout",
    default: 10,
    max: 3600,
    env: ["ETH_SERVER_STORE_FLUSH_TIMEOUT"],
    help: "on shutdown, how long to keep trying to store queued documents",
  }),
  storeWaitMs: seconds({
    name: "store-wait",
    default: DEFAULT_STORE_WAIT_MS / 1000,
    max: 60,
    env: ["ETH_SERVER_STORE_WAIT"],
    help: "how long a connection whose input ended waits for its " +
      "acknowledgements before closing (0: close at once, as the originals)",
  }),
  template: text({
    name: "template",
    value: "FILE",
    env: ["ETH_SERVER_TEMPLATE"],
    help: "template documents must be a rendering of (as the client's)",
  }),
  acceptAnyPayload: flag({
    name: "accept-any-payload",
    env: ["ETH_SERVER_ACCEPT_ANY_PAYLOAD"],
    help: "accept any UTF-8 payload, not only block documents",
  }),
  maxFrameBytes: number({
    name: "max-frame-bytes",
    value: "BYTES",
    default: DEFAULT_MAX_FRAME_BYTES,
    min: 1,
    max: 64 * 1024 * 1024,
    integer: true,
    env: ["ETH_SERVER_MAX_FRAME_BYTES"],
    help: "largest frame accepted; longer declared lengths are refused",
  }),
  idleTimeoutMs: seconds({
    name: "idle-timeout",
    default: DEFAULT_IDLE_TIMEOUT_MS / 1000,
    min: 0.01,
    max: 3600,
    env: ["ETH_SERVER_IDLE_TIMEOUT"],
    help: "close a connection that completes no frame for this long",
  }),
  maxConnections: number({
    name: "max-connections",
    default: DEFAULT_MAX_CONNECTIONS,
    min: 1,
    max: 1_000_000,
    integer: true,
    env: ["ETH_SERVER_MAX_CONNECTIONS"],
    help: "most connections served at once; further peers wait in the " +
      "listen backlog until one closes",
  }),
  maxConnectionsPerIp: number({
    name: "max-connections-per-ip",
    default: DEFAULT_MAX_CONNECTIONS_PER_IP,
    max: 1_000_000,
    integer: true,
    env: ["ETH_SERVER_MAX_CONNECTIONS_PER_IP"],
    help: "most connections open at once from one address; a further one " +
      "is closed unread (0: no limit; the default is half of the default " +
      "--max-connections: lower both together)",
  }),
  maxConnectionAgeMs: seconds({
    name: "max-connection-age",
    default: DEFAULT_MAX_CONNECTION_AGE_MS / 1000,
    max: 86400,
    env: ["ETH_SERVER_MAX_CONNECTION_AGE"],
    help: "close a connection this old after its current frame, so no peer " +
      "keeps a slot for good (0: never)",
  }),
  tlsCert: text({
    name: "tls-cert",
    value: "FILE",
    env: ["ETH_SERVER_TLS_CERT"],
    help: "PEM certificate chain: serve TLS, not plain TCP (needs --tls-key)",
  }),
  tlsKey: text({
    name: "tls-key",
    value: "FILE",
    env: ["ETH_SERVER_TLS_KEY"],
    help: "PEM private key of --tls-cert",
  }),
  allowFrom: list({
    name: "allow-from",
    value: "CIDR",
    env: ["ETH_SERVER_ALLOW_FROM"],
    help: "accept clients only from these networks (default: any)",
  }),
  metricsPort: port({
    name: "metrics-port",
    default: 0,
    allowZero: true,
    env: ["ETH_SERVER_METRICS_PORT"],
    help: "serve /livez, /readyz and /metrics on this port (0: off)",
  }),
  ...COMMON_OPTIONS,
};

/** Configuration of `server.ts`. */
export interface ServerConfig extends CommonConfig {
  /** Address to listen on. */
  host: string;
  /** TCP port to listen on; 0 picks a free one. */
  port: number;
  /** The stores documents go to (none: `--no-store`). */
  store: StoreConfig;
  /** Recorded with each first copy; undefined means `<hostname>:<port>`. */
  serverId?: string;
  /** Deprecated and ignored: the spool bounds what is held. */
  storeQueueSize: number;
  /** The spool's directory; undefined means `eth.spool/<port>`. */
  spoolDir?: string;
  /** The spool's size limit, in bytes. */
  spoolMaxBytes: number;
  /** How long shutdown waits for queued documents to be stored, in ms. */
  storeFlushTimeoutMs: number;
  /** How long a connection whose input ended waits for its answers, in ms. */
  storeWaitMs: number;
  /** Template file documents must be renderings of; undefined: built in. */
  template?: string;
  /** Accept any UTF-8 payload, not only block documents. */
  acceptAnyPayload: boolean;
  /** Largest frame accepted, in bytes. */
  maxFrameBytes: number;
  /** A connection must complete a frame this often, in ms. */
  idleTimeoutMs: number;
  /** Most connections served at once. */
  maxConnections: number;
  /** Most connections open at once from one address; 0 no limit. */
  maxConnectionsPerIp: number;
  /** A connection this old, in ms, is closed after its frame; 0 never. */
  maxConnectionAgeMs: number;
  /** Serve TLS with this PEM certificate chain and key. */
  tls?: { certFile: string; keyFile: string };
  /** Networks (CIDR) peers may connect from; empty allows any. */
  allowFrom: string[];
  /** Port of `/livez`, `/readyz` and `/metrics`; 0 serves none. */
  metricsPort: number;
}

function configure(
  v: OptionValues<typeof SERVER_OPTIONS>,
  env: Env,
): ServerConfig {
  const { tlsCert, tlsKey, serverId } = v;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key must be given together");
  }
  for (const entry of v.allowFrom) {
    try {
      parseCidr(entry);
    } catch (error) {
      throw new ConfigError(`--allow-from ${(error as Error).message}`);
    }
  }
  return {
    ...commonConfig(v),
    host: v.host,
    port: v.port,
    store: storeConfig(v, env),
    serverId: serverId === "HOSTNAME:PORT" ? undefined : serverId,
    storeQueueSize: v.storeQueueSize,
    spoolDir: v.spoolDir === "eth.spool/PORT" ? undefined : v.spoolDir,
    spoolMaxBytes: v.spoolMaxBytes,
    storeFlushTimeoutMs: v.storeFlushTimeoutMs,
    storeWaitMs: v.storeWaitMs,
    template: v.template,
    acceptAnyPayload: v.acceptAnyPayload,
    maxFrameBytes: v.maxFrameBytes,
    idleTimeoutMs: v.idleTimeoutMs,
    maxConnections: v.maxConnections,
    maxConnectionsPerIp: v.maxConnectionsPerIp,
    maxConnectionAgeMs: v.maxConnectionAgeMs,
    tls: tlsCert && tlsKey ? { certFile: tlsCert, keyFile: tlsKey } : undefined,
    allowFrom: v.allowFrom,
    metricsPort: v.metricsPort,
  };
}

/** The server's command line. */
export const SERVER_COMMAND: Command<ServerOptionTable, ServerConfig> = {
  name: "server",
  usage: "deno task server [options]",
  summary:
    "Receives block documents over TCP, prints them and stores the first copy.",
  options: SERVER_OPTIONS,
  configure,
};

/** Parses the server's flags and environment (`--help` is not handled). */
export function parseServerConfig(args: string[], env: Env): ServerConfig {
  return configure(parseOptions(SERVER_OPTIONS, args, env), env);
}
