/**
 * The store URL options: `--redis-url` and `--mysql-url`, each parsed to the
 * parts of a connection it names. A URL may hold a password: no error
 * message ever quotes it.
 *
 * @module
 */
import { ConfigError } from "../shared/mod.ts";
import { MYSQL_DEFAULT_PORT, REDIS_DEFAULT_PORT } from "./config.ts";

/** What `--redis-url` names. */
export interface RedisUrlParts {
  /** Host name or address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
  /** Database number; 0 when the URL has no path. */
  db: number;
  /** ACL user, when named. */
  username: string | undefined;
  /** AUTH password, when given. */
  password: string | undefined;
  /** `rediss://`: connect over TLS. */
  tls: boolean;
}

/** What `--mysql-url` names. */
export interface MysqlUrlParts {
  /** Host name or address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
  /** User name. */
  user: string;
  /** Password; `""` when none. */
  password: string;
  /** Database name. */
  database: string;
  /** `ssl=true` (or a CA): connect over TLS. */
  tls: boolean;
  /** `ssl-ca=FILE`, or `rds` for the Amazon RDS bundle. */
  ca: string | undefined;
}

/** Options for {@linkcode parseRedisUrl} and {@linkcode parseMysqlUrl}. */
export interface ParseUrlOptions {
  /**
   * Called once the text is known to be a URL of the right scheme with a
   * host, before its parts are checked: the caller refuses separate
   * settings the URL replaces there, so that error comes first.
   */
  checked?: () => void;
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

/**
 * `redis[s]://[user[:pass]@]host[:port][/db]`, as ioredis and redis-cli.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRedisUrl } from "./url.ts";
 * assert.equal(parseRedisUrl("rediss://cache:6380/2").db, 2);
 * ```
 */
export function parseRedisUrl(
  raw: string,
  { checked }: ParseUrlOptions = {},
): RedisUrlParts {
  const flag = "--redis-url";
  const url = parseUrl(flag, raw, ["redis:", "rediss:"]);
  checked?.();
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
    port: urlPort(url, REDIS_DEFAULT_PORT),
    db,
    username,
    password,
    tls: url.protocol === "rediss:",
  };
}

/**
 * `mysql://user[:pass]@host[:port]/db[?ssl=true|false|rds][&ssl-ca=FILE]`;
 * `ssl=rds` is `ssl=true&ssl-ca=rds` (the Amazon RDS bundle).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMysqlUrl } from "./url.ts";
 * assert.equal(parseMysqlUrl("mysql://eth_user@db/eth?ssl=rds").ca, "rds");
 * ```
 */
export function parseMysqlUrl(
  raw: string,
  { checked }: ParseUrlOptions = {},
): MysqlUrlParts {
  const flag = "--mysql-url";
  const url = parseUrl(flag, raw, ["mysql:"]);
  checked?.();
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
    port: urlPort(url, MYSQL_DEFAULT_PORT),
    user: decoded(flag, url.username),
    password: decoded(flag, url.password),
    database,
    tls: tls || ca !== undefined,
    ca,
  };
}
