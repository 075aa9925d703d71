/**
 * Maps rows of our SQL tables (`eth_blocks`, `eth_clients`), as SQLite and
 * MySQL return them, to the records of the read side.
 *
 * @module
 */
import type { BlockJoin } from "./schema.ts";
import type { BlockRecord, ClientRecord, StoredRow } from "./types.ts";

/** Documents with what `eth_blocks` knows of them; a WHERE clause follows. */
export function documentSelectSql(join: BlockJoin): string {
  return `SELECT d.hash AS hash, d.payload AS payload,
     b.block_number AS block_number, b.first_seen_ms AS first_seen_ms,
     b.last_seen_ms AS last_seen_ms, b.copies AS copies, b.server AS server
   FROM ethereum_data d LEFT JOIN eth_blocks b ON ${join.on}`;
}

/**
 * Documents by row id after `?`, at most `?`, with our block number where we
 * recorded one and otherwise the payload (an original server's row), for
 * {@linkcode StoredRow}. A primary-key range: it reads only what it returns.
 */
export function storedSinceSql(join: BlockJoin): string {
  return `SELECT d.id AS id, d.hash AS hash, b.block_number AS block_number,
     CASE WHEN b.block_number IS NULL THEN d.payload END AS payload,
     b.server AS server, b.first_seen_ms AS first_seen_ms
   FROM ethereum_data d LEFT JOIN eth_blocks b ON ${join.on}
   WHERE d.id > ? ORDER BY d.id LIMIT ?`;
}

/**
 * {@linkcode storedSinceSql} where `eth_blocks` does not exist (only an
 * original server wrote the database): every row with its payload.
 */
export const STORED_SINCE_PLAIN_SQL =
  `SELECT id, hash, payload FROM ethereum_data
   WHERE id > ? ORDER BY id LIMIT ?`;

/** Maps a row of {@linkcode storedSinceSql}. */
export function toStoredRow(row: Record<string, unknown>): StoredRow {
  const out: StoredRow = {
    hash: String(row.hash),
    order: Number(row.id),
    block: row.block_number == null ? null : BigInt(row.block_number as string),
    server: row.server == null ? null : String(row.server),
    firstSeen: row.first_seen_ms == null ? 0 : Number(row.first_seen_ms),
  };
  if (row.payload != null) out.payload = String(row.payload);
  return out;
}

/** Maps `(start, n)` rows of a per-bucket count to a map. */
export function bucketRows(
  rows: readonly Record<string, unknown>[],
): Map<number, number> {
  return new Map(rows.map((r) => [Number(r.start), Number(r.n)]));
}

/** Maps a row of `eth_blocks` (optionally joined with a payload). */
export function toBlockRecord(row: Record<string, unknown>): BlockRecord {
  const record: BlockRecord = {
    hash: String(row.hash),
    block: row.block_number == null ? null : BigInt(row.block_number as string),
    firstSeen: row.first_seen_ms == null ? 0 : Number(row.first_seen_ms),
    server: row.server == null ? null : String(row.server),
  };
  if (row.last_seen_ms != null) record.lastSeen = Number(row.last_seen_ms);
  if (row.copies != null) record.copies = Number(row.copies);
  if (row.payload != null) record.payload = String(row.payload);
  return record;
}

/** Maps a row of `eth_clients`. */
export function toClientRecord(row: Record<string, unknown>): ClientRecord {
  return {
    ip: String(row.ip),
    count: Number(row.documents),
    firstSeen: row.first_seen_ms == null ? null : Number(row.first_seen_ms),
    lastSeen: row.last_seen_ms == null ? null : Number(row.last_seen_ms),
  };
}
