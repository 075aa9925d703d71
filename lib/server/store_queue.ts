/**
 * The write path of one store: a bounded, ordered queue between the ingest
 * loop (which must never wait for a store) and the store (which may be slow
 * or gone for a while).
 *
 * @module
 */
import {
  abortableSleep,
  backoffDelay,
  backoffStep,
  Deque,
  type Logger,
  RepeatGate,
  settleWithin,
  silentLogger,
} from "../shared/mod.ts";
import {
  type ReceivedDocument,
  StoreError,
  type StoreWriter,
} from "../store/mod.ts";
import {
  REPEAT_WARNING_MS,
  StoreHealth,
  type StoreQueueStats,
} from "./store_health.ts";

import {
  type CloseReport,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MIN_BACKOFF_MS,
  DEFAULT_STORE_QUEUE_CAPACITY,
  type StoreQueueOptions,
} from "./store_queue_options.ts";

export type { StoreQueueStats } from "./store_health.ts";
export * from "./store_queue_options.ts";

/**
 * Holds documents for one store and writes them in order, in batches: while
 * one batch is being written the next ones accumulate, so a fast stream of
 * documents becomes few large writes instead of one round trip each. While
 * the store is unreachable (at start or later) documents are held and the
 * write is retried with exponential backoff; they are flushed in order when
 * it is back. A full queue drops its oldest document (counted and logged).
 * A batch the store refuses for its content is split until the document
 * at fault is found; if the store takes the next one, that document alone
 * is set aside (dead-lettered), else the store is failing and nothing is
 * skipped.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a store writer (tests/server/store_queue_test.ts runs it).
 * import { StoreQueue } from "./store_queue.ts";
 * const queue = new StoreQueue({ name: "sqlite", open: async () => writer });
 * queue.push(doc);
 * await queue.close(10_000);
 * ```
 */
export class StoreQueue {
  /** Live counters. */
  readonly stats: StoreQueueStats;
  readonly #health: StoreHealth;
  readonly #o:
    & Required<
      Omit<StoreQueueOptions, "onLatency" | "onDeadLetter" | "onLeft">
    >
    & Pick<StoreQueueOptions, "onLatency" | "onDeadLetter" | "onLeft">;
  readonly #log: Logger;
  readonly #items = new Deque<ReceivedDocument>();
  #batch: ReceivedDocument[] = [];
  #batchLimit: number;
  #suspect: { doc: ReceivedDocument; error: StoreError } | undefined;
  #writer: StoreWriter | undefined;
  #closing = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  #interrupt: (() => void) | undefined;
  #dropWarning: RepeatGate;
  // Documents leave in FIFO order (stored, skipped or dropped), so one count
  // says whether the document pushed as number `n` has left.
  #pushed = 0;
  #left = 0;
  #waiters = new Deque<{ seq: number; resolve: () => void }>();
  // While the store writes but more slowly than documents arrive: see
  // `behind`. An outage (`#failing`) never holds intake back.
  #failing = false;
  #lag: PromiseWithResolvers<void> | undefined;
  #lagLow = 0;
  readonly #done: Promise<void>;

