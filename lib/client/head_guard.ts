/**
 * Plausibility of the heads an RPC endpoint announces: one answer that jumps
 * far ahead must not move the client, because the follower would skip real
 * blocks to reach it and then ignore the chain until it caught up.
 *
 * @module
 */
import { type Logger, silentLogger } from "../shared/mod.ts";

/** Blocks a head may jump ahead of the believed one and still be believed. */
export const DEFAULT_MAX_JUMP = 128;

/** Options for {@linkcode HeadGuard}. */
export interface HeadGuardOptions {
  /**
   * Heads more than this many blocks above the highest believed one (or any
   * head, before one is believed) wait for confirmation.
   *
   * @default {DEFAULT_MAX_JUMP}
   */
  maxJump?: number;
  /** Where to log. */
  log?: Logger;
}

/** Counters a guard keeps, for metrics. */
export interface HeadGuardStats {
  /** Heads held back until the next answer. */
  held: number;
  /** Held heads the next answer did not confirm: they were never used. */
  discarded: number;
}

/**
 * Decides which announced heads to act on. A head within `maxJump` blocks
 * above the highest believed head (or at or below it) is passed on at once.
 * A head further ahead, and the very first head, is held until the next
 * answer: when that one lies between the held head and `maxJump` above it,
 * the jump is real and the new answer is passed on; otherwise the held head
 * is dropped with a warning and the new answer is judged afresh. A chain
 * really jumping (a node catching up, an outage) costs one more poll.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeadGuard } from "./head_guard.ts";
 * const guard = new HeadGuard({ maxJump: 10 });
 * assert.equal(guard.check(100n), undefined); // the first head waits for a second answer
 * assert.equal(guard.check(101n), 101n);
 * assert.equal(guard.check(10n ** 12n), undefined); // far ahead, held
 * assert.equal(guard.check(102n), 102n); // the jump was not confirmed and is dropped
 * ```
 */
export class HeadGuard {
  /** Live counters. */
  readonly stats: HeadGuardStats = { held: 0, discarded: 0 };
  readonly #maxJump: bigint;
  readonly #log: Logger;
  #believed: bigint | undefined;
  #held: bigint | undefined;

  /** Builds a guard. */
  constructor(options: HeadGuardOptions = {}) {
    this.#maxJump = BigInt(Math.max(0, options.maxJump ?? DEFAULT_MAX_JUMP));
    this.#log = options.log ?? silentLogger;
  }

  /** The highest head passed on so far. */
  get believed(): bigint | undefined {
    return this.#believed;
  }

  /** Returns the head to act on, or `undefined` while one is held. */
  check(head: bigint): bigint | undefined {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) {
      if (head >= held && head - held <= this.#maxJump) return this.#pass(head);
      this.stats.discarded++;
      this.#log.warn(
        `Ignoring head ${held}: ${
          this.#believed === undefined
            ? "the first answer"
            : `${held - this.#believed} blocks ahead of ${this.#believed}`
        }, not confirmed by the next answer (${head})`,
      );
    }
    const believed = this.#believed;
    if (believed !== undefined && head - believed <= this.#maxJump) {
      return head > believed ? this.#pass(head) : head;
    }
    this.#held = head;
    this.stats.held++;
    this.#log.debug(`Holding head ${head} until the next answer confirms it`);
    return undefined;
  }

  #pass(head: bigint): bigint {
    this.#believed = head;
    return head;
  }
}
