/**
 * The stats API as one `(Request) => Promise<Response>` function: the
 * original `/_cat` routes, the JSON API, the dashboard, and `/livez`,
 * `/readyz` and `/metrics`. It holds no socket, so tests call it directly
 * and `Deno.serve` serves it unchanged.
 *
 * @module
 */
import { type Logger, silentLogger } from "../shared/log.ts";
import { registerProcessMetrics, Registry } from "../shared/metrics.ts";
import { healthRoutes } from "../shared/health.ts";
import type { StoreReader } from "../store/types.ts";
import {
  apiBlock,
  apiBlocks,
  apiClients,
  apiGaps,
  apiSeries,
  apiServers,
  apiSummary,
} from "./api.ts";
import { AnswerCache } from "./cache.ts";
import { catClients, catDocument, catHashes, catIndex } from "./cat.ts";
import { DASHBOARD_ASSETS } from "./dashboard.ts";
import { FleetLedger } from "./ledger.ts";
import { BadRequestError, parseHash } from "./params.ts";
import { jsonError, textResponse } from "./respond.ts";
import { STATS_OPTIONS } from "./options.ts";

/** Options for {@linkcode createStatsHandler}. */
export interface StatsHandlerOptions {
  /**
   * `/readyz` fails when the newest document was first seen longer ago
   * than this, in ms; 0 only checks that the store answers. Default 120000.
   */
  staleAfterMs?: number;
  /** Where request and store-error metrics go. Default: a new registry. */
  registry?: Registry;
  /** Where to log store errors. */
  log?: Logger;
  /** Clock in ms. Defaults to `Date.now`. */
  now?: () => number;
  /**
   * How long an answer of a store-backed route is served again, in ms;
   * 0 (the default) computes every answer afresh.
   */
  cacheTtlMs?: number;
  /**
   * What the fleet stored, for `/api/gaps`, `/api/servers` and document
   * counts. Default: a ledger of `reader` that cannot parse the originals'
   * payloads (pass one with a template for that).
   */
  ledger?: FleetLedger;
}

/** Routes whose answers may be cached: live figures, not health. */
const CACHED_ROUTES = new Set([
  "/_cat/hashes",
  "/_cat/clients",
  "/api/blocks",
  "/api/clients",
  "/api/summary",
  "/api/series",
  "/api/gaps",
  "/api/servers",
]);

/** The stats API's request handler. */
export type StatsHandler = (request: Request) => Promise<Response>;

type Route = (
  url: URL,
  param: string | undefined,
) => Response | Promise<Response>;

interface RouteEntry {
  /** The metrics label; never holds request data. */
  name: string;
  run: Route;
  /** JSON routes answer errors in JSON. */
  json: boolean;
}

const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/**
 * The path exactly as the client sent it: `new URL()` would resolve `..`
 * segments, turning `/_cat/hashes/../../x` into `/x`, which must instead be
 * refused.
 */
