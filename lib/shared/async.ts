/**
 * Waiting: an abortable sleep, the one every loop uses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abortableSleep } from "./async.ts";
 *
 * const stop = new AbortController();
 * const started = Date.now();
 * const slept = abortableSleep(60_000, stop.signal);
 * stop.abort();
 * await slept;
 * assert.ok(Date.now() - started < 1000);
 * ```
 *
 * @module
 */

/** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
