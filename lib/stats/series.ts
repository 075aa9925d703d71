/**
 * Figures computed from the newest documents of a store: how many arrived
 * per time bucket (the dashboard's chart), blocks per minute, and the
 * latest block. Each walks `recentBlocks` pages back in time, so it works
 * on every store without a store-specific query.
 *
 * @module
 */
import type { BlockRecord, StoreReader } from "../store/types.ts";

const PAGE = 1000;

/** Options for {@linkcode blocksSince}. */
export interface BlocksSinceOptions {
  /** Stop after this many documents. Default 20000. */
  maxDocuments?: number;
}

/**
 * First-seen times (ms) of the documents first seen at or after `sinceMs`,
 * newest first. `truncated` is true when `maxDocuments` cut the walk short.
 */
export async function blocksSince(
  reader: StoreReader,
  sinceMs: number,
  { maxDocuments = 20_000 }: BlocksSinceOptions = {},
): Promise<{ times: number[]; truncated: boolean }> {
  const times: number[] = [];
  let before: { firstSeen: number; hash: string } | undefined;
  while (times.length < maxDocuments) {
    const limit = Math.min(PAGE, maxDocuments - times.length);
    const page = await reader.recentBlocks({ limit, before });
    for (const record of page) {
      if (record.firstSeen < sinceMs) return { times, truncated: false };
      times.push(record.firstSeen);
    }
    if (page.length < limit) return { times, truncated: false };
    const last = page[page.length - 1];
    before = { firstSeen: last.firstSeen, hash: last.hash };
  }
  return { times, truncated: true };
}

/** One bucket of a series. */
export interface Bucket {
  /** Start of the bucket, ms since the epoch. */
  startMs: number;
  /** Documents first seen in it. */
  count: number;
}

/**
 * Counts `times` into `buckets` buckets of `bucketMs` each, the last one
 * holding `nowMs`; oldest bucket first. Buckets are aligned to multiples of
 * `bucketMs` since the epoch, so they do not shift between refreshes.
 */
export function bucketCounts(
  times: readonly number[],
  { nowMs, bucketMs, buckets }: {
    nowMs: number;
    bucketMs: number;
    buckets: number;
  },
): Bucket[] {
  const lastStart = Math.floor(nowMs / bucketMs) * bucketMs;
  const firstStart = lastStart - (buckets - 1) * bucketMs;
  const out = Array.from(
    { length: buckets },
    (_, i) => ({ startMs: firstStart + i * bucketMs, count: 0 }),
  );
  for (const t of times) {
    const i = Math.floor((t - firstStart) / bucketMs);
    if (i >= 0 && i < buckets) out[i].count++;
  }
  return out;
}

/**
 * The block with the highest number among `records` (the newest documents,
 * so a late backfilled document does not hide the tip), or, when none has
 * a known number, the newest record; undefined when there are none.
 */
export function latestBlock(
  records: readonly BlockRecord[],
): BlockRecord | undefined {
  let best: BlockRecord | undefined;
  for (const record of records) {
    if (record.block === null) continue;
    if (best === undefined || record.block > best.block!) best = record;
  }
  return best ?? records[0];
}
