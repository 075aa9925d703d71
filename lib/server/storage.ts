/**
 * The server's storage: one {@linkcode StoreQueue} per configured store
 * (MySQL and Redis at once, as the originals; else the SQLite file), fed
 * with every accepted document.
 *
 * @module
 */
import { type StoreConfig } from "../store/options.ts";
import { type Logger, silentLogger } from "../shared/log.ts";
import { writerTargets } from "../store/mod.ts";
import { StoreQueue, type StoreQueueStats } from "./store_queue.ts";
import type { ReceivedDocument } from "../store/types.ts";

/** Options for {@linkcode Storage.open}. */
export interface StorageOptions {
  /** Documents held per store while it is down. Default: `--store-queue-size`'s. */
  capacity?: number;
  /** Where to log. */
  log?: Logger;
  /** Receives each batch write's latency, e.g. for a histogram. */
  onLatency?: (store: string, ms: number) => void;
}

/**
 * Feeds each configured store its own queue, so one store's outage holds
 * back only its own writes.
 *
 * @example
 * ```ts ignore
 * import { Storage } from "./storage.ts";
 * const storage = Storage.open(config.store, { log });
 * storage?.push(doc);
 * await storage?.close(10_000);
 * ```
 */
export class Storage {
  /** The queues, one per store. */
  readonly queues: readonly StoreQueue[];
  readonly #log: Logger;

  private constructor(queues: StoreQueue[], log: Logger) {
    this.queues = queues;
    this.#log = log;
  }

  /**
   * Starts a queue per store `config` names (each opening its store in the
   * background, with retries), or returns undefined with `--no-store`.
   */
  static open(
    config: StoreConfig,
    { capacity, log = silentLogger, onLatency }: StorageOptions = {},
  ): Storage | undefined {
    const targets = writerTargets(config, { log });
    if (targets.length === 0) return undefined;
    return new Storage(
      targets.map((t) =>
        new StoreQueue({
          name: t.name,
          describe: t.describe,
          open: t.open,
          capacity,
          log,
          onLatency: onLatency && ((ms) => onLatency(t.name, ms)),
        })
      ),
      log,
    );
  }

  /**
   * Queues a document for every store; never waits. Returns a promise that
   * resolves once every healthy store has written (or given up on) the
   * document, or `undefined` when there is nothing to wait for. A store that
   * is down is not waited for: its documents wait in its queue instead, and
   * holding every client's connection through an outage would only use up
   * connections. With `track` false nothing is returned (and nothing is
   * allocated to watch the document).
   */
  push(doc: ReceivedDocument, track = true): Promise<unknown> | undefined {
    let pending: Promise<void>[] | undefined;
    for (const queue of this.queues) {
      const ticket = queue.push(doc);
      if (!track) continue;
      const settled = queue.stats.up === 1 ? queue.settled(ticket) : undefined;
      if (settled) (pending ??= []).push(settled);
    }
    return pending && Promise.all(pending);
  }

  /** Live counters per store, keyed by store name (`mysql`, ...). */
  get stats(): Record<string, StoreQueueStats> {
    return Object.fromEntries(this.queues.map((q) => [q.name, q.stats]));
  }

  /**
   * Writes what is held for up to `timeoutMs` (all stores at once), closes
   * the stores and returns how many documents each could not store.
   */
  async close(timeoutMs: number): Promise<Record<string, number>> {
    const reports = await Promise.all(
      this.queues.map((q) => q.close(timeoutMs)),
    );
    const unsaved = Object.fromEntries(
      this.queues.map((q, i) => [q.name, reports[i].unsaved.length]),
    );
    const line = this.queues.map((q) =>
      `${q.name}: ${q.stats.stored} first copies, ${q.stats.duplicate} duplicates, ` +
      `${unsaved[q.name]} unsaved, ${q.stats.dropped} dropped`
    ).join("; ");
    this.#log.info(`Storage closed (${line})`);
    return unsaved;
  }
}
