/**
 * A set of block numbers kept as sorted runs of consecutive numbers, so a
 * chain of millions of stored blocks with a few holes is a few runs, and
 * its gaps are read off between them.
 *
 * @module
 */

/** An inclusive range of block numbers. */
export interface BlockRange {
  /** The first block number. */
  from: bigint;
  /** The last block number. */
  to: bigint;
}

/** The gaps of a {@linkcode RangeSet} over some span. */
export interface Gaps {
  /** The first `limit` missing ranges, lowest first. */
  ranges: BlockRange[];
  /** How many missing ranges there are in all. */
  count: number;
  /** How many block numbers are missing in all. */
  missing: bigint;
}

/**
 * Sorted, merged runs of block numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RangeSet } from "./ranges.ts";
 * const set = new RangeSet();
 * for (const n of [1n, 2n, 3n, 7n, 8n, 10n]) set.add(n);
 * assert.equal(set.runs, 3);
 * assert.equal(set.gaps(1n, 12n).missing, 6n); // 4-6, 9, 11-12
 * ```
 */
export class RangeSet {
  readonly #starts: bigint[] = [];
  readonly #ends: bigint[] = [];
  #size = 0n;

  /** Number of runs. */
  get runs(): number {
    return this.#starts.length;
  }

  /** Number of distinct block numbers held. */
  get size(): bigint {
    return this.#size;
  }

  /** The lowest number held. */
  get min(): bigint | undefined {
    return this.#starts[0];
  }

  /** The highest number held. */
  get max(): bigint | undefined {
    return this.#ends.at(-1);
  }

  /** Index of the last run starting at or before `n`, or -1. */
  #runAtOrBefore(n: bigint): number {
    // Blocks arrive mostly in order: check the last run first.
    const last = this.#starts.length - 1;
    if (last < 0 || this.#starts[last] <= n) return last;
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid] <= n) lo = mid;
      else hi = mid - 1;
    }
    return this.#starts[lo] <= n ? lo : -1;
  }

  /** Adds `n`; returns false when it was already held. */
  add(n: bigint): boolean {
    const i = this.#runAtOrBefore(n);
    if (i >= 0 && n <= this.#ends[i]) return false;
    this.#size++;
    const joinsLeft = i >= 0 && this.#ends[i] === n - 1n;
    const joinsRight = i + 1 < this.#starts.length &&
      this.#starts[i + 1] === n + 1n;
    if (joinsLeft && joinsRight) {
      this.#ends[i] = this.#ends[i + 1];
      this.#starts.splice(i + 1, 1);
      this.#ends.splice(i + 1, 1);
    } else if (joinsLeft) {
      this.#ends[i] = n;
    } else if (joinsRight) {
      this.#starts[i + 1] = n;
    } else {
      this.#starts.splice(i + 1, 0, n);
      this.#ends.splice(i + 1, 0, n);
    }
    return true;
  }

  /**
   * Adds every number of `from..to` (inclusive): a whole run at once, as a
   * store's summary gives them, lowest first.
   */
  addRange(from: bigint, to: bigint): void {
    if (from > to) return;
    const last = this.#starts.length - 1;
    if (last < 0 || this.#ends[last] < from - 1n) {
      // Past everything held (the usual case): append, or join the last run.
      this.#starts.push(from);
      this.#ends.push(to);
      this.#size += to - from + 1n;
      return;
    }
    if (this.#starts[last] <= from && this.#ends[last] >= from - 1n) {
      if (to > this.#ends[last]) {
        this.#size += to - this.#ends[last];
        this.#ends[last] = to;
      }
      return;
    }
    for (let n = from; n <= to; n++) this.add(n);
  }

  /**
   * The numbers of `from..to` (inclusive) not held: every missing range is
   * counted, the first `limit` are listed.
   */
  gaps(from: bigint, to: bigint, limit = Infinity): Gaps {
    const out: Gaps = { ranges: [], count: 0, missing: 0n };
    const note = (a: bigint, b: bigint) => {
      if (a > b) return;
      out.count++;
      out.missing += b - a + 1n;
      if (out.ranges.length < limit) out.ranges.push({ from: a, to: b });
    };
    let next = from;
    for (let i = Math.max(0, this.#runAtOrBefore(from)); i < this.runs; i++) {
      if (next > to) break;
      const start = this.#starts[i];
      const end = this.#ends[i];
      if (end < next) continue;
      if (start > to) break;
      note(next, start - 1n);
      next = end + 1n;
    }
    note(next, to);
    return out;
  }
}
