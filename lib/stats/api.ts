/**
 * The JSON API: recent documents with cursor pagination, one document,
 * clients, a summary and the per-minute series the dashboard draws. Times
 * are given twice, as ISO 8601 for people and ms since the epoch for code.
 *
 * @module
 */
import type { BlockRecord, ClientRecord, StoreReader } from "../store/mod.ts";
import {
  decodeCursor,
  encodeCursor,
  integerParam,
  queryParams,
} from "./params.ts";
import type { FleetLedger } from "./ledger.ts";
import { jsonError, jsonResponse } from "./respond.ts";
import { arrivalRate, latestBlock, seriesBuckets } from "./series.ts";

/** Largest `limit` of `/api/blocks`. */
export const MAX_LIMIT = 1000;
/** `limit` of `/api/blocks` when none is given. */
export const DEFAULT_LIMIT = 100;
/** Largest `minutes` of `/api/series` (one day). */
export const MAX_SERIES_MINUTES = 1440;
/** The longest window `blocksPerMinute` of `/api/summary` averages over. */
export const RATE_WINDOW_MINUTES = 5;
/** `limit` of `/api/gaps` when none is given. */
export const DEFAULT_GAPS_LIMIT = 100;
/** Largest `limit` of `/api/gaps`. */
export const MAX_GAPS_LIMIT = 10_000;

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

/**
 * A stored document as the JSON API shows it (payload only on request).
 * `firstSeenMs` is whole ms (Redis keeps the originals' float seconds);
 * `firstSeenKnown` is false, and both times null, for a document only an
 * original server stored in MySQL with no `eth:hashes` score to date it.
 */
export function blockJson(
  record: BlockRecord,
  { payload = false } = {},
): Record<string, unknown> {
  const known = record.firstSeen > 0;
  const ms = Math.round(record.firstSeen);
  const out: Record<string, unknown> = {
    block: blockNumber(record.block),
    hash: record.hash,
    firstSeen: known ? iso(ms) : null,
    firstSeenMs: known ? ms : null,
    firstSeenKnown: known,
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
  ledger: FleetLedger,
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
  const page = withBlocks(
    ledger,
    await reader.recentBlocks({ limit: limit + 1, before }),
  );
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
  ledger: FleetLedger,
  hash: string,
  search: URLSearchParams,
): Promise<Response> {
  queryParams(search, []);
  const record = await reader.document(hash);
  if (!record) return jsonError(404, "Hash not found");
  const [known] = withBlocks(ledger, [record]);
  return jsonResponse(blockJson(known, { payload: true }));
}

/**
 * The records with the block numbers the store did not record read from
 * their payloads (documents only an original server stored).
 */
function withBlocks(
  ledger: FleetLedger,
  records: readonly BlockRecord[],
): BlockRecord[] {
  return records.map((r) =>
    r.block !== null || r.payload === undefined
      ? r
      : { ...r, block: ledger.blockOf(r) }
  );
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
 * minute over the last {@linkcode RATE_WINDOW_MINUTES} minutes, or since the
 * first document when that is shorter (`rate` says over what).
 */
export async function apiSummary(
  reader: StoreReader,
  ledger: FleetLedger,
  search: URLSearchParams,
  nowMs: number,
): Promise<Response> {
  queryParams(search, []);
  const [recent, clients, rate, gaps] = await Promise.all([
    reader.recentBlocks({ limit: 100 }).then((r) => withBlocks(ledger, r)),
    reader.clients(),
    arrivalRate(reader, { nowMs, windowMs: RATE_WINDOW_MINUTES * 60_000 }),
    ledger.gaps(0),
  ]);
  const latest = latestBlock(recent);
  return jsonResponse({
    latest: latest ? blockJson(latest) : null,
    documents: ledger.documents,
    clients: clients.length,
    blocksPerMinute: rate.perMinute,
    rate,
    missingBlocks: blockNumber(gaps.missing),
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
  const buckets = await seriesBuckets(reader, {
    nowMs,
    bucketMs,
    buckets: minutes,
  });
  return jsonResponse({
    bucketSeconds: bucketMs / 1000,
    truncated: false,
    buckets: buckets.map((b) => ({
      start: iso(b.startMs),
      startMs: b.startMs,
      count: b.count,
    })),
  });
}

/**
 * `/api/gaps?limit=`: the block ranges missing between the lowest stored
 * block and the highest (or the chain head, when stats follows a node),
 * lowest first; `count` and `missing` cover them all, `ranges` the first
 * `limit` (default 100).
 */
export async function apiGaps(
  ledger: FleetLedger,
  search: URLSearchParams,
): Promise<Response> {
  const params = queryParams(search, ["limit"]);
  const limit = integerParam(params, "limit", {
    min: 1,
    max: MAX_GAPS_LIMIT,
    fallback: DEFAULT_GAPS_LIMIT,
  });
  const report = await ledger.gaps(limit);
  return jsonResponse({
    from: blockNumber(report.from ?? null),
    to: blockNumber(report.to ?? null),
    head: blockNumber(report.head ?? null),
    missing: blockNumber(report.missing),
    count: report.count,
    truncated: report.count > report.ranges.length,
    complete: report.complete,
    ranges: report.ranges.map((r) => ({
      from: blockNumber(r.from),
      to: blockNumber(r.to),
      blocks: blockNumber(r.to - r.from + 1n),
    })),
  });
}

/**
 * `/api/servers`: every server that stored first copies (documents, when it
 * last did) and whether each store answers.
 */
export async function apiServers(
  reader: StoreReader,
  ledger: FleetLedger,
  search: URLSearchParams,
): Promise<Response> {
  queryParams(search, []);
  const [stores] = await Promise.all([reader.health(), ledger.current()]);
  return jsonResponse({
    servers: ledger.servers().map((s) => ({
      server: s.server,
      documents: s.documents,
      lastSeen: iso(s.lastSeen),
      lastSeenMs: s.lastSeen || null,
    })),
    stores,
  });
}
