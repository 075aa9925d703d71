/**
 * The JSON API: recent documents with cursor pagination, one document,
 * clients, a summary and the per-minute series the dashboard draws. Times
 * are given twice, as ISO 8601 for people and ms since the epoch for code.
 *
 * @module
 */
import type { BlockRecord, ClientRecord, StoreReader } from "../store/types.ts";
import {
  decodeCursor,
  encodeCursor,
  integerParam,
  queryParams,
} from "./params.ts";
import { jsonError, jsonResponse } from "./respond.ts";
import { blocksSince, bucketCounts, latestBlock } from "./series.ts";

/** Largest `limit` of `/api/blocks`. */
export const MAX_LIMIT = 1000;
/** `limit` of `/api/blocks` when none is given. */
export const DEFAULT_LIMIT = 100;
/** Largest `minutes` of `/api/series` (one day). */
export const MAX_SERIES_MINUTES = 1440;
/** The window `blocksPerMinute` of `/api/summary` averages over. */
export const RATE_WINDOW_MINUTES = 5;

/** A block number as JSON: a number while exact, else a decimal string. */
function blockNumber(block: bigint | null): number | string | null {
  if (block === null) return null;
  return block <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(block)
    : String(block);
}

function iso(ms: number | null | undefined): string | null {
  return ms ? new Date(ms).toISOString() : null;
}

/** A stored document as the JSON API shows it (payload only on request). */
export function blockJson(
  record: BlockRecord,
  { payload = false } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    block: blockNumber(record.block),
    hash: record.hash,
    firstSeen: iso(record.firstSeen),
    firstSeenMs: record.firstSeen || null,
    server: record.server,
  };
  if (payload) {
    if (record.lastSeen !== undefined) out.lastSeen = iso(record.lastSeen);
    if (record.copies !== undefined) out.copies = record.copies;
    out.payload = record.payload ?? null;
  }
  return out;
}

function clientJson(client: ClientRecord): Record<string, unknown> {
  return {
    ip: client.ip,
    count: client.count,
    firstSeen: iso(client.firstSeen),
    lastSeen: iso(client.lastSeen),
  };
}

/**
 * `/api/blocks?limit=&cursor=`: newest first; `nextCursor` fetches the
 * next (older) page and is null on the last one.
 */
export async function apiBlocks(
  reader: StoreReader,
  search: URLSearchParams,
): Promise<Response> {
  const params = queryParams(search, ["limit", "cursor"]);
  const limit = integerParam(params, "limit", {
    min: 1,
    max: MAX_LIMIT,
    fallback: DEFAULT_LIMIT,
  });
  const raw = params.get("cursor");
  const before = raw === undefined ? undefined : decodeCursor(raw);
  // One more than asked tells whether another page exists.
  const page = await reader.recentBlocks({ limit: limit + 1, before });
  const blocks = page.slice(0, limit);
  const last = blocks[blocks.length - 1];
  return jsonResponse({
    blocks: blocks.map((b) => blockJson(b)),
    nextCursor: page.length > limit && last
      ? encodeCursor({ firstSeen: last.firstSeen, hash: last.hash })
      : null,
  });
}

/** `/api/blocks/{hash}`: one document with its payload; `hash` validated. */
export async function apiBlock(
  reader: StoreReader,
  hash: string,
  search: URLSearchParams,
): Promise<Response> {
  queryParams(search, []);
  const record = await reader.document(hash);
  if (!record) return jsonError(404, "Hash not found");
  return jsonResponse(blockJson(record, { payload: true }));
}

/** `/api/clients`: every client IP, most documents first. */
export async function apiClients(
  reader: StoreReader,
  search: URLSearchParams,
): Promise<Response> {
  queryParams(search, []);
  const clients = await reader.clients();
  return jsonResponse({ clients: clients.map(clientJson) });
}

/**
 * `/api/summary`: the latest block (highest number among the 100 newest
 * documents), how many documents and clients there are, and blocks per
 * minute over the last {@linkcode RATE_WINDOW_MINUTES} minutes.
 */
export async function apiSummary(
  reader: StoreReader,
  search: URLSearchParams,
  nowMs: number,
): Promise<Response> {
  queryParams(search, []);
  const [recent, documents, clients, window] = await Promise.all([
    reader.recentBlocks({ limit: 100 }),
    reader.countBlocks(),
    reader.clients(),
    blocksSince(reader, nowMs - RATE_WINDOW_MINUTES * 60_000),
  ]);
  const latest = latestBlock(recent);
  return jsonResponse({
    latest: latest ? blockJson(latest) : null,
    documents,
    clients: clients.length,
    blocksPerMinute:
      Math.round(window.times.length / RATE_WINDOW_MINUTES * 100) /
      100,
    now: iso(nowMs),
  });
}

/**
 * `/api/series?minutes=`: documents first seen per minute over the last
 * `minutes` (default 30), oldest first, the last bucket being the current
 * (partial) minute.
 */
export async function apiSeries(
  reader: StoreReader,
  search: URLSearchParams,
  nowMs: number,
): Promise<Response> {
  const params = queryParams(search, ["minutes"]);
  const minutes = integerParam(params, "minutes", {
    min: 1,
    max: MAX_SERIES_MINUTES,
    fallback: 30,
  });
  const bucketMs = 60_000;
  const start = Math.floor(nowMs / bucketMs) * bucketMs -
    (minutes - 1) * bucketMs;
  const { times, truncated } = await blocksSince(reader, start);
  return jsonResponse({
    bucketSeconds: bucketMs / 1000,
    truncated,
    buckets: bucketCounts(times, { nowMs, bucketMs, buckets: minutes }).map(
      (b) => ({ start: iso(b.startMs), startMs: b.startMs, count: b.count }),
    ),
  });
}
