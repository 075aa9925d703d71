/**
 * One coarse timer for every connection's deadlines (idle, age, the wait
 * for answers at the end): a connection only records when it is due, and a
 * single interval per server looks at all of them. A timer per connection
 * (armed, moved and cleared for every document) cost more CPU than the rest
 * of the connection's bookkeeping together; a deadline is now late by at
 * most one period.
 *
 * @module
 */

/** The longest period of a {@linkcode Sweep}, in ms. */
export const SWEEP_MAX_PERIOD_MS = 100;

/**
 * How often to sweep so that no deadline among `durationsMs` (0: none) is
 * late by more than a quarter of itself, nor by more than
 * {@linkcode SWEEP_MAX_PERIOD_MS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepPeriod } from "./sweep.ts";
 *
 * assert.equal(sweepPeriod([5000, 300_000, 1000]), 100);
 * assert.equal(sweepPeriod([200, 0]), 50);
 * ```
 */
export function sweepPeriod(durationsMs: readonly number[]): number {
  let period = SWEEP_MAX_PERIOD_MS;
  for (const ms of durationsMs) {
    if (ms > 0) period = Math.min(period, ms / 4);
  }
  return Math.max(1, Math.floor(period));
}

/**
 * Calls `tick` every `periodMs` while at least one holder needs it: the
 * interval runs only while something is open, so an idle server (and a
 * test's op sanitizer) sees no timer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sweep } from "./sweep.ts";
 *
 * let ticks = 0;
 * const sweep = new Sweep(5, () => ticks++);
 * sweep.hold();
 * await new Promise((resolve) => setTimeout(resolve, 30));
 * sweep.release();
 * assert.ok(ticks > 0);
 * ```
 */
export class Sweep {
  readonly #periodMs: number;
  readonly #tick: () => void;
  #holders = 0;
  #interval: ReturnType<typeof setInterval> | undefined;

  /** Builds an idle sweep: nothing runs until {@linkcode Sweep.hold}. */
  constructor(periodMs: number, tick: () => void) {
    this.#periodMs = periodMs;
    this.#tick = tick;
  }

  /** One more holder needs the sweep: starts it if it was stopped. */
  hold(): void {
    if (this.#holders++ === 0) {
      this.#interval = setInterval(this.#tick, this.#periodMs);
    }
  }

  /** A holder is done: stops the sweep after the last one. */
  release(): void {
    if (--this.#holders === 0) {
      clearInterval(this.#interval);
      this.#interval = undefined;
    }
  }
}
