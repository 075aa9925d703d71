/**
 * The server's storage: every accepted document is appended to the spool
 * (durable on disk once synced: that is when it is acknowledged), then
 * written by one {@linkcode StoreQueue} per configured store (MySQL and
 * Redis at once, as the originals; else the SQLite file). A restart replays
 * from the spool what some store does not hold yet.
 *
 * @module
 */
import type { StoreConfig } from "../store/mod.ts";
import { type Logger, silentLogger, writeAll } from "../shared/mod.ts";
import {
  type ReceivedDocument,
  type StoreError,
  writerTargets,
} from "../store/mod.ts";
import { StoreQueue, type StoreQueueStats } from "./store_queue.ts";
import { Spool } from "./spool.ts";

/** Options for {@linkcode Storage.open}. */
export interface StorageOptions {
  /** The spool's directory. */
  spoolDir: string;
  /** The spool's size limit in bytes. */
  spoolMaxBytes: number;
  /** Where to log. */
  log?: Logger;
  /** Receives each batch write's latency, e.g. for a histogram. */
  onLatency?: (store: string, ms: number) => void;
}

/**
 * How long a store's queue gathers documents into one batch at most, in ms:
 * they are acknowledged from the spool meanwhile, so this costs only how
 * soon they show in the store. Under load it is most of a store's cost: a
 * document's random hash lands on its own leaf page of each hash index, and
 * a batch writes each dirty page once, so larger batches share pages (the
 * SQLite thread's CPU per document, 32 senders: 38 us in batches of 500,
 * 18 us in a second's worth).
 */
export const STORE_LINGER_MS = 1000;

/**
 * A batch is written once no document arrived for this long, in ms, even
 * before {@linkcode STORE_LINGER_MS}: a lone document shows in the store at
 * once, a steady stream still gathers.
 */
export const STORE_QUIET_MS = 50;

/**
 * Documents per store write at most: a second's worth under load. The
 * MySQL writer keeps a batch's flags in a `TEXT` column (64 KiB), and sends
 * a batch mixing stored and new documents as one multi-statement query, so
 * neither may grow much further.
 */
export const STORE_MAX_BATCH = 10_000;

/**
 * Payload bytes per store write at most: escaped (at most twice as long)
 * and with its statements, a batch stays under MySQL's smallest default
 * `max_allowed_packet` (16 MiB).
 */
export const STORE_MAX_BATCH_BYTES: number = 4 * 1024 * 1024;

/**
 * Documents a working store may lag behind the spool before the server
 * stops reading until it is halfway caught up. The spool keeps every
 * document either way; this keeps the backlog small enough for shutdown's
 * flush to store it, instead of acknowledging faster than the store writes.
 * A store that is failing is not waited for (the spool is for outages).
 */
export const STORE_MAX_LAG: number = 2 * STORE_MAX_BATCH;

/** The file in the spool directory that keeps dead-lettered documents. */
export const DEAD_LETTER_FILE = "dead-letter.jsonl";

/**
 * Spools every document, then feeds each configured store its own queue, so
 * one store's outage holds back only its own writes and never loses an
 * acknowledged document.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a configured store (tests/e2e/sqlite_default_test.ts runs it).
 * import { Storage } from "./storage.ts";
 * const storage = await Storage.open(config.store, { spoolDir, spoolMaxBytes, log });
 * await storage?.push(doc); // durable
 * await storage?.close(10_000);
 * ```
 */
export class Storage {
  /** The queues, one per store. */
  readonly queues: readonly StoreQueue[];
  /** The spool every document goes through. */
  readonly spool: Spool;
  readonly #log: Logger;
  readonly #deadLetterPath: string;

  private constructor(
    queues: StoreQueue[],
    spool: Spool,
    deadLetterPath: string,
    log: Logger,
  ) {
    this.queues = queues;
    this.spool = spool;
    this.#deadLetterPath = deadLetterPath;
    this.#log = log;
  }

