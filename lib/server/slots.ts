/**
 * The `--max-connections` slots, and who gives one up under pressure.
 *
 * When every slot is taken the accept loop still accepts one more peer:
 * Deno's listener offers no other way to learn that a peer waits (the
 * kernel completes its handshake into the listen backlog either way, and
 * the backlog's length is not visible), so a pending `accept()` that
 * returns is the signal. That peer is held, unread, while the connections
 * that sit between frames (every frame read has been answered, nothing
 * half-read) yield: the longest-idle one is closed first, one at a time,
 * until the waiting peer has a slot. A connection busy with a frame or an
 * answer is never closed this way. Under no pressure (no peer waiting)
 * nothing is closed; at most one peer beyond the limit is held at once.
 *
 * @module
 */
import { type Logger, RepeatGate, settleWithin } from "../shared/mod.ts";

/** What {@linkcode Slots} needs of a connection. */
export interface Yieldable {
  /**
   * When the connection's last answer was written (or it was accepted),
   * on the `performance.now()` clock, while it sits between frames;
   * `undefined` while it is busy.
   */
  idleSince(): number | undefined;
  /** Closes the connection if it is between frames; true if it did. */
  yieldSlot(): boolean;
  /** Where {@linkcode OpenConnections} keeps it: theirs to set, -1 when out. */
  slot: number;
}

/**
 * The open connections: an array, each connection knowing its index, so
 * adding and removing are O(1) and iteration is over a snapshot. Not a
 * `Set`: churned by thousands of short connections a second, a `Set` made
 * V8 promote about 1.3 KB per connection to the old generation (measured
 * with `--trace-gc-nvp`, 32 senders, a connection per document), and the
 * scavenges grew from under 1 ms to 9-11 ms; this array promotes none.
 */
export class OpenConnections<C extends { slot: number }> {
  readonly #items: C[] = [];

  /** How many are open. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds `item` (not already in). */
  add(item: C): void {
    item.slot = this.#items.length;
    this.#items.push(item);
  }

  /** Removes `item`, if it is in. */
  delete(item: C): void {
    const i = item.slot;
    if (this.#items[i] !== item) return;
    const last = this.#items.pop()!;
    if (last !== item) {
      this.#items[i] = last;
      last.slot = i;
    }
    item.slot = -1;
  }

  /** The open connections at the time of the call. */
  [Symbol.iterator](): Iterator<C> {
    return this.#items.slice()[Symbol.iterator]();
  }
}

/** A connection idle for less than this is not asked to yield, in ms. */
export const YIELD_MIN_IDLE_MS = 1000;
/** How often pressure looks again for a connection that can yield, in ms. */
const PRESSURE_CHECK_MS = 100;
/** The pressure warning is written at most this often, in ms. */
const PRESSURE_WARNING_MS = 10_000;

/** Options for {@linkcode Slots}. */
export interface SlotsOptions {
  /** Connections served at once at most. */
  max: number;
  /** Counts connections closed to make room. */
  stats: { yielded: number };
  /** Where to log. */
  log: Logger;
  /** Clock in ms, for the warning's rate. */
  now: () => number;
}

/** The open connections, bounded, and the waits for a free slot. */
export class Slots<C extends Yieldable> {
  /** The connections holding a slot. */
  readonly open: OpenConnections<C> = new OpenConnections();
  readonly #o: SlotsOptions;
  readonly #yielding = new Set<C>();
  readonly #warning: RepeatGate;
  #freed: PromiseWithResolvers<void> | undefined;

  /** No slot taken yet. */
  constructor(options: SlotsOptions) {
    this.#o = options;
    this.#warning = new RepeatGate({
      burst: 1,
      intervalMs: PRESSURE_WARNING_MS,
      now: options.now,
    });
  }

  /** Connections served at once at most. */
  get max(): number {
    return this.#o.max;
  }

  /** True while every slot is taken. */
  get full(): boolean {
    return this.open.size >= this.#o.max;
  }

  /** `connection` takes a slot. */
  take(connection: C): void {
    this.open.add(connection);
  }

  /** `connection` closed: its slot is free. */
  free(connection: C): void {
    this.open.delete(connection);
    this.#yielding.delete(connection);
    this.#freed?.resolve();
  }

  /** Ends every wait (shutdown). */
  release(): void {
    this.#freed?.resolve();
  }

  /**
   * Resolves once a slot is free for a peer that waits, closing the
   * longest-idle connections between frames meanwhile; or when `stop()`
   * says to give up (shutdown).
   */
  async wait(stop: () => boolean): Promise<void> {
    while (this.full && !stop()) {
      this.#freed = Promise.withResolvers();
      this.#yieldOne();
      await settleWithin(this.#freed.promise, PRESSURE_CHECK_MS);
    }
    this.#freed = undefined;
  }

  /** Closes the longest-idle connection, unless enough are closing. */
  #yieldOne() {
    if (this.open.size - this.#yielding.size < this.#o.max) return;
    const now = performance.now();
    let idlest: C | undefined;
    let since = now - YIELD_MIN_IDLE_MS;
    for (const connection of this.open) {
      if (this.#yielding.has(connection)) continue;
      const idle = connection.idleSince();
      if (idle !== undefined && idle <= since) {
        idlest = connection;
        since = idle;
      }
    }
    if (idlest === undefined || !idlest.yieldSlot()) return;
    this.#yielding.add(idlest);
    this.#o.stats.yielded++;
    if (this.#warning.pass() !== undefined) {
      this.#o.log.warn(
        `${this.#o.max} connections are open (--max-connections) and peers ` +
          `wait: closing the longest-idle ones between frames to make room ` +
          `(${this.#o.stats.yielded} so far)`,
      );
    }
  }
}
