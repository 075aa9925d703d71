/**
 * The stats API as one `(Request) => Promise<Response>` function: the
 * original `/_cat` routes, the JSON API, the dashboard, and `/livez`,
 * `/readyz` and `/metrics`. It holds no socket, so tests call it directly
 * and `Deno.serve` serves it unchanged.
 *
 * @module
 */
import {
  healthRoutes,
  type Logger,
  type Metric,
  registerProcessMetrics,
  Registry,
  silentLogger,
} from "../shared/mod.ts";
import type { StoreReader } from "../store/mod.ts";
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

/** `/readyz` fails when nothing new was stored for this long, in ms. */
export const DEFAULT_STALE_AFTER_MS = 120_000;

/** Options for {@linkcode createStatsHandler}. */
export interface StatsHandlerOptions {
  /**
   * `/readyz` fails when the newest document was first seen longer ago
   * than this, in ms; 0 only checks that the store answers.
   *
   * @default {DEFAULT_STALE_AFTER_MS}
   */
  staleAfterMs?: number;
  /**
   * Where request and store-error metrics go.
   *
   * @default {new Registry()}
   */
  registry?: Registry;
  /** Where to log store errors. */
  log?: Logger;
  /**
   * Clock in ms.
   *
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * How long an answer of a store-backed route is served again, in ms;
   * 0 computes every answer afresh.
   *
   * @default {0}
   */
  cacheTtlMs?: number;
  /**
   * What the fleet stored, for `/api/gaps`, `/api/servers` and document
   * counts. Default: a ledger of `reader` that cannot parse the originals'
   * payloads (pass one with a template for that).
   */
  ledger?: FleetLedger;
}

/** The stats API's request handler. */
export type StatsHandler = (request: Request) => Promise<Response>;

/** One route: how it is matched, named, cached and answered. */
interface Route {
  /** The method it answers (HEAD too, for GET). */
  method: "GET";
  /** The path it matches; a `:hash` group is handed to `run`. */
  pattern: URLPattern;
  /** The metrics label; never holds request data. */
  name: string;
  /** Whether its answer may be served again (live figures, not health). */
  cached: boolean;
  /** JSON routes answer errors in JSON. */
  json: boolean;
  run: (url: URL, hash: string | undefined) => Response | Promise<Response>;
}