  /**
   * Opens the spool, starts a queue per store `config` names (each opening
   * its store in the background, with retries) and queues what the spool
   * holds for each, in order; returns undefined with `--no-store`.
   */
  static async open(
    config: StoreConfig,
    { spoolDir, spoolMaxBytes, log = silentLogger, onLatency }: StorageOptions,
  ): Promise<Storage | undefined> {
    const targets = writerTargets(config, { log });
    if (targets.length === 0) return undefined;
    const { spool, replay } = await Spool.open(spoolDir, {
      stores: targets.map((t) => t.name),
      maxBytes: spoolMaxBytes,
    });
    if (replay.tornRecords > 0) {
      log.warn(
        `Spool ${spoolDir}: cut off a torn last record (written when the ` +
          `process died, never acknowledged)`,
      );
    }
    const deadLetterPath = `${spoolDir}/${DEAD_LETTER_FILE}`;
    const deadLetter =
      (store: string) => async (doc: ReceivedDocument, error: StoreError) => {
        using file = await Deno.open(deadLetterPath, {
          append: true,
          create: true,
        });
        const line = JSON.stringify({
          store,
          reason: error.message,
          at: new Date().toISOString(),
          ...doc,
          block: doc.block?.toString() ?? null,
        });
        await writeAll(file, new TextEncoder().encode(line + "\n"));
        await file.syncData();
      };
    const queues = targets.map((t) => {
      const pending = replay.pending[t.name];
      // Queue tickets count from 1: ticket k is spool record base + k.
      const base = (pending[0]?.seq ?? spool.nextSeq) - 1;
      const queue = new StoreQueue({
        name: t.name,
        describe: t.describe,
        open: t.open,
        capacity: Infinity,
        // The spool holds every document: batches may gather for a while.
        lingerMs: STORE_LINGER_MS,
        lingerQuietMs: STORE_QUIET_MS,
        maxBatch: Math.min(STORE_MAX_BATCH, t.maxBatch ?? Infinity),
        maxBatchBytes: STORE_MAX_BATCH_BYTES,
        log,
        onLatency: onLatency && ((ms) => onLatency(t.name, ms)),
        onDeadLetter: deadLetter(t.name),
        onLeft: (left) => spool.advance(t.name, base + left + 1),
      });
      for (const { doc } of pending) queue.push(doc);
      if (pending.length > 0) {
        log.info(
          `${t.describe}: ${pending.length} documents from the spool to write`,
        );
      }
      return queue;
    });
    return new Storage(queues, spool, deadLetterPath, log);
  }

  /**
   * Spools a document and queues it for every store; never waits. Returns a
   * promise that resolves once the document is durable (synced to the
   * spool), or undefined when it already is; it rejects while the spool
   * cannot be written (the document is kept and retried, but must not be
   * acknowledged yet).
   */
  push(doc: ReceivedDocument): Promise<void> | undefined {
    const seq = this.spool.append(doc);
    for (const queue of this.queues) queue.push(doc);
    return this.spool.synced(seq);
  }

  /**
   * Resolves once the spool has room again and no working store lags
   * more than {@linkcode STORE_MAX_LAG} documents behind; undefined while
   * that holds.
   */
  room(): Promise<void> | undefined {
    const full = this.spool.room();
    if (full) return full;
    for (const queue of this.queues) {
      const behind = queue.behind(STORE_MAX_LAG);
      if (behind) return behind;
    }
    return undefined;
  }

  /** Live counters per store, keyed by store name (`mysql`, ...). */
  get stats(): Record<string, StoreQueueStats> {
    return Object.fromEntries(this.queues.map((q) => [q.name, q.stats]));
  }

  /** The dead-lettered documents, as JSON lines (empty when none). */
  async deadLetters(): Promise<string> {
    try {
      return await Deno.readTextFile(this.#deadLetterPath);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "";
      throw error;
    }
  }

  /**
   * Writes what is held for up to `timeoutMs` (all stores at once), closes
   * the stores and the spool, and returns how many documents each store
   * still lacks: they stay in the spool for the next start.
   */
  async close(timeoutMs: number): Promise<Record<string, number>> {
    const reports = await Promise.all(
      this.queues.map((q) => q.close(timeoutMs)),
    );
    await this.spool.close();
    const unsaved = Object.fromEntries(
      this.queues.map((q, i) => [q.name, reports[i].unsaved.length]),
    );
    const line = this.queues.map((q) =>
      `${q.name}: ${q.stats.stored} first copies, ${q.stats.duplicate} duplicates, ` +
      `${unsaved[q.name]} kept in the spool, ${q.stats.rejected} dead-lettered`
    ).join("; ");
    this.#log.info(`Storage closed (${line})`);
    return unsaved;
  }
}
