/**
 * Figures over time, each from indexed queries of the store (never by
 * walking its documents): documents first seen per time bucket (the
 * dashboard's chart), the arrival rate over the data actually present, and
 * the latest block.
 *
 * @module
 */
import type { BlockRecord, StoreReader } from "../store/mod.ts";

/** One bucket of a series. */
export interface Bucket {
  /** Start of the bucket, ms since the epoch. */
  startMs: number;
  /** Documents first seen in it. */
  count: number;
}

/**
 * Documents first seen per bucket of `bucketMs`, `buckets` of them, the
 * last one holding `nowMs`; oldest bucket first. Buckets are aligned to
 * multiples of `bucketMs` since the epoch, so they do not shift between
 * refreshes.
 */
export async function seriesBuckets(
  reader: StoreReader,
  { nowMs, bucketMs, buckets }: {
    nowMs: number;
    bucketMs: number;
    buckets: number;
  },
): Promise<Bucket[]> {
  const lastStart = Math.floor(nowMs / bucketMs) * bucketMs;
  const firstStart = lastStart - (buckets - 1) * bucketMs;
  const counts = await reader.firstSeenCounts(firstStart, bucketMs);
  return Array.from({ length: buckets }, (_, i) => {
    const startMs = firstStart + i * bucketMs;
    return { startMs, count: counts.get(startMs) ?? 0 };
  });
}

/** The arrival rate over a window, as `/api/summary` reports it. */
export interface Rate {
  /** Documents first seen in the window. */
  blocks: number;
  /** The window's length, seconds: from its start, or from the first document stored if later, to now. */
  seconds: number;
  /** `blocks` per minute over `seconds`, to 2 decimals. */
  perMinute: number;
}

/**
 * Documents first seen per minute over the last `windowMs`, or over the
 * time since the first document was stored when that is shorter: a fleet
 * that started 30 s ago and stored 15 blocks runs at 30 a minute, not 3.
 */
export async function arrivalRate(
  reader: StoreReader,
  { nowMs, windowMs }: { nowMs: number; windowMs: number },
): Promise<Rate> {
  const oldest = await reader.oldestFirstSeen();
  if (oldest === undefined || oldest > nowMs) {
    return { blocks: 0, seconds: 0, perMinute: 0 };
  }
  const start = Math.max(nowMs - windowMs, oldest);
  const counts = await reader.firstSeenCounts(start, windowMs * 2);
  let blocks = 0;
  for (const n of counts.values()) blocks += n;
  // At least a second: one document a moment old is not a rate of millions.
  // The rate is computed from the window as reported, so the three agree.
  const seconds = Math.round(Math.max(1, (nowMs - start) / 1000) * 10) / 10;
  return {
    blocks,
    seconds,
    perMinute: Math.round(blocks / seconds * 60 * 100) / 100,
  };
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
