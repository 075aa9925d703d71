/**
 * The whole stored history summarised by the SQL store itself, for the
 * first read of the stats side: runs of consecutive block numbers (gaps and
 * islands over the index on `eth_blocks.block_number`), documents per
 * server, and the payloads of the few rows with no recorded block number.
 * SQLite (>= 3.25) and MariaDB (>= 10.2) run the same statements; one
 * snapshot covers them all.
 *
 * @module
 */
import type { BlockJoin } from "./schema.ts";
import type { StoredHistory } from "./types.ts";

/** Highest row id: everything at or below it is in the summary. */
export const HISTORY_MARK_SQL =
  "SELECT COALESCE(MAX(id), -1) AS mark FROM ethereum_data";

/**
 * The first block number of every run of consecutive numbers, with the
 * number before it (`prev`, the end of the run before; null for the first):
 * a row starts a run when the number before it is more than one lower.
 * A difference, not `prev + 1`, so an unsigned column never overflows;
 * equal numbers (two documents of one block) never start one. One ordered
 * pass over a covering index, one row per run; the last run ends at the
 * highest number. Unordered: {@linkcode toHistory} sorts.
 */
export const HISTORY_RUNS_SQL = `SELECT block_number AS block, prev FROM (
     SELECT block_number,
       LAG(block_number) OVER (ORDER BY block_number) AS prev
     FROM eth_blocks WHERE block_number IS NOT NULL
   ) numbered
   WHERE prev IS NULL OR block_number - prev > 1
   UNION ALL
   SELECT MAX(block_number) AS block, -1 AS prev FROM eth_blocks
   HAVING MAX(block_number) IS NOT NULL`;

/**
 * First copies per server (null: stored by an original server, or a copy
 * of one's document), with the last first-seen time, over our table; plus
 * the originals' rows our table lacks (see {@linkcode historyUnlistedSql}).
 */
export const HISTORY_SERVERS_SQL =
  `SELECT server, COUNT(*) AS n, MAX(first_seen_ms) AS last_seen
   FROM eth_blocks GROUP BY server`;

/**
 * Payloads of our rows with no recorded block number (a document not
 * rendered for a block, or a number beyond the column), through the index
 * on `block_number`: normally none.
 */
export function historyNumberlessSql(join: BlockJoin): string {
  return `SELECT d.payload AS payload
   FROM eth_blocks b JOIN ethereum_data d ON ${join.on}
   WHERE b.block_number IS NULL`;
}

/**
 * Ids of the documents only an original server stored (no row in our
 * table): an anti-join over the two tables' keys that reads no payload.
 * Their payloads are then read by id ({@linkcode HISTORY_PAYLOADS_SQL}).
 */
export function historyUnlistedSql(join: BlockJoin): string {
  return `SELECT d.id AS id FROM ethereum_data d
   LEFT JOIN eth_blocks b ON ${join.on} WHERE ${join.key} IS NULL`;
}

/** Payloads by id: `?` is a list of ids. */
export const HISTORY_PAYLOADS_SQL =
  "SELECT payload FROM ethereum_data WHERE id IN (?)";

/** How many ids one {@linkcode HISTORY_PAYLOADS_SQL} reads. */
export const PAYLOADS_PER_READ = 1000;

/** Hashes and ids of the rows after `?` and up to `?`. */
export const HISTORY_RECENT_SQL =
  "SELECT id, hash FROM ethereum_data WHERE id > ? AND id <= ? ORDER BY id";

/**
 * Builds the summary from the rows of the statements above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toHistory } from "./history.ts";
 * const history = toHistory({
 *   mark: 9,
 *   runs: [
 *     { block: 7, prev: 3 },
 *     { block: 1, prev: null },
 *     { block: 7, prev: -1 }, // the highest
 *   ],
 *   servers: [{ server: "a", n: 4, last_seen: 50 }],
 *   numberless: [],
 *   unlisted: [{ payload: "x" }],
 *   recent: [],
 * });
 * assert.deepEqual(history.runs, [{ from: 1n, to: 3n }, { from: 7n, to: 7n }]);
 * assert.deepEqual(history.servers, [
 *   { server: "a", documents: 4, lastSeen: 50 },
 *   { server: null, documents: 1, lastSeen: 0 },
 * ]);
 * ```
 */
export function toHistory(rows: {
  mark: number;
  runs: readonly Record<string, unknown>[];
  servers: readonly Record<string, unknown>[];
  numberless: readonly Record<string, unknown>[];
  unlisted: readonly Record<string, unknown>[];
  recent: readonly Record<string, unknown>[];
}): StoredHistory {
  const big = (v: unknown) => BigInt(v as string);
  const max = rows.runs.find((r) => Number(r.prev) === -1);
  const starts = rows.runs.filter((r) => Number(r.prev) !== -1)
    .map((r) => ({ block: big(r.block), prev: r.prev }))
    .sort((a, b) => a.block < b.block ? -1 : a.block > b.block ? 1 : 0);
  const runs: StoredHistory["runs"] = starts.map((start, i) => ({
    from: start.block,
    to: i + 1 < starts.length ? big(starts[i + 1].prev) : big(max?.block),
  }));
  const servers: StoredHistory["servers"] = rows.servers.map((r) => ({
    server: r.server == null ? null : String(r.server),
    documents: Number(r.n),
    lastSeen: r.last_seen == null ? 0 : Number(r.last_seen),
  }));
  if (rows.unlisted.length > 0) {
    servers.push({
      server: null,
      documents: rows.unlisted.length,
      lastSeen: 0,
    });
  }
  return {
    mark: rows.mark,
    runs,
    servers,
    payloads: [...rows.numberless, ...rows.unlisted].map((r) =>
      String(r.payload ?? "")
    ),
    recent: rows.recent.map((r) => ({
      hash: String(r.hash),
      order: Number(r.id),
    })),
  };
}
