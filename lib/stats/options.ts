/**
 * The stats API's command line: every option declared once, and the typed
 * {@linkcode StatsConfig} it parses to.
 *
 * @module
 */
import {
  type Command,
  COMMON_OPTIONS,
  type CommonConfig,
  commonConfig,
  type Env,
  list,
  type OptionValues,
  parseOptions,
  port,
  seconds,
  text,
} from "../shared/options.ts";
import {
  type StoreConfig,
  storeConfig,
  storeOptions,
} from "../store/options.ts";

/** Option table of `stats.ts`. */
export const STATS_OPTIONS = {
  host: text({
    name: "host",
    value: "HOST",
    default: "localhost",
    env: ["ETH_STATS_HOST"],
    help: "address to listen on",
  }),
  port: port({
    name: "port",
    default: 8080,
    allowZero: true,
    env: ["ETH_STATS_PORT"],
    help: "HTTP port to listen on",
  }),
  staleAfterMs: seconds({
    name: "stale-after",
    default: 120,
    max: 86400 * 365,
    env: ["ETH_STATS_STALE_AFTER"],
    help: "/readyz fails when no new document arrived for this long (0: never)",
  }),
  cacheTtlMs: seconds({
    name: "cache-ttl",
    default: 1,
    max: 3600,
    env: ["ETH_STATS_CACHE_TTL"],
    help: "serve a computed answer again for this long (0: compute each one)",
  }),
  rpcUrls: list({
    name: "rpc-url",
    value: "URL",
    env: ["ETH_STATS_RPC_URL"],
    help: "http(s) JSON-RPC endpoint: /api/gaps then runs up to the chain " +
      "head (default: none, up to the highest stored block)",
  }),
  template: text({
    name: "template",
    value: "FILE",
    env: ["ETH_STATS_TEMPLATE"],
    help: "template the servers check documents against, to read block " +
      "numbers from the originals' payloads (default: the built-in one)",
  }),
  ...storeOptions("ETH_STATS", { stats: true }),
  ...COMMON_OPTIONS,
};

/** Configuration of `stats.ts`. */
export interface StatsConfig extends CommonConfig {
  host: string;
  port: number;
  store: StoreConfig;
  /** `/readyz` fails when no new document arrived for this long, in ms; 0 never. */
  staleAfterMs: number;
  /** How long a store-backed answer is served again, in ms; 0 never. */
  cacheTtlMs: number;
  /** Endpoints asked for the chain head, for `/api/gaps`; may be empty. */
  rpcUrls: string[];
  /** Template file, or undefined for the built-in one. */
  template?: string;
}

function configure(
  v: OptionValues<typeof STATS_OPTIONS>,
  env: Env,
): StatsConfig {
  return {
    ...commonConfig(v),
    host: v.host,
    port: v.port,
    store: storeConfig(v, env, { stats: true }),
    staleAfterMs: v.staleAfterMs,
    cacheTtlMs: v.cacheTtlMs,
    rpcUrls: v.rpcUrls,
    template: v.template,
  };
}

/** The stats API's command line. */
export const STATS_COMMAND: Command<typeof STATS_OPTIONS, StatsConfig> = {
  name: "stats",
  usage: "deno task stats [options]",
  summary: "Serves the stored documents and client stats over HTTP.",
  options: STATS_OPTIONS,
  configure,
};

/** Parses the stats API's flags and environment (`--help` is not handled). */
export function parseStatsConfig(args: string[], env: Env): StatsConfig {
  return configure(parseOptions(STATS_OPTIONS, args, env), env);
}
