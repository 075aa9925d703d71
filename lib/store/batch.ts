/**
 * What every store derives from a batch of received documents: one row per
 * document hash and one per client IP, each sorted by key so that servers
 * writing overlapping batches take row locks in the same order (InnoDB's
 * gap locks can still deadlock two inserts: the MySQL writer tries its
 * victim again), and an id that names the batch across retries.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ReceivedDocument } from "./types.ts";

/** What one batch says about one document hash. */
export interface BlockRow {
  hash: string;
  block: bigint | null;
  /** Earliest receipt in the batch, ms. */
  firstSeen: number;
  /** Latest receipt in the batch, ms. */
  lastSeen: number;
  /** Copies in the batch. */
  copies: number;
  /** This batch's server when it stored the first copy, else null. */
  server: string | null;
}

/** What one batch says about one client IP. */
export interface ClientRow {
  ip: string;
  documents: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * Indices of `docs` ordered by hash; equal hashes keep arrival order. A
 * second's batch is 10,000 documents: the hashes are read into an array of
 * their own first, so the comparator does not load them from each document.
 */
export function hashOrder(docs: readonly ReceivedDocument[]): number[] {
  const hashes = docs.map((d) => d.hash);
  return hashes.map((_, i) => i).sort((a, b) => {
    const x = hashes[a];
    const y = hashes[b];
    return x < y ? -1 : x > y ? 1 : a - b;
  });
}

/**
 * One row per distinct hash, sorted by hash; `firsts` as `save` returns.
 * `order` is {@linkcode hashOrder}'s for `docs` (a writer has it already):
 * equal hashes are adjacent in it, in arrival order, so the rows come out
 * sorted with no map or second sort.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockRows } from "./batch.ts";
 *
 * const doc = { payload: "", hash: "b", block: 7n, ip: "::1", port: 1,
 *   receivedAt: 10, server: "s" };
 * const docs = [doc, { ...doc, hash: "a" }, { ...doc, receivedAt: 20 }];
 * assert.deepEqual(blockRows(docs, [true, true, false]).map((r) =>
 *   [r.hash, r.copies, r.firstSeen, r.lastSeen]), [["a", 1, 10, 10],
 *   ["b", 2, 10, 20]]);
 * ```
 */
export function blockRows(
  docs: readonly ReceivedDocument[],
  firsts: readonly boolean[],
  order: readonly number[] = hashOrder(docs),
): BlockRow[] {
  const rows: BlockRow[] = [];
  let row: BlockRow | undefined;
  for (const i of order) {
    const doc = docs[i];
    if (row?.hash !== doc.hash) {
      row = {
        hash: doc.hash,
        block: doc.block,
        firstSeen: doc.receivedAt,
        lastSeen: doc.receivedAt,
        copies: 0,
        server: null,
      };
      rows.push(row);
    }
    row.copies++;
    row.block ??= doc.block;
    row.firstSeen = Math.min(row.firstSeen, doc.receivedAt);
    row.lastSeen = Math.max(row.lastSeen, doc.receivedAt);
    if (firsts[i]) {
      row.server = doc.server;
      row.firstSeen = doc.receivedAt;
    }
  }
  return rows;
}

/** One row per client IP, sorted by IP. */
export function clientRows(docs: readonly ReceivedDocument[]): ClientRow[] {
  const rows = new Map<string, ClientRow>();
  for (const doc of docs) {
    const row = rows.get(doc.ip);
    if (row) {
      row.documents++;
      row.firstSeen = Math.min(row.firstSeen, doc.receivedAt);
      row.lastSeen = Math.max(row.lastSeen, doc.receivedAt);
    } else {
      rows.set(doc.ip, {
        ip: doc.ip,
        documents: 1,
        firstSeen: doc.receivedAt,
        lastSeen: doc.receivedAt,
      });
    }
  }
  return [...rows.values()].sort(byKey((r) => r.ip));
}

/**
 * Names a batch: the same documents retried by the same writer get the same
 * id, so a store can tell a retry of a batch it already committed (when the
 * reply to the commit was lost) from a new one.
 */
export function batchId(
  writerNonce: string,
  docs: readonly ReceivedDocument[],
): string {
  const h = createHash("sha256").update(writerNonce);
  for (const d of docs) {
    h.update(`\n${d.hash} ${d.ip} ${d.port} ${d.receivedAt} ${d.server}`);
  }
  return h.digest("hex");
}

/** Parses the `"1011"` form a store keeps a batch's results in. */
export function parseFlags(results: string, count: number): boolean[] {
  if (results.length !== count || !/^[01]*$/.test(results)) {
    throw new TypeError(
      `Cannot read batch results ${
        JSON.stringify(results)
      } for ${count} documents`,
    );
  }
  return [...results].map((c) => c === "1");
}

function byKey<T>(key: (row: T) => string) {
  return (a: T, b: T) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
