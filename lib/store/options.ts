/**
 * The store options the server and the stats API share (SPEC 1.7, 2): one
 * table per program, built here, and the {@linkcode StoreConfig} they
 * parse to.
 *
 * @module
 */
import {
  ConfigError,
  type Described,
  type Env,
  flag,
  number,
  type Option,
  type OptionValues,
  port,
  text,
} from "../shared/options.ts";

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

/** `ETH_SERVER_MYSQL_HOST` for `--mysql-host` under prefix `ETH_SERVER`. */
export function envName(prefix: string, name: string): string {
  return `${prefix}_${name.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * The store options of a program whose variables start with `prefix`. The
 * stats API also reads the original Flask API's variables, with its
 * defaults (SPEC 1.6).
 */
export function storeOptions(prefix: string, { stats = false } = {}) {
  const e = (name: string, original?: string) => [
    envName(prefix, name),
    ...(stats && original ? [original] : []),
  ];
  // The stats API keeps the Flask API's defaults; the server has none.
  const original = (
    spec: Described,
    value: string,
  ): Option<string | undefined> =>
    stats ? text({ ...spec, default: value }) : text(spec);
  return {
    useRedis: flag({
      name: "use-redis",
      env: e("use-redis"),
      help: "keep hashes and client counts in Redis",
    }),
    redisHost: original({
      name: "redis-host",
      value: "HOST",
      env: e("redis-host", "REDIS_HOST"),
      help: "Redis host",
    }, "localhost"),
    redisPort: port({
      name: "redis-port",
      default: 6379,
      env: e("redis-port", "REDIS_PORT"),
      help: "Redis port",
    }),
    redisDb: number({
      name: "redis-db",
      default: 0,
      max: 65535,
      integer: true,
      env: e("redis-db", "REDIS_DB"),
      help: "Redis database number",
    }),
    redisKeyPrefix: text({
      name: "redis-key-prefix",
      value: "PREFIX",
      env: e("redis-key-prefix"),
      help: "prepended to every Redis key (empty: the originals' keys)",
    }),
    useMysql: flag({
      name: "use-mysql",
      env: e("use-mysql"),
      help: "keep documents in MySQL (table ethereum_data)",
    }),
    mysqlHost: original({
      name: "mysql-host",
      value: "HOST",
      env: e("mysql-host", "MYSQL_HOST"),
      help: "MySQL host",
    }, "localhost"),
    mysqlPort: port({
      name: "mysql-port",
      default: 3306,
      env: e("mysql-port", "MYSQL_PORT"),
      help: "MySQL port",
    }),
    mysqlUser: original({
      name: "mysql-user",
      value: "USER",
      env: e("mysql-user", "MYSQL_USER"),
      help: "MySQL user",
    }, "eth_user"),
    mysqlPass: original({
      name: "mysql-pass",
      value: "PASSWORD",
      env: e("mysql-pass", "MYSQL_PASS"),
      help: "MySQL password (may be empty; never logged)",
    }, "eth_password"),
    mysqlDb: original({
      name: "mysql-db",
      value: "NAME",
      env: e("mysql-db", "MYSQL_DB"),
      help: "MySQL database",
    }, "eth"),
    sqlitePath: text({
      name: "sqlite-path",
      value: "FILE",
      default: "eth.sqlite",
      env: e("sqlite-path"),
      help: "embedded SQLite store, used when neither MySQL nor Redis is",
    }),
    noStore: flag({
      name: "no-store",
      env: e("no-store"),
      help: "store nothing (no SQLite file either)",
    }),
  };
}

/** What {@linkcode storeOptions} parses to. */
export type StoreOptionValues = OptionValues<ReturnType<typeof storeOptions>>;

/**
 * Checks the store options together and names the stores to use. For the
 * stats API (`stats`), the original `MYSQL_HOST`/`REDIS_HOST` alone enable
 * MySQL/Redis, as they did for the Flask API.
 */
export function storeConfig(
  v: StoreOptionValues,
  env: Env,
  { stats = false } = {},
): StoreConfig {
  const useRedis = v.useRedis || (stats && env.REDIS_HOST !== undefined);
  const useMysql = v.useMysql || (stats && env.MYSQL_HOST !== undefined);
  const required = (store: string, name: string, value: string | undefined) => {
    if (value === undefined || value === "") {
      throw new ConfigError(`--use-${store} called without --${name}`);
    }
    return value;
  };
  const store: StoreConfig = {};
  if (v.noStore) {
    if (useRedis || useMysql) {
      throw new ConfigError(
        "--no-store cannot be combined with --use-mysql or --use-redis",
      );
    }
    return store;
  }
  if (useRedis) {
    store.redis = {
      host: required("redis", "redis-host", v.redisHost),
      port: v.redisPort,
      db: v.redisDb,
    };
    if (v.redisKeyPrefix) store.redis.keyPrefix = v.redisKeyPrefix;
  }
  if (useMysql) {
    store.mysql = {
      host: required("mysql", "mysql-host", v.mysqlHost),
      port: v.mysqlPort,
      user: required("mysql", "mysql-user", v.mysqlUser),
      password: v.mysqlPass ?? "",
      database: required("mysql", "mysql-db", v.mysqlDb),
    };
  }
  if (!useRedis && !useMysql) {
    if (v.sqlitePath === "") {
      throw new ConfigError("--sqlite-path must not be empty");
    }
    store.sqlitePath = v.sqlitePath;
  }
  return store;
}
