/**
 * Turns flags and environment into the typed, validated configuration of
 * each program. Nothing else in the project reads `Deno.args` or `Deno.env`.
 *
 * @module
 */
import {
  COMMON_OPTIONS,
  ConfigError,
  helpText,
  numberOption,
  type OptionSpec,
  type OptionValues,
  parseOptions,
  portOption,
} from "./shared/options.ts";
import { parseCidr } from "./server/cidr.ts";

export { ConfigError };

/** Public keyless mainnet endpoints, tried in this order. */
export const DEFAULT_RPC_URLS = [
  "https://ethereum-rpc.publicnode.com",
  "https://eth.drpc.org",
];

/** Settings every program shares. */
export interface CommonConfig {
  /** `--help` was asked for: print {@linkcode CommonConfig.helpText} and exit. */
  help: boolean;
  /** The help text of the program. */
  helpText: string;
  /** Debug logging. */
  verbose: boolean;
  /** Seconds to sleep before starting. */
  waitSeconds: number;
}

/** A MySQL connection. */
export interface MysqlConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** A Redis connection. */
export interface RedisConfig {
  host: string;
  port: number;
  db: number;
  /** Prepended to every key (`<prefix>eth:hashes`); unset: the originals' keys. */
  keyPrefix?: string;
}

/**
 * Where documents are kept. With `mysql` and/or `redis` the shared stores
 * are used; otherwise `sqlitePath` names the embedded store; with none of
 * the three nothing is stored (`--no-store`).
 */
export interface StoreConfig {
  mysql?: MysqlConfig;
  redis?: RedisConfig;
  sqlitePath?: string;
}

