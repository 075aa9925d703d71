/**
 * Maps rows of our SQL tables (`eth_blocks`, `eth_clients`), as SQLite and
 * MySQL return them, to the records of the read side.
 *
 * @module
 */
import type { BlockRecord, ClientRecord } from "./types.ts";

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
