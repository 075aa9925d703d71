/**
 * One store's health as the stats side reports it: a timed ping that never
 * throws.
 *
 * @module
 */
import type { StoreHealth } from "./types.ts";

/**
 * Pings a store and says whether it answered, how fast, or why not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeStore } from "./health.ts";
 * const h = await probeStore("sqlite", "SQLite eth.sqlite", () => Promise.reject(new Error("gone")));
 * assert.equal(h.up, false);
 * assert.equal(h.error, "gone");
 * ```
 */
export async function probeStore(
  store: string,
  describe: string,
  ping: () => Promise<unknown>,
): Promise<StoreHealth> {
  const started = performance.now();
  try {
    await ping();
    return {
      store,
      describe,
      up: true,
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
    };
  } catch (error) {
    return { store, describe, up: false, error: (error as Error).message };
  }
}
