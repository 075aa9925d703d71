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
  type Option,
  type OptionValues,
  parseOptions,
  port,
  seconds,
  text,
} from "../shared/mod.ts";
import {
  type StoreConfig,
  storeConfig,
  storeOptions,
  type StoreOptionTable,
} from "../store/mod.ts";
import { DEFAULT_STALE_AFTER_MS } from "./handler.ts";

/** The options of `stats.ts`: its own, the store's and the common ones. */
export type StatsOptionTable =
  & {
    /** `--host`. */
    host: Option<string>;
    /** `--port`. */
    port: Option<number>;
    /** `--stale-after`, in ms. */
    staleAfterMs: Option<number>;
    /** `--cache-ttl`, in ms. */
    cacheTtlMs: Option<number>;
    /** `--rpc-url`. */
    rpcUrls: Option<string[]>;
    /** `--template`. */
    template: Option<string | undefined>;
  }
  & StoreOptionTable
  & typeof COMMON_OPTIONS;

/** Option table of `stats.ts`. */
export const STATS_OPTIONS: StatsOptionTable = {
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
    default: DEFAULT_STALE_AFTER_MS / 1000,
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
  /** Address to listen on. */
  host: string;
  /** HTTP port; 0 picks a free one. */
  port: number;
  /** The stores to read. */
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
export const STATS_COMMAND: Command<StatsOptionTable, StatsConfig> = {
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