/** Configuration of `client.ts`. */
export interface ClientConfig extends CommonConfig {
  /** Servers to send to, `host:port` pairs, rotated. */
  servers: { host: string; port: number }[];
  /** JSON-RPC endpoints, in order of preference. */
  rpcUrls: string[];
  /** Poll interval in ms. */
  intervalMs: number;
  /** TCP connect/write timeout in ms. */
  timeoutMs: number;
  /** JSON-RPC request timeout in ms. */
  rpcTimeoutMs: number;
  /** How long a failed RPC endpoint is skipped, in ms. */
  rpcCooldownMs: number;
  /** Most documents sent for one jump of the head. */
  maxBackfill: number;
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

/** Configuration of `server.ts`. */
export interface ServerConfig extends CommonConfig {
  host: string;
  port: number;
  store: StoreConfig;
  /** Recorded with each first copy; undefined means `<hostname>:<port>`. */
  serverId?: string;
  /** Documents held per store while it is unreachable; the oldest go first. */
  storeQueueSize: number;
  /** How long shutdown waits for queued documents to be stored, in ms. */
  storeFlushTimeoutMs: number;
  /** How long a connection is held open until its documents are stored. */
  storeWaitMs: number;
  template?: string;
  acceptAnyPayload: boolean;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxConnections: number;
  /** Serve TLS with this PEM certificate chain and key. */
  tls?: { certFile: string; keyFile: string };
  /** Networks (CIDR) peers may connect from; empty allows any. */
  allowFrom: string[];
  /** Port of `/livez`, `/readyz` and `/metrics`; 0 serves none. */
  metricsPort: number;
}

/** Configuration of `stats.ts`. */
export interface StatsConfig extends CommonConfig {
  host: string;
  port: number;
  store: StoreConfig;
  /** `/readyz` fails when no new document arrived for this long, in ms; 0 never. */
  staleAfterMs: number;
  /** How long a store-backed answer is served again, in ms; 0 never. */
  cacheTtlMs: number;
}

type Env = Record<string, string | undefined>;

function envNames(prefix: string, name: string, extra: string[] = []) {
  return [`${prefix}_${name.toUpperCase().replaceAll("-", "_")}`, ...extra];
}

function storeOptions(prefix: string, stats: boolean): OptionSpec[] {
  const e = (name: string, original?: string) =>
    envNames(prefix, name, stats && original ? [original] : []);
  // The original stats API always used Redis and MySQL, with these defaults.
  const d = (value: string) => stats ? value : undefined;
  return [
    {
      name: "use-redis",
      type: "boolean",
      default: false,
      env: e("use-redis"),
      help: "keep hashes and client counts in Redis",
    },
    {
      name: "redis-host",
      type: "string",
      value: "HOST",
      default: d("localhost"),
      env: e("redis-host", "REDIS_HOST"),
      help: "Redis host",
    },
    {
      name: "redis-port",
      type: "string",
      value: "PORT",
      default: "6379",
      env: e("redis-port", "REDIS_PORT"),
      help: "Redis port",
    },
    {
      name: "redis-db",
      type: "string",
      value: "N",
      default: "0",
      env: e("redis-db", "REDIS_DB"),
      help: "Redis database number",
    },
    {
      name: "redis-key-prefix",
      type: "string",
      value: "PREFIX",
      default: "",
      env: e("redis-key-prefix"),
      help: "prepended to every Redis key (empty: the originals' keys)",
    },
    {
      name: "use-mysql",
      type: "boolean",
      default: false,
      env: e("use-mysql"),
      help: "keep documents in MySQL (table ethereum_data)",
    },
    {
      name: "mysql-host",
      type: "string",
      value: "HOST",
      default: d("localhost"),
      env: e("mysql-host", "MYSQL_HOST"),
      help: "MySQL host",
    },
    {
      name: "mysql-port",
      type: "string",
      value: "PORT",
      default: "3306",
      env: e("mysql-port", "MYSQL_PORT"),
      help: "MySQL port",
    },
    {
      name: "mysql-user",
      type: "string",
      value: "USER",
      default: d("eth_user"),
      env: e("mysql-user", "MYSQL_USER"),
      help: "MySQL user",
    },
    {
      name: "mysql-pass",
      type: "string",
      value: "PASSWORD",
      default: d("eth_password"),
      env: e("mysql-pass", "MYSQL_PASS"),
      help: "MySQL password (may be empty; never logged)",
    },
    {
      name: "mysql-db",
      type: "string",
      value: "NAME",
      default: d("eth"),
      env: e("mysql-db", "MYSQL_DB"),
      help: "MySQL database",
    },
    {
      name: "sqlite-path",
      type: "string",
      value: "FILE",
      default: "eth.sqlite",
      env: e("sqlite-path"),
      help: "embedded SQLite store, used when neither MySQL nor Redis is",
    },
    {
      name: "no-store",
      type: "boolean",
      default: false,
      env: e("no-store"),
      help: "store nothing (no SQLite file either)",
    },
  ];
}

function storeConfig(v: OptionValues, env: Env, stats: boolean): StoreConfig {
  // The original stats API is configured by MYSQL_HOST/REDIS_HOST alone.
  const useRedis = v["use-redis"] === true ||
    (stats && env.REDIS_HOST !== undefined);
  const useMysql = v["use-mysql"] === true ||
    (stats && env.MYSQL_HOST !== undefined);
  const missing = (store: string, name: string) => {
    const value = v[name];
    if (typeof value !== "string" || value === "") {
      throw new ConfigError(`--use-${store} called without --${name}`);
    }
    return value;
  };
  const store: StoreConfig = {};
  if (v["no-store"] === true) {
    if (useRedis || useMysql) {
      throw new ConfigError(
        "--no-store cannot be combined with --use-mysql or --use-redis",
      );
    }
    return store;
  }
  if (useRedis) {
    store.redis = {
      host: missing("redis", "redis-host"),
      port: portOption(v, "redis-port"),
      db: numberOption(v, "redis-db", { min: 0, max: 65535, integer: true }),
    };
    const prefix = v["redis-key-prefix"];
    if (typeof prefix === "string" && prefix !== "") {
      store.redis.keyPrefix = prefix;
    }
  }
  if (useMysql) {
    store.mysql = {
      host: missing("mysql", "mysql-host"),
      port: portOption(v, "mysql-port"),
      user: missing("mysql", "mysql-user"),
      password: typeof v["mysql-pass"] === "string" ? v["mysql-pass"] : "",
      database: missing("mysql", "mysql-db"),
    };
  }
  if (!useRedis && !useMysql) {
    const path = v["sqlite-path"];
    if (typeof path !== "string" || path === "") {
      throw new ConfigError("--sqlite-path must not be empty");
    }
    store.sqlitePath = path;
  }
  return store;
}

/**
 * The configuration returned for `--help`: nothing else was read, and the
 * program prints the help and exits before using any other field.
 */
function helpOnly<C extends CommonConfig>(base: CommonConfig): C {
  return base as C;
}

/**
 * What every parser starts with: the option values and the common fields.
 * The help text is only rendered when `--help` asked for it.
 */
function parseCommon(
  specs: readonly OptionSpec[],
  usage: string,
  summary: string,
  args: string[],
  env: Env,
): { v: OptionValues; base: CommonConfig } {
  const v = parseOptions(specs, args, env);
  const help = v.help === true;
  return {
    v,
    base: {
      help,
      helpText: help ? helpText(usage, summary, specs) : "",
      verbose: v.verbose === true,
      waitSeconds: numberOption(v, "wait", { max: 86400 }),
    },
  };
}

/** Option table of `client.ts`. */
export const CLIENT_OPTIONS: OptionSpec[] = [
  {
    name: "host",
    type: "string",
    multiple: true,
    value: "HOST[:PORT]",
    env: ["ETH_CLIENT_HOST"],
    help: "server to send documents to (required); several rotate",
  },
  {
    name: "port",
    type: "string",
    value: "PORT",
    env: ["ETH_CLIENT_PORT"],
    help: "server port, for hosts given without one (required)",
  },
  {
    name: "rpc-url",
    type: "string",
    multiple: true,
    value: "URL",
    default: DEFAULT_RPC_URLS.join(","),
    env: ["ETH_RPC_URL", "ETH_CLIENT_RPC_URL"],
    help: "Ethereum JSON-RPC endpoint; several fail over in order",
  },
  {
    name: "interval",
    type: "string",
    value: "SECONDS",
    default: "5",
    env: ["ETH_CLIENT_INTERVAL"],
    help: "poll interval (may be fractional); with ws:// the heartbeat",
  },
  {
    name: "timeout",
    type: "string",
    value: "SECONDS",
    default: "1",
    env: ["ETH_CLIENT_TIMEOUT"],
    help: "TCP connect and send timeout",
  },
  {
    name: "rpc-timeout",
    type: "string",
    value: "SECONDS",
    default: "5",
    env: ["ETH_CLIENT_RPC_TIMEOUT"],
    help: "JSON-RPC request timeout",
  },
  {
    name: "template",
    type: "string",
    value: "FILE",
    env: ["ETH_CLIENT_TEMPLATE"],
    help: "Eta template of the document (default: templates/block.eta)",
  },
  {
    name: "max-backfill",
    type: "string",
    value: "N",
    default: "128",
    env: ["ETH_CLIENT_MAX_BACKFILL"],
    help: "most blocks sent when the head jumps; older ones are skipped",
  },
  {
    name: "state-file",
    type: "string",
    value: "FILE",
    default: "",
    env: ["ETH_CLIENT_STATE_FILE"],
    help: "checkpoint of the last block sent, to resume after a restart " +
      "(default: none)",
  },
  {
    name: "stale-after",
    type: "string",
    value: "SECONDS",
    default: "60",
    env: ["ETH_CLIENT_STALE_AFTER"],
    help: "warn and fail /readyz when no new block came for this long",
  },
  {
    name: "rpc-cooldown",
    type: "string",
    value: "SECONDS",
    default: "30",
    env: ["ETH_CLIENT_RPC_COOLDOWN"],
    help: "skip a failed RPC endpoint this long before trying it again " +
      "(ws://: the longest reconnect backoff)",
  },
  {
    name: "metrics-port",
    type: "string",
    value: "PORT",
    default: "0",
    env: ["ETH_CLIENT_METRICS_PORT"],
    help: "serve /livez, /readyz and /metrics on this port (0: off)",
  },
  {
    name: "tls",
    type: "boolean",
    default: false,
    env: ["ETH_CLIENT_TLS"],
    help: "connect to the servers over TLS, verifying their certificate",
  },
  {
    name: "tls-ca",
    type: "string",
    value: "FILE",
    env: ["ETH_CLIENT_TLS_CA"],
    help: "PEM CA certificate trusted for the servers (implies --tls; " +
      "default: public roots only)",
  },
  ...COMMON_OPTIONS,
];

/** Option table of `server.ts`. */
export const SERVER_OPTIONS: OptionSpec[] = [
  {
    name: "host",
    type: "string",
    value: "HOST",
    default: "localhost",
    env: ["ETH_SERVER_HOST"],
    help: "address to listen on",
  },
  {
    name: "port",
    type: "string",
    value: "PORT",
    default: "9999",
    env: ["ETH_SERVER_PORT"],
    help: "TCP port to listen on",
  },
  ...storeOptions("ETH_SERVER", false),
  {
    name: "server-id",
    type: "string",
    value: "ID",
    default: "HOSTNAME:PORT",
    env: ["ETH_SERVER_SERVER_ID"],
    help: "name recorded with each document this server stores first",
  },
  {
    name: "store-queue-size",
    type: "string",
    value: "N",
    default: "100000",
    env: ["ETH_SERVER_STORE_QUEUE_SIZE"],
    help: "documents held per store while it is down; beyond, oldest dropped",
  },
  {
    name: "store-flush-timeout",
    type: "string",
    value: "SECONDS",
    default: "10",
    env: ["ETH_SERVER_STORE_FLUSH_TIMEOUT"],
    help: "on shutdown, how long to keep trying to store queued documents",
  },
  {
    name: "store-wait",
    type: "string",
    value: "SECONDS",
    default: "1",
    env: ["ETH_SERVER_STORE_WAIT"],
    help: "close a connection only once its documents are stored, waiting " +
      "this long at most (0: close at once, as the originals)",
  },
  {
    name: "template",
    type: "string",
    value: "FILE",
    env: ["ETH_SERVER_TEMPLATE"],
    help: "template documents must be a rendering of (as the client's)",
  },
  {
    name: "accept-any-payload",
    type: "boolean",
    default: false,
    env: ["ETH_SERVER_ACCEPT_ANY_PAYLOAD"],
    help: "accept any UTF-8 payload, not only block documents",
  },
  {
    name: "max-frame-bytes",
    type: "string",
    value: "BYTES",
    default: "65536",
    env: ["ETH_SERVER_MAX_FRAME_BYTES"],
    help: "largest frame accepted; longer declared lengths are refused",
  },
  {
    name: "idle-timeout",
    type: "string",
    value: "SECONDS",
    default: "5",
    env: ["ETH_SERVER_IDLE_TIMEOUT"],
    help: "close a connection that completes no frame for this long",
  },
  {
    name: "max-connections",
    type: "string",
    value: "N",
    default: "10000",
    env: ["ETH_SERVER_MAX_CONNECTIONS"],
    help: "most connections served at once; further peers wait in the " +
      "listen backlog until one closes",
  },
  {
    name: "tls-cert",
    type: "string",
    value: "FILE",
    env: ["ETH_SERVER_TLS_CERT"],
    help: "PEM certificate chain: serve TLS, not plain TCP (needs --tls-key)",
  },
  {
    name: "tls-key",
    type: "string",
    value: "FILE",
    env: ["ETH_SERVER_TLS_KEY"],
    help: "PEM private key of --tls-cert",
  },
  {
    name: "allow-from",
    type: "string",
    multiple: true,
    value: "CIDR",
    env: ["ETH_SERVER_ALLOW_FROM"],
    help: "accept clients only from these networks (default: any)",
  },
  {
    name: "metrics-port",
    type: "string",
    value: "PORT",
    default: "0",
    env: ["ETH_SERVER_METRICS_PORT"],
    help: "serve /livez, /readyz and /metrics on this port (0: off)",
  },
  ...COMMON_OPTIONS,
];

/** Option table of `stats.ts`. */
export const STATS_OPTIONS: OptionSpec[] = [
  {
    name: "host",
    type: "string",
    value: "HOST",
    default: "localhost",
    env: ["ETH_STATS_HOST"],
    help: "address to listen on",
  },
  {
    name: "port",
    type: "string",
    value: "PORT",
    default: "8080",
    env: ["ETH_STATS_PORT"],
    help: "HTTP port to listen on",
  },
  {
    name: "stale-after",
    type: "string",
    value: "SECONDS",
    default: "120",
    env: ["ETH_STATS_STALE_AFTER"],
    help: "/readyz fails when no new document arrived for this long (0: never)",
  },
  {
    name: "cache-ttl",
    type: "string",
    value: "SECONDS",
    default: "1",
    env: ["ETH_STATS_CACHE_TTL"],
    help: "serve a computed answer again for this long (0: compute each one)",
  },
  ...storeOptions("ETH_STATS", true),
  ...COMMON_OPTIONS,
];

/** Splits `host[:port]` or `[v6]:port`; the port falls back to `port`. */
export function parseHostPort(
  value: string,
  port: number | undefined,
): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ??
    /^([^:]+)(?::(\d+))?$/.exec(value);
  // A bare IPv6 address has several colons and no brackets.
  const [host, p] = m ? [m[1], m[2]] : [value, undefined];
  const resolved = p !== undefined ? Number(p) : port;
  if (resolved === undefined) {
    throw new ConfigError(`--port is required (or give --host ${host}:PORT)`);
  }
  if (!Number.isInteger(resolved) || resolved < 1 || resolved > 65535) {
    throw new ConfigError(`Port of ${JSON.stringify(value)} is not 1-65535`);
  }
  return { host, port: resolved };
}

