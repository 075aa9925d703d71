/**
 * Where documents are kept: the typed {@linkcode StoreConfig} that the
 * store options parse to, and that the stores open from.
 *
 * @module
 */

/** The MySQL port when none is given (SPEC 1.6). */
export const MYSQL_DEFAULT_PORT = 3306;
/** The Redis port when none is given (SPEC 1.6). */
export const REDIS_DEFAULT_PORT = 6379;

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
  /** Host name or address. */
  host: string;
  /** TCP port ({@linkcode MYSQL_DEFAULT_PORT} unless given). */
  port: number;
  /** User name. */
  user: string;
  /** Never logged, never part of an error message. */
  password: string;
  /** Database name. */
  database: string;
  /** Connect over TLS (verifying the server) when set. */
  tls?: StoreTls;
  /** Where the password is set, named when MySQL denies access. */
  passwordFrom?: string;
}

/** A Redis connection. */
export interface RedisConfig {
  /** Host name or address. */
  host: string;
  /** TCP port ({@linkcode REDIS_DEFAULT_PORT} unless given). */
  port: number;
  /** Database number. */
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
  /** The shared MySQL store, when in use. */
  mysql?: MysqlConfig;
  /** The shared Redis store, when in use. */
  redis?: RedisConfig;
  /** The embedded store's file, when neither shared store is in use. */
  sqlitePath?: string;
}