  /** Creates the queue and starts its writer loop. */
  constructor(options: StoreQueueOptions) {
    this.#o = {
      describe: options.name,
      capacity: DEFAULT_STORE_QUEUE_CAPACITY,
      maxBatch: DEFAULT_MAX_BATCH,
      maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
      lingerMs: 0,
      lingerQuietMs: 0,
      minBackoffMs: DEFAULT_MIN_BACKOFF_MS,
      maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
      log: silentLogger,
      now: () => performance.now(),
      ...options,
    };
    this.#log = this.#o.log;
    this.#health = new StoreHealth({
      name: this.#o.name,
      describe: this.#o.describe,
      log: this.#log,
      now: this.#o.now,
      onLatency: this.#o.onLatency,
    });
    this.stats = this.#health.stats;
    this.#dropWarning = new RepeatGate({
      burst: 1,
      intervalMs: REPEAT_WARNING_MS,
      now: this.#o.now,
    });
    this.#batchLimit = this.#o.maxBatch;
    this.#done = this.#run();
  }

  /** The store's name. */
  get name(): string {
    return this.#o.name;
  }

  /**
   * Adds a document; never waits. Returns its ticket for
   * {@linkcode StoreQueue.settled}. After `close` documents are refused.
   */
  push(doc: ReceivedDocument): number {
    if (this.#closing) {
      this.stats.dropped++;
      this.#log.warn(
        `${this.#o.name}: document ${doc.hash} arrived after shutdown began; not stored`,
      );
      return 0;
    }
    if (this.#items.size >= this.#o.capacity) {
      const lost = this.#items.shift()!;
      // Only when full (a long outage): counting it may release the waiter
      // of a batch still in flight a little early, which the caller's own
      // bound on waiting makes harmless.
      this.#leave(1);
      this.stats.dropped++;
      this.#log.debug(
        `${this.#o.name}: queue full, dropped ${lost.hash} from ${lost.ip}`,
      );
      const heldBack = this.#dropWarning.pass();
      if (heldBack !== undefined) {
        this.#log.warn(
          `${this.#o.describe}: queue full (${this.#o.capacity} documents, ` +
            `--store-queue-size): dropped the ${heldBack + 1} oldest ` +
            `since the last warning, ${this.stats.dropped} in all`,
        );
      }
    }
    this.#items.push(doc);
    this.#updateQueued();
    this.#wake?.();
    return ++this.#pushed;
  }

  /**
   * Resolves once the document of `ticket` has left the queue (stored, or
   * given up on); `undefined` when it already has, so callers need no
   * promise in the common case of a fast store.
   */
  settled(ticket: number): Promise<void> | undefined {
    if (ticket <= this.#left) return undefined;
    return new Promise((resolve) =>
      this.#waiters.push({ seq: ticket, resolve })
    );
  }

  /**
   * Resolves once at most `maxQueued / 2` documents wait, while more than
   * `maxQueued` do and the store is writing (not failing, not closing);
   * `undefined` otherwise. For a caller that acknowledges from elsewhere
   * (the spool) to stop reading while a working store falls behind: a
   * backlog larger than shutdown can store would be left to the next start.
   */
  behind(maxQueued: number): Promise<void> | undefined {
    if (this.#failing || this.#closing || this.#size() <= maxQueued) {
      return undefined;
    }
    this.#lagLow = Math.floor(maxQueued / 2);
    return (this.#lag ??= Promise.withResolvers()).promise;
  }

  #releaseLag() {
    this.#lag?.resolve();
    this.#lag = undefined;
  }

  /**
   * `count` more documents have left the queue, in order: their waiters are
   * released. Stored, dead-lettered or dropped ones are reported to
   * `onLeft`; `kept` ones (still unstored at close) are not, so a spool
   * behind the queue keeps them for the next start.
   */
  #leave(count: number, { kept = false }: { kept?: boolean } = {}) {
    this.#left += count;
    if (!kept) this.#o.onLeft?.(this.#left);
    while ((this.#waiters.peek()?.seq ?? Infinity) <= this.#left) {
      this.#waiters.shift()!.resolve();
    }
  }

  /**
   * Stops taking documents and keeps writing what is held for up to
   * `timeoutMs`; then reports what is left and closes the store.
   */
  async close(timeoutMs: number): Promise<CloseReport> {
    this.#closing = true;
    this.#releaseLag();
    this.#wake?.();
    await settleWithin(this.#done, timeoutMs);
    this.#stopped = true;
    this.#wake?.();
    this.#interrupt?.();
    const unsaved = [
      ...this.#suspect ? [this.#suspect.doc] : [],
      ...this.#batch,
      ...this.#items.drain(),
    ];
    this.#suspect = undefined;
    this.#batch = [];
    this.#leave(unsaved.length, { kept: true });
    this.#updateQueued();
    if (unsaved.length > 0) {
      this.#log.warn(
        `${this.#o.describe}: ${unsaved.length} documents not stored yet at ` +
          `shutdown, kept in the spool for the next start (oldest ${
            unsaved[0].hash
          } from ` +
          `${unsaved[0].ip}, newest ${unsaved.at(-1)!.hash})`,
      );
      for (const doc of unsaved) {
        this.#log.debug(
          `${this.#o.name}: not stored: ${doc.hash} from ${doc.ip}:${doc.port}`,
        );
      }
    }
    const writer = this.#writer;
    this.#writer = undefined;
    if (writer) await writer.close().catch(() => {});
    return { unsaved };
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      if (!this.#writer) {
        const opened = await this.#open(failures);
        if (opened === "stop") break;
        failures = opened;
        if (failures > 0) continue;
      }
      if (this.#batch.length === 0) {
        if (this.#items.size === 0 && this.#suspect) {
          // Nothing else to tell a bad document from a failing store by.
          this.#batch = [this.#suspect.doc];
          this.#suspect = undefined;
        }
        if (this.#items.size === 0 && this.#batch.length === 0) {
          if (this.#closing) break;
          await this.#idle();
          continue;
        }
        if (this.#batch.length === 0) {
          // Documents are durable in the spool already: waiting a little
          // for more makes one large write of many small ones (a
          // transaction, a round trip, a message to the SQLite worker each).
          await this.#linger();
          if (this.#stopped) break;
          this.#batch = this.#take();
        }
      }
      const started = this.#o.now();
      try {
        const firsts = await this.#writer!.save(this.#batch);
        this.#health.saved(
          this.#batch,
          firsts,
          this.#o.now() - started,
          this.#size(),
        );
        this.#updateQueued();
        let leaving = this.#batch.length;
        if (this.#suspect) {
          // The store took the documents after it: only this one is bad.
          await this.#deadLetter(this.#suspect.doc, this.#suspect.error);
          this.#suspect = undefined;
          leaving++;
        }
        this.#leave(leaving);
        this.#batch = [];
        // The saved batch no longer waits: without this, `queued` stays at
        // its size until the next push.
        this.#updateQueued();
        this.#batchLimit = Math.min(this.#batchLimit * 2, this.#o.maxBatch);
        failures = 0;
        this.#failing = false;
      } catch (error) {
        if (
          error instanceof StoreError && error.kind === "rejected" &&
          this.#refused(error)
        ) {
          continue;
        }
        await this.#retryLater(error, ++failures);
      }
    }
  }

  /**
   * Opens the store: 0 once open, `failures + 1` after a failed attempt
   * (and its backoff), "stop" when the queue is done meanwhile.
   */
  async #open(failures: number): Promise<number | "stop"> {
    try {
      const writer = await this.#o.open();
      if (this.#stopped) {
        await writer.close().catch(() => {});
        return "stop";
      }
      this.#writer = writer;
      this.#health.opened();
      return 0;
    } catch (error) {
      if (this.#closing && this.#size() === 0) return "stop";
      await this.#retryLater(error, ++failures);
      return failures;
    }
  }

  #take(): ReceivedDocument[] {
    const batch: ReceivedDocument[] = [];
    let bytes = 0;
    while (this.#items.size > 0 && batch.length < this.#batchLimit) {
      const next = this.#items.peek()!;
      if (
        batch.length > 0 && bytes + next.payload.length > this.#o.maxBatchBytes
      ) {
        break;
      }
      bytes += next.payload.length;
      batch.push(this.#items.shift()!);
    }
    return batch;
  }

  /**
   * A batch was refused for its content. Halves it until one document is
   * alone; that one is set aside while the next is tried: if the store takes
   * the next, only the first is bad (dead-lettered); if it refuses that too,
   * the store itself is failing (wrong type, privilege, narrowed column) and
   * nothing is skipped. Returns false when the store is failing.
   */
  #refused(error: StoreError): boolean {
    if (this.#batch.length > 1) {
      // Halve until the document at fault is alone; the rest go back first.
      const half = Math.ceil(this.#batch.length / 2);
      this.#items.unshiftAll(this.#batch.slice(half));
      this.#batch = this.#batch.slice(0, half);
      this.#batchLimit = half;
      this.#log.debug(
        `${this.#o.name}: batch refused (${error.message}); retrying in halves`,
      );
      return true;
    }
    if (this.#suspect === undefined && this.#items.size > 0) {
      this.#suspect = { doc: this.#batch[0], error };
      this.#batch = [];
      this.#batchLimit = 1;
      this.#log.debug(
        `${this.#o.name}: document ${this.#suspect.doc.hash} refused ` +
          `(${error.message}); trying the next one alone`,
      );
      return true;
    }
    if (this.#suspect) {
      // Both refused: back in order, the suspect first.
      this.#items.unshiftAll(this.#batch);
      this.#batch = [this.#suspect.doc];
      this.#suspect = undefined;
    }
    return false;
  }

  async #deadLetter(doc: ReceivedDocument, error: StoreError) {
    this.stats.rejected++;
    this.#log.error(
      `${this.#o.describe}: refused document ${doc.hash} from ` +
        `${doc.ip}:${doc.port} while taking others (${error.message}); ` +
        `kept in the dead-letter file, not stored`,
    );
    while (this.#o.onDeadLetter) {
      try {
        await this.#o.onDeadLetter(doc, error);
        return;
      } catch (failure) {
        this.#log.warn(
          `${this.#o.name}: cannot keep ${doc.hash} in the dead-letter file ` +
            `(${(failure as Error).message}); retrying`,
        );
        await this.#sleep(1000);
        if (this.#stopped) throw failure;
      }
    }
  }

  #size(): number {
    return this.#items.size + this.#batch.length;
  }

  #updateQueued() {
    this.stats.queued = this.#size();
    if (this.#lag && this.stats.queued <= this.#lagLow) this.#releaseLag();
  }

  #idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /**
   * Logs failure number `failures` in a row and waits its backoff (±20 %,
   * so a fleet does not retry a restarted store in lockstep).
   */
  async #retryLater(error: unknown, failures: number): Promise<void> {
    this.#failing = true;
    this.#releaseLag();
    const backoff = {
      initialMs: this.#o.minBackoffMs,
      maxMs: this.#o.maxBackoffMs,
      jitter: [0.8, 1.2],
    } as const;
    this.#health.failed(error, this.#size(), backoffStep(failures, backoff));
    await this.#sleep(backoffDelay(failures, backoff));
  }

  /**
   * Waits up to `lingerMs` for a batch to fill, or until no document came
   * in for `lingerQuietMs`, or the queue closes.
   */
  async #linger(): Promise<void> {
    const { lingerMs, lingerQuietMs } = this.#o;
    const until = this.#o.now() + lingerMs;
    let seen = this.#items.size;
    while (!this.#closing && !this.#stopped && seen < this.#batchLimit) {
      const left = until - this.#o.now();
      if (left <= 0) return;
      await this.#sleep(
        lingerQuietMs > 0 ? Math.min(left, lingerQuietMs) : left,
      );
      if (this.#items.size === seen) return;
      seen = this.#items.size;
    }
  }

  /** A backoff or a linger: only shutdown's deadline cuts it short, not a push. */
  async #sleep(ms: number): Promise<void> {
    if (this.#stopped) return;
    const interrupted = new AbortController();
    this.#interrupt = () => interrupted.abort();
    await abortableSleep(ms, interrupted.signal);
    this.#interrupt = undefined;
  }
}