/** Parses the client's flags and environment. */
export function parseClientConfig(args: string[], env: Env): ClientConfig {
  const { v, base } = parseCommon(
    CLIENT_OPTIONS,
    "deno task client --host HOST --port PORT [options]",
    "Follows an Ethereum node (polling, or newHeads over ws://) and sends a " +
      "document to a server for every new block, in order.",
    args,
    env,
  );
  if (base.help) return helpOnly(base);
  const hosts = (v.host as string[] | undefined) ?? [];
  if (hosts.length === 0) {
    throw new ConfigError("Missing required option --host");
  }
  const port = v.port === undefined ? undefined : portOption(v, "port");
  const rpcUrls = v["rpc-url"] as string[];
  for (const url of rpcUrls) {
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
  if (rpcUrls.length === 0) throw new ConfigError("--rpc-url is empty");
  return {
    ...base,
    servers: hosts.map((h) => parseHostPort(h, port)),
    rpcUrls,
    intervalMs: numberOption(v, "interval", { min: 0.01, max: 86400 }) * 1000,
    timeoutMs: numberOption(v, "timeout", { min: 0.01, max: 600 }) * 1000,
    rpcTimeoutMs: numberOption(v, "rpc-timeout", { min: 0.01, max: 600 }) *
      1000,
    rpcCooldownMs: numberOption(v, "rpc-cooldown", { min: 0, max: 86400 }) *
      1000,
    maxBackfill: numberOption(v, "max-backfill", {
      min: 0,
      max: 1_000_000,
      integer: true,
    }),
    stateFile: typeof v["state-file"] === "string" && v["state-file"] !== ""
      ? v["state-file"]
      : undefined,
    staleAfterMs: numberOption(v, "stale-after", { min: 0.01, max: 86400 }) *
      1000,
    metricsPort: portOption(v, "metrics-port", true),
    template: v.template as string | undefined,
    tls: clientTls(v),
  };
}

function clientTls(v: OptionValues): ClientConfig["tls"] {
  const ca = v["tls-ca"];
  const caFile = typeof ca === "string" && ca !== "" ? ca : undefined;
  return v.tls === true || caFile ? { caFile } : undefined;
}

function serverTls(v: OptionValues): ServerConfig["tls"] {
  const cert = typeof v["tls-cert"] === "string" ? v["tls-cert"] : "";
  const key = typeof v["tls-key"] === "string" ? v["tls-key"] : "";
  if (cert === "" && key === "") return undefined;
  if (cert === "" || key === "") {
    throw new ConfigError("--tls-cert and --tls-key must be given together");
  }
  return { certFile: cert, keyFile: key };
}

function allowFrom(v: OptionValues): string[] {
  const list = (v["allow-from"] as string[] | undefined) ?? [];
  for (const entry of list) {
    try {
      parseCidr(entry);
    } catch (error) {
      throw new ConfigError(`--allow-from ${(error as Error).message}`);
    }
  }
  return list;
}

/** Parses the server's flags and environment. */
export function parseServerConfig(args: string[], env: Env): ServerConfig {
  const { v, base } = parseCommon(
    SERVER_OPTIONS,
    "deno task server [options]",
    "Receives block documents over TCP, prints them and stores the first copy.",
    args,
    env,
  );
  if (base.help) return helpOnly(base);
  return {
    ...base,
    host: v.host as string,
    port: portOption(v, "port", true),
    store: storeConfig(v, env, false),
    serverId: v["server-id"] === "HOSTNAME:PORT" || v["server-id"] === ""
      ? undefined
      : v["server-id"] as string,
    storeQueueSize: numberOption(v, "store-queue-size", {
      min: 1,
      max: 100_000_000,
      integer: true,
    }),
    storeFlushTimeoutMs:
      numberOption(v, "store-flush-timeout", { min: 0, max: 3600 }) * 1000,
    storeWaitMs: numberOption(v, "store-wait", { min: 0, max: 60 }) * 1000,
    template: v.template as string | undefined,
    acceptAnyPayload: v["accept-any-payload"] === true,
    maxFrameBytes: numberOption(v, "max-frame-bytes", {
      min: 1,
      max: 64 * 1024 * 1024,
      integer: true,
    }),
    idleTimeoutMs: numberOption(v, "idle-timeout", { min: 0.01, max: 3600 }) *
      1000,
    maxConnections: numberOption(v, "max-connections", {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
    tls: serverTls(v),
    allowFrom: allowFrom(v),
    metricsPort: portOption(v, "metrics-port", true),
  };
}

/** Parses the stats API's flags and environment. */
export function parseStatsConfig(args: string[], env: Env): StatsConfig {
  const { v, base } = parseCommon(
    STATS_OPTIONS,
    "deno task stats [options]",
    "Serves the stored documents and client stats over HTTP.",
    args,
    env,
  );
  if (base.help) return helpOnly(base);
  return {
    ...base,
    host: v.host as string,
    port: portOption(v, "port", true),
    store: storeConfig(v, env, true),
    staleAfterMs: numberOption(v, "stale-after", { max: 86400 * 365 }) * 1000,
    cacheTtlMs: numberOption(v, "cache-ttl", { max: 3600 }) * 1000,
  };
}

/** Configuration of `scripts/devnet.ts`. */
export interface DevnetConfig extends CommonConfig {
  host: string;
  port: number;
  /** Seconds between blocks; 0 mines only on transactions and `anvil_mine`. */
  blockTime: number;
  /** File the chain is saved to on exit and loaded from on start. */
  stateFile?: string;
}

/** Option table of `scripts/devnet.ts`. */
export const DEVNET_OPTIONS: OptionSpec[] = [
  {
    name: "host",
    type: "string",
    value: "HOST",
    default: "127.0.0.1",
    env: ["ETH_DEVNET_HOST"],
    help: "address anvil listens on",
  },
  {
    name: "port",
    type: "string",
    value: "PORT",
    default: "8545",
    env: ["ETH_DEVNET_PORT"],
    help: "JSON-RPC port (HTTP and WebSocket)",
  },
  {
    name: "block-time",
    type: "string",
    value: "SECONDS",
    default: "2",
    env: ["ETH_DEVNET_BLOCK_TIME"],
    help: "mine a block this often (may be fractional; 0: only on demand)",
  },
  {
    name: "state",
    type: "string",
    value: "FILE",
    default: "",
    env: ["ETH_DEVNET_STATE"],
    help: "keep the chain in this file across restarts (default: none)",
  },
  ...COMMON_OPTIONS,
];

/** Parses the devnet script's flags and environment. */
export function parseDevnetConfig(args: string[], env: Env): DevnetConfig {
  const { v, base } = parseCommon(
    DEVNET_OPTIONS,
    "deno task devnet [options]",
    "Runs a local anvil chain and prints the ETH_RPC_URL to use.",
    args,
    env,
  );
  if (base.help) return helpOnly(base);
  const state = v.state;
  return {
    ...base,
    host: v.host as string,
    port: portOption(v, "port"),
    blockTime: numberOption(v, "block-time", { min: 0, max: 86400 }),
    stateFile: typeof state === "string" && state !== "" ? state : undefined,
  };
}
