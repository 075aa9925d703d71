/**
 * The health and metrics routes every program answers: `/livez` (the
 * process runs), `/readyz` (it can do its job, else 503 with the reason)
 * and `/metrics` (Prometheus text). The stats API mounts them among its own
 * routes; the client and the server serve them alone on `--metrics-port`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthRoutes } from "./health.ts";
 * import { Registry } from "./metrics.ts";
 *
 * const routes = healthRoutes({ registry: new Registry(), notReady: () => "store down" });
 * assert.equal(await (await routes["/livez"]()).text(), "ok\n");
 * const ready = await routes["/readyz"]();
 * assert.equal(ready.status, 503);
 * assert.equal(await ready.text(), "not ready: store down\n");
 * ```
 *
 * @module
 */
import { METRICS_CONTENT_TYPE, type Registry } from "./metrics.ts";

/** Options for {@linkcode healthRoutes}. */
export interface HealthRoutesOptions {
  /** The metrics to expose on `/metrics`. */
  registry: Registry;
  /** Returns a reason string when not ready, `undefined` when ready. */
  notReady?: () => string | undefined | Promise<string | undefined>;
}

/** The three paths, each to a function answering it. */
export type HealthRoutes = Record<
  "/livez" | "/readyz" | "/metrics",
  () => Promise<Response>
>;

const TEXT = {
  "content-type": "text/plain; charset=utf-8",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
};

/** The `/livez`, `/readyz` and `/metrics` answers, for any router. */
export function healthRoutes(options: HealthRoutesOptions): HealthRoutes {
  return {
    "/livez": () => Promise.resolve(new Response("ok\n", { headers: TEXT })),
    "/readyz": async () => {
      const reason = await options.notReady?.();
      return reason === undefined
        ? new Response("ok\n", { headers: TEXT })
        : new Response(`not ready: ${reason}\n`, {
          status: 503,
          headers: TEXT,
        });
    },
    "/metrics": () =>
      Promise.resolve(
        new Response(options.registry.render(), {
          headers: {
            "content-type": METRICS_CONTENT_TYPE,
            "cache-control": "no-store",
          },
        }),
      ),
  };
}

/** Options for {@linkcode serveHealth}. */
export interface HealthServerOptions extends HealthRoutesOptions {
  /** Address to listen on. Default `0.0.0.0`. */
  hostname?: string;
  /** The port (`--metrics-port`). */
  port: number;
  /** Stops the server. */
  signal?: AbortSignal;
  /** Called once listening. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** More GET routes, by exact path (e.g. the server's `/dead-letter`). */
  routes?: Record<string, () => Response | Promise<Response>>;
}

/**
 * Serves {@linkcode healthRoutes} (and any extra `routes`) on their own
 * port, for the client and the server (`--metrics-port`): GET and HEAD
 * only, 404 elsewhere.
 */
export function serveHealth(options: HealthServerOptions): Deno.HttpServer {
  const routes: Record<string, () => Response | Promise<Response>> = {
    ...options.routes,
    ...healthRoutes(options),
  };
  return Deno.serve({
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port,
    signal: options.signal,
    onListen: options.onListen ?? (() => {}),
  }, async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", { status: 405 });
    }
    const route = Object.hasOwn(routes, pathname)
      ? routes[pathname]
      : undefined;
    return route ? await route() : new Response("Not found\n", { status: 404 });
  });
}
