/**
 * The store options' table: every store flag of the server and the stats
 * API, declared once with its environment variables, default and help.
 * {@linkcode storeConfig} in `options.ts` turns the values into a config.
 *
 * @module
 */
import {
  type Described,
  flag,
  number,
  type Option,
  port,
  text,
} from "../shared/mod.ts";
import { MYSQL_DEFAULT_PORT, REDIS_DEFAULT_PORT } from "./config.ts";

/** The SQLite file when none is given, in the working directory. */
export const DEFAULT_SQLITE_PATH = "eth.sqlite";

/** `ETH_SERVER_MYSQL_HOST` for `--mysql-host` under prefix `ETH_SERVER`. */
export function envName(prefix: string, name: string): string {
  return `${prefix}_${name.toUpperCase().replaceAll("-", "_")}`;
}

/** The store options both programs take. */
export type StoreOptionTable = {
  /** `--use-redis`. */
  useRedis: Option<boolean>;
  /** `--redis-url`. */
  redisUrl: Option<string | undefined>;
  /** `--redis-host`. */
  redisHost: Option<string | undefined>;
  /** `--redis-port`. */
  redisPort: Option<number>;
  /** `--redis-db`. */
  redisDb: Option<number>;
  /** `--redis-user`. */
  redisUser: Option<string | undefined>;
  /** `--redis-pass`. */
  redisPass: Option<string | undefined>;
  /** `--redis-tls`. */
  redisTls: Option<boolean>;
  /** `--redis-ca`. */
  redisCa: Option<string | undefined>;
  /** `--redis-key-prefix`. */
  redisKeyPrefix: Option<string | undefined>;
  /** `--use-mysql`. */
  useMysql: Option<boolean>;
  /** `--mysql-url`. */
  mysqlUrl: Option<string | undefined>;
  /** `--mysql-host`. */
  mysqlHost: Option<string | undefined>;
  /** `--mysql-port`. */
  mysqlPort: Option<number>;
  /** `--mysql-user`. */
  mysqlUser: Option<string | undefined>;
  /** `--mysql-pass`. */
  mysqlPass: Option<string | undefined>;
  /** `--mysql-db`. */
  mysqlDb: Option<string | undefined>;
  /** `--mysql-tls`. */
  mysqlTls: Option<boolean>;
  /** `--mysql-ca`. */
  mysqlCa: Option<string | undefined>;
  /** `--sqlite-path`. */
  sqlitePath: Option<string>;
};

/** The server's store options: the shared ones and `--no-store`. */
export type ServerStoreOptionTable = StoreOptionTable & {
  /** `--no-store`. */
  noStore: Option<boolean>;
};

/** How one program words and names its store options. */
interface Wording {
  /** The program's environment variables, plus the Flask API's for stats. */
  e: (name: string, original?: string) => string[];
  /** A text option with the Flask API's default for stats, none otherwise. */
  original: (spec: Described, value: string) => Option<string | undefined>;
  stats: boolean;
}

function redisOptions({ e, original, stats }: Wording) {
  return {
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
      default: REDIS_DEFAULT_PORT,
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
  };
}

function mysqlOptions({ e, original, stats }: Wording) {
  return {
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
      default: MYSQL_DEFAULT_PORT,
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
  };
}

/**
 * The store options of a program whose variables start with `prefix`, in
 * its words (the server keeps, the stats API reads). The stats API also
 * reads the original Flask API's variables, with its defaults (SPEC 1.6),
 * but it takes no `--no-store`: it has nothing to read then.
 */
export function storeOptions(
  prefix: string,
  options?: { stats?: false },
): ServerStoreOptionTable;
/** The stats API's store options (no `--no-store`). */
export function storeOptions(
  prefix: string,
  options: { stats: true },
): StoreOptionTable;
/** Either program's store options. */
export function storeOptions(
  prefix: string,
  options?: { stats?: boolean },
): StoreOptionTable | ServerStoreOptionTable;
/** Either program's store options. */
export function storeOptions(
  prefix: string,
  { stats = false }: { stats?: boolean } = {},
): StoreOptionTable | ServerStoreOptionTable {
  const wording: Wording = {
    e: (name, original) => [
      envName(prefix, name),
      ...(stats && original ? [original] : []),
    ],
    // The stats API keeps the Flask API's defaults; the server has none.
    original: (spec, value) =>
      stats ? text({ ...spec, default: value }) : text(spec),
    stats,
  };
  const table: StoreOptionTable = {
    ...redisOptions(wording),
    ...mysqlOptions(wording),
    sqlitePath: text({
      name: "sqlite-path",
      value: "FILE",
      default: DEFAULT_SQLITE_PATH,
      env: wording.e("sqlite-path"),
      help: stats
        ? "SQLite file a server wrote, read when neither MySQL nor Redis is"
        : "embedded SQLite store, used when neither MySQL nor Redis is",
    }),
  };
  if (stats) return table;
  const noStore = flag({
    name: "no-store",
    env: wording.e("no-store"),
    help: "store nothing (no SQLite file either)",
  });
  return { ...table, noStore };
}
