/**
 * Opening a SQLite file the way both sides of the embedded store do, and
 * telling a transient SQLite error from a refusal.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { StoreError } from "./types.ts";

/** How long a statement waits for a lock, in ms. */
const BUSY_TIMEOUT_MS = 5000;
/** The largest block number a SQLite INTEGER holds. */
export const INT64_MAX: bigint = 2n ** 63n - 1n;
// Primary result codes after which the same batch can succeed later:
// BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, READONLY.
const TRANSIENT_CODES = new Set([5, 6, 7, 10, 13, 14, 8]);

/** Whether a SQLite error may pass (unavailable) or will recur (rejected). */
export function errorKind(error: unknown): "unavailable" | "rejected" {
  const code = (error as { errcode?: number }).errcode;
  return typeof code === "number" && !TRANSIENT_CODES.has(code & 0xff)
    ? "rejected"
    : "unavailable";
}

/** Opens `path` with a busy timeout; a failure is a {@linkcode StoreError}. */
export function openDatabase(path: string, readOnly: boolean): DatabaseSync {
  try {
    const db = new DatabaseSync(path, { readOnly });
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db;
  } catch (error) {
    throw new StoreError(
      `Cannot open SQLite file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