function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return "/";
  const end = url.slice(start).search(/[?#]/);
  return end === -1 ? url.slice(start) : url.slice(start, start + end);
}

/**
 * Builds the handler over a store's read side.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a store reader and a port (tests/stats/api_test.ts runs it).
 * import { createStatsHandler } from "./handler.ts";
 * const handler = createStatsHandler(reader);
 * Deno.serve({ port: 8080 }, handler);
 * ```
 */
export function createStatsHandler(
  reader: StoreReader,
  options: StatsHandlerOptions = {},
): StatsHandler {
  const staleAfterMs = options.staleAfterMs ??
    STATS_OPTIONS.staleAfterMs.default;
  const registry = options.registry ?? new Registry();
  registerProcessMetrics(registry, "stats");
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const cache = new AnswerCache({ ttlMs: options.cacheTtlMs ?? 0, now });
  const ledger = options.ledger ?? new FleetLedger(reader, { now });
  const requests = registry.counter(
    "eth_stats_http_requests_total",
    "HTTP requests answered, by route and status code.",
  );
  const latency = registry.histogram(
    "eth_stats_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
  );
  const storeErrors = registry.counter(
    "eth_stats_store_errors_total",
    "Requests that failed because the store did not answer.",
  );
  storeErrors.inc({}, 0);
  registry.collect(
    "eth_stats_missing_blocks",
    "Block numbers missing between the lowest stored block and the highest (or the chain head), as of the last scrape or /api/gaps.",
    "gauge",
    () => Number(ledger.missing),
  );

  const notReady = async (): Promise<string | undefined> => {
    let newest;
    try {
      await reader.ping();
      if (staleAfterMs <= 0) return undefined;
      [newest] = await reader.recentBlocks({ limit: 1 });
    } catch (error) {
      return `store unreachable: ${(error as Error).message}`;
    }
    if (!newest) return "no document stored yet";
    const age = now() - newest.firstSeen;
    if (age > staleAfterMs) {
      return `newest document was first seen ${
        Math.round(age / 1000)
      } s ago (--stale-after ${staleAfterMs / 1000} s)`;
    }
    return undefined;
  };

  const exact = new Map<string, RouteEntry>();
  const add = (path: string, run: Route, json = false) =>
    exact.set(path, { name: path, run, json });
  add("/", () =>
    textResponse("Redirecting to /_cat\n", {
      status: 302,
      headers: { location: "/_cat" },
    }));
  add("/_cat", catIndex);
  add("/_cat/hashes", () => catHashes(reader));
  add("/_cat/clients", () => catClients(reader));
  add("/api/blocks", (url) => apiBlocks(reader, url.searchParams), true);
  add("/api/clients", (url) => apiClients(reader, url.searchParams), true);
  add(
    "/api/summary",
    (url) => apiSummary(reader, ledger, url.searchParams, now()),
    true,
  );
  add("/api/gaps", (url) => apiGaps(ledger, url.searchParams), true);
  add(
    "/api/servers",
    (url) => apiServers(reader, ledger, url.searchParams),
    true,
  );
  add("/api/series", (url) => apiSeries(reader, url.searchParams, now()), true);
  const health = healthRoutes({ registry, notReady });
  for (const [path, run] of Object.entries(health)) add(path, run);
  // The missing-blocks gauge is as fresh as the last read of the store.
  add("/metrics", async () => {
    try {
      await ledger.gaps(0);
    } catch (error) {
      storeErrors.inc();
      log.warn(`Store error on /metrics: ${(error as Error).message}`);
    }
    return await health["/metrics"]();
  });
  for (const [path, asset] of Object.entries(DASHBOARD_ASSETS)) {
    add(path, () => asset());
  }
  const prefixed: [string, RouteEntry][] = [
    ["/_cat/hashes/", {
      name: "/_cat/hashes/{hash}",
      run: (_url, param) => catDocument(reader, parseHash(param!)),
      json: false,
    }],
    ["/api/blocks/", {
      name: "/api/blocks/{hash}",
      run: (url, param) =>
        apiBlock(reader, parseHash(param!), url.searchParams),
      json: true,
    }],
  ];

  const route = (path: string): [RouteEntry | undefined, string?] => {
    const entry = exact.get(path);
    if (entry) return [entry];
    for (const [prefix, prefixEntry] of prefixed) {
      if (path.startsWith(prefix)) {
        return [prefixEntry, path.slice(prefix.length)];
      }
    }
    return [undefined];
  };

  const answer = async (
    request: Request,
    entry: RouteEntry | undefined,
    path: string,
    param: string | undefined,
  ): Promise<Response> => {
    const json = entry?.json ?? path.startsWith("/api/");
    const fail = (status: number, message: string) =>
      json ? jsonError(status, message) : textResponse(message, { status });
    if (DOT_SEGMENT.test(path)) return fail(400, "Bad request path");
    if (!entry) return fail(404, "Not found");
    if (request.method !== "GET" && request.method !== "HEAD") {
      const response = fail(405, "Method not allowed");
      response.headers.set("allow", "GET, HEAD");
      return response;
    }
    try {
      if (!CACHED_ROUTES.has(entry.name)) {
        return await entry.run(new URL(request.url), param);
      }
      // A cached answer needs no parsed URL: the key is the raw query.
      const query = request.url.indexOf("?");
      return await cache.answer(
        query === -1 ? path : `${path}${request.url.slice(query)}`,
        () => entry.run(new URL(request.url), param),
      );
    } catch (error) {
      if (error instanceof BadRequestError) return fail(400, error.message);
      storeErrors.inc();
      log.warn(
        `Store error on ${entry.name}: ${(error as Error).message}`,
      );
      return fail(503, "Store unavailable; try again shortly");
    }
  };

  return async (request) => {
    const started = performance.now();
    const path = rawPath(request.url);
    const [entry, param] = route(path);
    const response = await answer(request, entry, path, param);
    const name = entry?.name ?? "other";
    requests.inc({ route: name, code: String(response.status) });
    latency.observe((performance.now() - started) / 1000, { route: name });
    if (request.method === "HEAD") {
      await response.body?.cancel();
      return new Response(null, {
        status: response.status,
        headers: response.headers,
      });
    }
    return response;
  };
}