/** A route of `path` (a URLPattern pathname), named after it. */
function route(
  path: string,
  run: Route["run"],
  { cached = false, json = false } = {},
): Route {
  return {
    method: "GET",
    pattern: new URLPattern({ pathname: path }),
    name: path.replace(":hash(.*)", "{hash}"),
    cached,
    json,
    run,
  };
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
    DEFAULT_STALE_AFTER_MS;
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
  registry.collect(
    "eth_stats_documents",
    "Distinct documents stored, whoever stored them, as of the last scrape or /api/gaps.",
    "gauge",
    () => ledger.documents,
  );

  const notReady = readiness(reader, staleAfterMs, now);
  const health = healthRoutes({ registry, notReady });
  const match = matcher(
    statsRoutes({ reader, ledger, now, health, log, storeErrors }),
  );
  const answer = (
    request: Request,
    entry: Route | undefined,
    path: string,
    param: string | undefined,
  ) => answerRoute(request, entry, path, param, { cache, storeErrors, log });

  return async (request) => {
    const started = performance.now();
    const path = rawPath(request.url);
    const [entry, param] = match(path);
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

/**
 * Finds the route of a raw path, and its `:hash` group. Literal paths (all
 * but two) are looked up in a map built from the table, so a request does
 * not run every pattern.
 */
function matcher(
  routes: readonly Route[],
): (path: string) => [Route | undefined, string?] {
  const literal = new Map<string, Route>();
  const patterned: Route[] = [];
  for (const r of routes) {
    if (/[:*(]/.test(r.pattern.pathname)) patterned.push(r);
    else literal.set(r.pattern.pathname, r);
  }
  return (path) => {
    const exact = literal.get(path);
    if (exact) return [exact];
    for (const r of patterned) {
      const found = r.pattern.exec({ pathname: path });
      if (found) return [r, found.pathname.groups.hash];
    }
    return [undefined];
  };
}

/** Why `/readyz` fails, or undefined when ready. */
function readiness(
  reader: StoreReader,
  staleAfterMs: number,
  now: () => number,
): () => Promise<string | undefined> {
  return async (): Promise<string | undefined> => {
    let newest;
    try {
      await reader.ping();
      if (staleAfterMs <= 0) return undefined;
      [newest] = await reader.recentBlocks({ limit: 1 });
    } catch (error) {
      return `store unreachable: ${(error as Error).message}`;
    }
    if (!newest) return "no document stored yet";
    // Only the originals stored, and nothing dates their documents: the
    // store answers, and staleness cannot be told.
    if (newest.firstSeen <= 0) return undefined;
    const age = now() - newest.firstSeen;
    if (age > staleAfterMs) {
      return `newest document was first seen ${
        Math.round(age / 1000)
      } s ago (--stale-after ${staleAfterMs / 1000} s)`;
    }
    return undefined;
  };
}

/** What the routes answer from. */
interface RouteContext {
  reader: StoreReader;
  ledger: FleetLedger;
  now: () => number;
  health: ReturnType<typeof healthRoutes>;
  log: Logger;
  storeErrors: Metric;
}

/** Every route of the stats API, each declared once. */
function statsRoutes(
  { reader, ledger, now, health, log, storeErrors }: RouteContext,
): Route[] {
  const live = { cached: true };
  const liveJson = { cached: true, json: true };
  return [
    route("/", () =>
      textResponse("Redirecting to /_cat\n", {
        status: 302,
        headers: { location: "/_cat" },
      })),
    route("/_cat", catIndex),
    route("/_cat/hashes", () => catHashes(reader), live),
    route("/_cat/clients", () => catClients(reader), live),
    route(
      "/_cat/hashes/:hash(.*)",
      (_url, hash) => catDocument(reader, parseHash(hash!)),
    ),
    route(
      "/api/blocks",
      (url) => apiBlocks(reader, ledger, url.searchParams),
      liveJson,
    ),
    route(
      "/api/blocks/:hash(.*)",
      (url, hash) =>
        apiBlock(reader, ledger, parseHash(hash!), url.searchParams),
      { json: true },
    ),
    route(
      "/api/clients",
      (url) => apiClients(reader, url.searchParams),
      liveJson,
    ),
    route(
      "/api/summary",
      (url) => apiSummary(reader, ledger, url.searchParams, now()),
      liveJson,
    ),
    route("/api/gaps", (url) => apiGaps(ledger, url.searchParams), liveJson),
    route(
      "/api/servers",
      (url) => apiServers(reader, ledger, url.searchParams),
      liveJson,
    ),
    route(
      "/api/series",
      (url) => apiSeries(reader, url.searchParams, now()),
      liveJson,
    ),
    route("/livez", health["/livez"]),
    route("/readyz", health["/readyz"]),
    // The missing-blocks gauge is as fresh as the last read of the store.
    route("/metrics", async () => {
      try {
        await ledger.gaps(0);
      } catch (error) {
        storeErrors.inc();
        log.warn(`Store error on /metrics: ${(error as Error).message}`);
      }
      return await health["/metrics"]();
    }),
    ...Object.entries(DASHBOARD_ASSETS).map(([path, asset]) =>
      route(path, () => asset())
    ),
  ];
}

/** Answers one request with its route (or the error that fits). */
async function answerRoute(
  request: Request,
  entry: Route | undefined,
  path: string,
  param: string | undefined,
  { cache, storeErrors, log }: {
    cache: AnswerCache;
    storeErrors: Metric;
    log: Logger;
  },
): Promise<Response> {
  const json = entry?.json ?? path.startsWith("/api/");
  const fail = (status: number, message: string) =>
    json ? jsonError(status, message) : textResponse(message, { status });
  if (DOT_SEGMENT.test(path)) return fail(400, "Bad request path");
  if (!entry) return fail(404, "Not found");
  if (
    request.method !== entry.method &&
    !(request.method === "HEAD" && entry.method === "GET")
  ) {
    const response = fail(405, "Method not allowed");
    response.headers.set("allow", "GET, HEAD");
    return response;
  }
  try {
    if (!entry.cached) {
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
}
