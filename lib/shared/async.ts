/**
 * Waiting: the one abortable sleep every loop uses, the one bounded wait
 * every shutdown uses, and the one backoff with jitter every retry loop draws
 * its delays from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abortableSleep, backoffDelay } from "./async.ts";
 *
 * const stop = new AbortController();
 * const started = Date.now();
 * const slept = abortableSleep(60_000, stop.signal);
 * stop.abort();
 * await slept;
 * assert.ok(Date.now() - started < 1000);
 *
 * const third = backoffDelay(3, { initialMs: 250, maxMs: 5000, random: () => 0 });
 * assert.equal(third, 500); // 1000 ms step, at the low end of [50 %, 100 %]
 * ```
 *
 * @module
 */

/**
 * Resolves after `ms`, or as soon as `signal` (if any) aborts. Never
 * rejects.
 */
export function abortableSleep(
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits for `promise` to settle, but for at most `ms`: resolves `true` when
 * it settled (fulfilled or rejected) in time, `false` when the time ran out.
 * Never rejects, and leaves no timer behind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settleWithin } from "./async.ts";
 *
 * assert.equal(await settleWithin(Promise.reject(new Error("x")), 1000), true);
 * assert.equal(await settleWithin(new Promise(() => {}), 10), false);
 * ```
 */
export async function settleWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@linkcode backoffStep} and {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** The step of the first retry, in ms. */
  initialMs: number;
  /** The largest step, in ms. */
  maxMs: number;
  /**
   * The delay is the step scaled by a random factor in `[low, high)`, so a
   * fleet does not retry in lockstep.
   *
   * @default {[0.5, 1]}
   */
  jitter?: readonly [number, number];
  /**
   * Uniform random in [0, 1).
   *
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * The step before retry number `attempt` (1 for the first): `initialMs`
 * doubling per attempt, capped at `maxMs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffStep } from "./async.ts";
 *
 * const steps = [1, 2, 3, 4, 5].map((n) =>
 *   backoffStep(n, { initialMs: 100, maxMs: 1000 })
 * );
 * assert.deepEqual(steps, [100, 200, 400, 800, 1000]);
 * ```
 */
export function backoffStep(
  attempt: number,
  { initialMs, maxMs }: BackoffOptions,
): number {
  return Math.min(
    maxMs,
    initialMs * 2 ** Math.min(30, Math.max(0, attempt - 1)),
  );
}

/**
 * The delay before retry number `attempt`: its {@linkcode backoffStep}
 * scaled by the jitter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./async.ts";
 *
 * const options = { initialMs: 100, maxMs: 2000, jitter: [0.8, 1.2] } as const;
 * assert.equal(backoffDelay(2, { ...options, random: () => 0 }), 160);
 * assert.equal(backoffDelay(2, { ...options, random: () => 0.5 }), 200);
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const step = backoffStep(attempt, options);
  const [low, high] = options.jitter ?? [0.5, 1];
  const random = options.random ?? Math.random;
  return step * low + random() * step * (high - low);
}
