/**
 * How the MySQL store connects (npm:mysql2, pooled), and how a driver
 * error becomes a {@linkcode StoreError}: whether retrying can help, and
 * what the user should change when access or TLS fails.
 *
 * @module
 */
import mysql from "mysql2/promise";
import type { MysqlConfig } from "./config.ts";
import { isCertificateError } from "./tls.ts";
import { StoreError } from "./types.ts";

/** How long a connection attempt may take, in ms. */
export const CONNECT_TIMEOUT_MS = 5000;
/** How long one query (or one batch's round trip) may take, in ms. */
export const QUERY_TIMEOUT_MS = 15_000;

/** MySQL's and MariaDB's ER_LOCK_DEADLOCK: the transaction was rolled back. */
export const ER_LOCK_DEADLOCK = 1213;

// Server error numbers after which the same batch can succeed later:
// deadlock, lock wait timeout, too many connections, read-only (failover),
// shutdown in progress, access denied, unknown database or table.
const TRANSIENT_ERRNOS = new Set([
  ER_LOCK_DEADLOCK,
  1205,
  1040,
  1203,
  1226,
  1290,
  1836,
  1053,
  1045,
  1044,
  1049,
  1146,
]);

/** A row as mysql2 returns it. */
export type Row = Record<string, unknown>;
/** The header mysql2 answers a write with. */
export interface Header {
  affectedRows: number;
}

/** Says where a MySQL store is, and how it is reached; never its password. */
export function describeMysql(config: MysqlConfig): string {
  const { tls } = config;
  return `MySQL ${config.user}@${config.host}:${config.port}/${config.database}${
    tls ? ` over TLS${tls.caSource ? ` (CA ${tls.caSource})` : ""}` : ""
  }`;
}

/** A pool of at most `connectionLimit` connections to `config`. */
export function createPool(config: MysqlConfig, connectionLimit: number) {
  const { tls } = config;
  return mysql.createPool({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    connectionLimit,
    // The server's certificate must chain to `ca` (or the system's CAs) and
    // name the host: encryption to an impostor protects nothing.
    ssl: tls && {
      ...(tls.ca ? { ca: tls.ca } : {}),
      rejectUnauthorized: true,
      verifyIdentity: true,
    },
    // Our batches are one round trip; every value is still escaped by the
    // client (`?` placeholders), so no caller text becomes SQL.
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    // Affected rows must be 0 for a duplicate left as it is (see `save`).
    flags: ["-FOUND_ROWS"],
  });
}

/** Classifies a driver error: can the same operation succeed later? */
function errorKind(error: unknown): "unavailable" | "rejected" {
  const e = error as { errno?: number; fatal?: boolean; sqlState?: string };
  if (e.fatal || e.sqlState === undefined || e.errno === undefined) {
    return "unavailable";
  }
  return TRANSIENT_ERRNOS.has(e.errno) ? "unavailable" : "rejected";
}

/** What to change when the error says access or TLS failed, or "". */
function advice(config: MysqlConfig, error: unknown): string {
  const e = error as { errno?: number; code?: string; message?: string };
  if (e.errno === 1045) {
    // MariaDB also answers a plaintext login to a TLS-only account so.
    return `: check the user and set its password with ${
      config.passwordFrom ?? "--mysql-pass-file"
    }${config.tls ? "" : " (or add --mysql-tls if the server requires TLS)"}`;
  }
  // MariaDB's and MySQL's refusals of a plaintext connection.
  if (e.errno === 3159 || /secure transport/i.test(e.message ?? "")) {
    return ": the server requires TLS: add --mysql-tls";
  }
  if (config.tls && isCertificateError(e)) {
    return `: the server's certificate is not trusted${
      config.tls.caSource ? ` by ${config.tls.caSource}` : ""
    }: check --mysql-ca`;
  }
  return "";
}

/** A {@linkcode StoreError} saying `what` failed, why, and what to change. */
export function storeError(
  what: string,
  error: unknown,
  config?: MysqlConfig,
): StoreError {
  const message = String((error as Error).message).split("\n")[0];
  return new StoreError(
    `${what}: ${message}${config ? advice(config, error) : ""}`,
    { cause: error, kind: errorKind(error) },
  );
}
