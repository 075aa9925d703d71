/**
 * Turning a stream of chain heads into an ordered stream of sent documents:
 * backfill of skipped blocks, retries of failed sends, and a checkpoint.
 *
 * @module
 */
import { type Logger, silentLogger } from "./log.ts";

/** Options for {@linkcode BlockFollower}. */
export interface BlockFollowerOptions {
  /** Sends the document of one block; throws when it was not delivered. */
  send: (block: bigint) => Promise<void>;
  /** The last block already sent (from a checkpoint), if any. */
  lastSent?: bigint;
  /** Most blocks sent to fill one gap; older ones are skipped. Default 128. */
  maxBackfill?: number;
  /** Called after each successful send, e.g. to write a checkpoint. */
  onSent?: (block: bigint) => void | Promise<void>;
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
  /** Heads that were not above the last one sent. */
  staleHeads: number;
}

/**
 * Follows the chain head. Each call to {@linkcode BlockFollower.advance}
 * sends, in block order, every block after the last one sent up to the new
 * head (at most `maxBackfill` of them). A block counts as sent only once
 * `send` resolved, so a failed send is retried on the next call; heads at or
 * below the last one sent are ignored (stale load-balanced nodes). Calls are
 * serialised, so concurrent sources (polling and a subscription) never send
 * a block twice or out of order.
 */
export class BlockFollower {
  readonly stats: FollowerStats;
  readonly #send: (block: bigint) => Promise<void>;
  readonly #maxBackfill: bigint;
  readonly #onSent?: (block: bigint) => void | Promise<void>;
  readonly #log: Logger;
  #lastSent: bigint | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /** Builds a follower. */
  constructor(options: BlockFollowerOptions) {
    this.#send = options.send;
    this.#lastSent = options.lastSent;
    this.#maxBackfill = BigInt(Math.max(1, options.maxBackfill ?? 128));
    this.#onSent = options.onSent;
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
   * `head` is sent, `false` when a send failed (it is retried next time).
   */
  advance(head: bigint): Promise<boolean> {
    const run = this.#queue.then(() => this.#advance(head));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #advance(head: bigint): Promise<boolean> {
    if (this.stats.head === undefined || head > this.stats.head) {
      this.stats.head = head;
    }
    const last = this.#lastSent;
    if (last !== undefined && head <= last) {
      if (head < last) {
        this.stats.staleHeads++;
        this.#log.debug(`Ignoring head ${head}, below ${last} already sent`);
      }
      return true;
    }
    let from = last === undefined ? head : last + 1n;
    if (head - from + 1n > this.#maxBackfill) {
      const skipTo = head - this.#maxBackfill;
      const count = skipTo - from + 1n;
      this.stats.skipped += Number(count);
      this.#log.warn(
        `Gap of ${
          head - from + 1n
        } blocks exceeds --max-backfill ${this.#maxBackfill}: skipping ${from}..${skipTo}`,
      );
      from = skipTo + 1n;
    }
    for (let block = from; block <= head; block++) {
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
      await this.#onSent?.(block);
    }
    return true;
  }
}
