/**
 * Turning a stream of chain heads into an ordered stream of sent documents:
 * backfill of skipped blocks, retries of failed sends, and a checkpoint.
 *
 * @module
 */
import { type Logger, silentLogger } from "../shared/mod.ts";

/** Most blocks sent for one jump of the head, the head included. */
export const DEFAULT_MAX_BACKFILL = 128;

/** Options for {@linkcode BlockFollower}. */
export interface BlockFollowerOptions {
  /** Sends the document of one block; throws when it was not delivered. */
  send: (block: bigint) => Promise<void>;
  /** The last block already sent (from a checkpoint), if any. */
  lastSent?: bigint;
  /**
   * Most blocks sent for one jump of the head, the head included; when the
   * head moves further, the oldest blocks of the gap are skipped; 0 and 1
   * both mean "the head only".
   *
   * @default {DEFAULT_MAX_BACKFILL}
   */
  maxBackfill?: number;
  /**
   * Called after each successful send, e.g. to write a checkpoint; an error
   * it throws is logged and does not stop the following sends.
   */
  onSent?: (block: bigint) => void | Promise<void>;
  /** Once aborted, no further send starts (the one in flight finishes). */
  signal?: AbortSignal;
  /** Where to log. */
  log?: Logger;
}

/** Counters a follower keeps, for metrics. */
export interface FollowerStats {
  /** Highest head seen. */
  head: bigint | undefined;
  /** Documents delivered. */
  sent: number;
  /** Of those, blocks sent to fill a gap (not the head itself). */
  backfilled: number;
  /** Blocks never sent because a gap exceeded `maxBackfill`. */
  skipped: number;
  /** Failed send attempts. */
  sendFailures: number;
  /** Heads below the highest one seen (stale load-balanced nodes). */
  staleHeads: number;
}

/**
 * Follows the chain head. Each call to {@linkcode BlockFollower.advance}
 * sends, in block order, every block after the last one sent up to the
 * highest head seen (at most `maxBackfill` of them). A block counts as sent
 * only once `send` resolved, so a failed send is retried on the next call;
 * heads at or below the last one sent never cause a send (stale
 * load-balanced nodes). Runs are serialised and coalesced: heads that arrive
 * while a run is sending are served by one later run up to the highest of
 * them, so a burst announced block by block (a subscription) obeys the same
 * cap as a burst seen by one poll, and concurrent sources never send a block
 * twice or out of order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BlockFollower } from "./follower.ts";
 * const sent: bigint[] = [];
 * const follower = new BlockFollower({ lastSent: 9n, send: async (b) => { sent.push(b); } });
 * await follower.advance(12n);
 * assert.deepEqual(sent, [10n, 11n, 12n]);
 * ```
 */
export class BlockFollower {
  /** Live counters (read by metrics). */
  readonly stats: FollowerStats;
  readonly #send: (block: bigint) => Promise<void>;
  readonly #maxBackfill: bigint;
  readonly #onSent?: (block: bigint) => void | Promise<void>;
  readonly #signal?: AbortSignal;
  readonly #log: Logger;
  #lastSent: bigint | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #pending: Promise<boolean> | undefined;
  #warnedBelowCheckpoint = false;

  /** Builds a follower. */
  constructor(options: BlockFollowerOptions) {
    this.#send = options.send;
    this.#lastSent = options.lastSent;
    this.#maxBackfill = BigInt(
      Math.max(1, options.maxBackfill ?? DEFAULT_MAX_BACKFILL),
    );
    this.#onSent = options.onSent;
    this.#signal = options.signal;
    this.#log = options.log ?? silentLogger;
    this.stats = {
      head: undefined,
      sent: 0,
      backfilled: 0,
      skipped: 0,
      sendFailures: 0,
      staleHeads: 0,
    };
  }

  /** The last block sent, if any. */
  get lastSent(): bigint | undefined {
    return this.#lastSent;
  }

  /**
   * Sends what `head` makes due. Resolves `true` when everything up to
   * `head` is sent (or the head was stale), `false` when a send failed (it
   * is retried on the next call) or the follower was stopped.
   */
  advance(head: bigint): Promise<boolean> {
    const highest = this.stats.head;
    if (highest !== undefined && head < highest) {
      this.stats.staleHeads++;
      this.#log.debug(`Ignoring head ${head}, below ${highest} seen before`);
    }
    if (highest === undefined || head > highest) this.stats.head = head;
    this.#warnIfFarBelow(head);
    if (this.#pending) return this.#pending;
    const run = this.#queue.then(() => {
      this.#pending = undefined;
      return this.#advance();
    });
    this.#pending = run;
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Resolves once no run is in flight or queued. */
  async idle(): Promise<void> {
    while (true) {
      const queue = this.#queue;
      await queue;
      if (queue === this.#queue) return;
    }
  }

  async #advance(): Promise<boolean> {
    const head = this.stats.head!;
    const last = this.#lastSent;
    if (last !== undefined && head <= last) return true;
    let from = last === undefined ? head : last + 1n;
    if (head - from + 1n > this.#maxBackfill) {
      const skipTo = head - this.#maxBackfill;
      this.stats.skipped += Number(skipTo - from + 1n);
      this.#log.warn(
        `Gap of ${
          head - from + 1n
        } blocks exceeds --max-backfill ${this.#maxBackfill}: skipping ${from}..${skipTo}, sending ${
          skipTo + 1n
        }..${head}`,
      );
      from = skipTo + 1n;
    }
    for (let block = from; block <= head; block++) {
      if (this.#signal?.aborted) return false;
      try {
        await this.#send(block);
      } catch (error) {
        this.stats.sendFailures++;
        this.#log.warn(
          `Block ${block} not sent, will retry: ${(error as Error).message}`,
        );
        return false;
      }
      this.#lastSent = block;
      this.stats.sent++;
      if (block !== head) this.stats.backfilled++;
      this.#log.debug(`Sent block ${block}`);
      try {
        await this.#onSent?.(block);
      } catch (error) {
        // The block is out; failing to record it must not stop the next ones.
        this.#log.error(
          `After sending block ${block}: ${(error as Error).message}`,
        );
      }
    }
    return true;
  }

  #warnIfFarBelow(head: bigint) {
    // A head far below the checkpoint is a different or reset chain, not a
    // lagging node: nothing will be sent until it passes the checkpoint.
    const last = this.#lastSent;
    if (
      this.#warnedBelowCheckpoint || last === undefined ||
      last - head <= this.#maxBackfill
    ) return;
    this.#warnedBelowCheckpoint = true;
    this.#log.warn(
      `Head ${head} is ${
        last - head
      } blocks below block ${last} already sent: nothing is sent until the chain passes it (a reset chain? remove the --state-file to start over)`,
    );
  }
}
