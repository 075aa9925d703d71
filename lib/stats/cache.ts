/**
 * Short-lived answers for the stats API. Under load many clients ask the
 * same question within the same second, and every answer costs several
 * store queries: each answer is computed once, shared by the requests that
 * wait for it, and served again until it is `ttlMs` old.
 *
 * @module
 */

/** Options for {@linkcode AnswerCache}. */
export interface AnswerCacheOptions {
  /** How long an answer is served again, in ms; 0 turns caching off. */
  ttlMs: number;
  /** Most answers kept (distinct paths and queries). Default 256. */
  maxEntries?: number;
  /** Clock in ms. Defaults to `performance.now`. */
  now?: () => number;
}

interface Entry {
  /** Never read itself: each request gets a clone, which is cheap. */
  response: Response;
  expires: number;
}

/**
 * Caches whole answers by key (a path and its query). Only `200` answers
 * are kept; an error answer or a thrown error reaches the requests that
 * were waiting for it and is computed afresh next time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AnswerCache } from "./cache.ts";
 * let now = 0;
 * const cache = new AnswerCache({ ttlMs: 1000, now: () => now });
 * let computed = 0;
 * const make = () => Promise.resolve(new Response(`n=${++computed}`));
 * assert.equal(await (await cache.answer("/x", make)).text(), "n=1");
 * now = 999; // within a second: the same answer
 * assert.equal(await (await cache.answer("/x", make)).text(), "n=1");
 * ```
 */
export class AnswerCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<Entry>>();

  /** Builds a cache; see {@linkcode AnswerCacheOptions}. */
  constructor(options: AnswerCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 256;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * The answer for `key`: a fresh copy of the cached one while it is
   * younger than the TTL, else what `compute` returns (one call for all
   * the requests that arrive while it runs).
   */
  async answer(
    key: string,
    compute: () => Response | Promise<Response>,
  ): Promise<Response> {
    if (this.#ttlMs <= 0) return await compute();
    const hit = this.#entries.get(key);
    if (hit && hit.expires > this.#now()) return hit.response.clone();
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#compute(key, compute);
      this.#pending.set(key, pending);
    }
    return (await pending).response.clone();
  }

  async #compute(
    key: string,
    compute: () => Response | Promise<Response>,
  ): Promise<Entry> {
    try {
      const computed = await compute();
      // A body held as bytes clones without teeing a stream.
      const response = new Response(await computed.arrayBuffer(), {
        status: computed.status,
        headers: computed.headers,
      });
      const entry = { response, expires: this.#now() + this.#ttlMs };
      if (response.status === 200) this.#store(key, entry);
      return entry;
    } finally {
      this.#pending.delete(key);
    }
  }

  #store(key: string, entry: Entry) {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      // Map order is insertion order: drop the oldest answer.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, entry);
  }
}
