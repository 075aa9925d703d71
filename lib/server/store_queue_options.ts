/**
 * What a `StoreQueue` can be told, and its defaults.
 *
 * @module
 */
import type { Logger } from "../shared/mod.ts";
import type {
  ReceivedDocument,
  StoreError,
  StoreWriter,
} from "../store/mod.ts";

/** Documents a `StoreQueue` holds at most by default. */
export const DEFAULT_STORE_QUEUE_CAPACITY = 100_000;

/** Documents per write at most, by default. */
export const DEFAULT_MAX_BATCH = 500;

/** Payload bytes per write at most, by default (one document always fits). */
export const DEFAULT_MAX_BATCH_BYTES: number = 1024 * 1024;

/** First retry delay in ms, by default; doubled per failure. */
export const DEFAULT_MIN_BACKOFF_MS = 100;

/** Longest retry delay in ms, by default. */
export const DEFAULT_MAX_BACKOFF_MS = 2000;

/** Options for `StoreQueue`. */
export interface StoreQueueOptions {
  /** `mysql`, `redis` or `sqlite`, for logs. */
  name: string;
  /** Where the store is, for logs. */
  describe?: string;
  /** Opens the store; retried with backoff until it succeeds. */
  open: () => Promise<StoreWriter>;
  /**
   * Documents held at most; when full the oldest is dropped.
   *
   * @default {DEFAULT_STORE_QUEUE_CAPACITY}
   */
  capacity?: number;
  /**
   * Documents per write at most.
   *
   * @default {DEFAULT_MAX_BATCH}
   */
  maxBatch?: number;
  /**
   * Payload bytes per write at most (one document always fits).
   *
   * @default {DEFAULT_MAX_BATCH_BYTES}
   */
  maxBatchBytes?: number;
  /**
   * How long to wait for more documents before writing a batch smaller
   * than `maxBatch`, in ms. Only for documents that are durable elsewhere
   * (the spool): it delays storing, never acknowledging.
   *
   * @default {0}
   */
  lingerMs?: number;
  /**
   * Stops lingering early once no document arrived for this long, in ms, so
   * a lone document is written soon while a steady stream still gathers
   * into batches of up to `lingerMs`' worth. 0: always linger `lingerMs`.
   *
   * @default {0}
   */
  lingerQuietMs?: number;
  /**
   * First retry delay in ms, doubled per failure.
   *
   * @default {DEFAULT_MIN_BACKOFF_MS}
   */
  minBackoffMs?: number;
  /**
   * Longest retry delay in ms.
   *
   * @default {DEFAULT_MAX_BACKOFF_MS}
   */
  maxBackoffMs?: number;
  /**
   * Keeps a document the store refused alone while it took the next one;
   * the queue moves on once this resolves. Without it the document is
   * logged and skipped.
   */
  onDeadLetter?: (doc: ReceivedDocument, error: StoreError) => Promise<void>;
  /**
   * Told how many documents have left the queue so far, in order: stored,
   * dead-lettered, or dropped when full. Documents still unstored when
   * the queue's `close` gives up are not counted: they are the
   * caller's to keep (the server's spool replays them at the next start).
   */
  onLeft?: (left: number) => void;
  /** Where to log. */
  log?: Logger;
  /** Receives each successful batch's latency in ms, e.g. for a histogram. */
  onLatency?: (ms: number) => void;
  /** Clock in ms. Defaults to `performance.now`. */
  now?: () => number;
}

/** What `StoreQueue.close` could not store. */
export interface CloseReport {
  /** Documents still unsaved at the deadline, oldest first. */
  unsaved: ReceivedDocument[];
}
