/**
 * What the stores share: the record of a received document, and the write
 * and read sides every store implements (SQLite, MySQL, Redis).
 *
 * @module
 */

/** One document as a server received it. */
export interface ReceivedDocument {
  /** The payload, exactly as received (UTF-8 text). */
  payload: string;
  /** Lowercase hex SHA-256 of the payload's UTF-8 bytes: the dedupe key. */
  hash: string;
  /** The block number the document was rendered for, when it is one. */
  block: bigint | null;
  /** The client's IP address, without port (IPv6 without brackets). */
  ip: string;
  /** The client's TCP port. */
  port: number;
  /** When it was received, in ms since the Unix epoch. */
  receivedAt: number;
  /** Which server received it (`--server-id`, default host name:port). */
  server: string;
}

/** A stored document, as the read side returns it. */
export interface BlockRecord {
  /** Lowercase hex SHA-256 of the payload. */
  hash: string;
  /** The block number, when known (recorded, or read from the payload). */
  block: bigint | null;
  /**
   * First time any server received it, ms since the epoch (Redis keeps
   * fractions of a ms). 0 when unknown: a row only an original server wrote
   * to MySQL, with no `eth:hashes` score to say when.
   */
  firstSeen: number;
  /**
   * The `eth:hashes` score exactly (Unix seconds), when read from Redis:
   * `/_cat/hashes` prints it as the original did, which `firstSeen / 1000`
   * can miss by one in the 4th decimal.
   */
  score?: number;
  /** Last time any of our servers received a copy, when known. */
  lastSeen?: number;
  /** Copies our servers received (first included), when known. */
  copies?: number;
  /** The server that stored the first copy, when known. */
  server: string | null;
  /**
   * The payload: from {@linkcode StoreReader.document} and
   * {@linkcode StoreReader.documents}, and from a list where the block
   * number is not recorded (so the reader of the list can parse it).
   */
  payload?: string;
}

/** What is known of one client IP. */
export interface ClientRecord {
  /** The client's IP address, without port. */
  ip: string;
  /** Documents received from it (every copy, not only first ones). */
  count: number;
  /** ms since the epoch, when known. */
  firstSeen: number | null;
  /** ms since the epoch, when known. */
  lastSeen: number | null;
}

/**
 * One stored document as the stats side's index reads it, in the order the
 * store recorded it (see {@linkcode StoreReader.storedSince}).
 */
export interface StoredRow {
  /** The document's hash. */
  hash: string;
  /** Position in the store's own order: a row id, or first-seen ms (Redis). */
  order: number;
  /** The block number, when the store recorded it. */
  block: bigint | null;
  /**
   * The payload, only for a row with no recorded block number (one an
   * original server stored), so the caller can parse the number from it.
   */
  payload?: string;
  /** The server that stored the first copy, when known. */
  server: string | null;
  /** First receipt, ms since the epoch; 0 when unknown. */
  firstSeen: number;
}

/**
 * The whole stored history as the store summarises it (see
 * {@linkcode StoreReader.history}), so a first read costs a few indexed
 * queries, not one row per document.
 */
export interface StoredHistory {
  /** The highest {@linkcode StoredRow.order} summarised; -1 when none. */
  mark: number;
  /** Runs of consecutive recorded block numbers, inclusive, lowest first. */
  runs: { from: bigint; to: bigint }[];
  /** Documents per server that stored the first copy (null: unknown). */
  servers: { server: string | null; documents: number; lastSeen: number }[];
  /** Payloads of the documents with no recorded block number, to parse. */
  payloads: string[];
  /**
   * The rows within {@linkcode StoreReader.reorderWindow} of `mark`, which
   * a later {@linkcode StoreReader.storedSince} reads again.
   */
  recent: { hash: string; order: number }[];
}

/** Whether one store answers, for the dashboard's health panel. */
export interface StoreHealth {
  /** `sqlite`, `mysql` or `redis`. */
  store: string;
  /** Where it is, without a password. */
  describe: string;
  /** Whether it answered a ping. */
  up: boolean;
  /** The ping's round trip, ms, when it answered. */
  latencyMs?: number;
  /** Why not, when it did not. */
  error?: string;
}

/** The write side of a store. */
export interface StoreWriter {
  /** A short name for logs and metrics, e.g. `mysql`. */
  readonly name: string;
  /**
   * Saves a batch, in order, atomically per document: for each document,
   * `true` when this call stored the first copy of its hash, `false` when the
   * hash was already stored (by any server). Client counts are incremented
   * for every document. Throws when the store is unreachable; the caller
   * retries the whole batch, so saving must be idempotent for first copies.
   */
  save(docs: readonly ReceivedDocument[]): Promise<boolean[]>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** The read side of a store, for the stats API. */
export interface StoreReader {
  /** Newest first, at most `limit`, strictly older than `before` if given. */
  recentBlocks(
    options: { limit: number; before?: { firstSeen: number; hash: string } },
  ): Promise<BlockRecord[]>;
  /** One stored document with its payload, or undefined. */
  document(hash: string): Promise<BlockRecord | undefined>;
  /**
   * The stored documents among `hashes` (any order), with payloads. Absent
   * where the store keeps no payloads (Redis).
   */
  documents?(hashes: readonly string[]): Promise<BlockRecord[]>;
  /** Every client, most documents first. */
  clients(): Promise<ClientRecord[]>;
  /** Number of distinct documents stored. */
  countBlocks(): Promise<number>;
  /**
   * Documents stored after position `after` of the store's own order,
   * oldest first, at most `limit`: an indexed range read, so the stats side
   * keeps up with a store of any size by reading only what is new. A store
   * whose order can be committed out of sequence names how far back a late
   * row may land in `reorderWindow`.
   */
  storedSince(after: number, limit: number): Promise<StoredRow[]>;
  /**
   * How far (in units of {@linkcode StoredRow.order}) a row may appear
   * behind rows already read: 0 when the order is the commit order.
   */
  readonly reorderWindow: number;
  /**
   * Everything stored up to now, summarised in one snapshot: what
   * {@linkcode StoreReader.storedSince} from the start would read, without
   * reading every row. Absent where the store cannot (Redis); undefined
   * when it cannot now (an index it needs is not built yet).
   */
  history?(): Promise<StoredHistory | undefined>;
  /**
   * Documents first seen at or after `sinceMs`, counted per bucket of
   * `bucketMs` aligned to the epoch: bucket start (ms) to count.
   */
  firstSeenCounts(
    sinceMs: number,
    bucketMs: number,
  ): Promise<Map<number, number>>;
  /** The earliest first-seen time stored (ms), undefined when none. */
  oldestFirstSeen(): Promise<number | undefined>;
  /** Pings each underlying store; never throws. */
  health(): Promise<StoreHealth[]>;
  /** Resolves when the store answers; throws otherwise. */
  ping(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * A store could not be reached or refused an operation. The message names
 * the store and what failed; `cause` is the driver's error. `kind` says
 * whether retrying can help: `unavailable` (not reachable, timed out, busy,
 * deadlocked: retry as is) or `rejected` (the store answered and refused
 * this data, e.g. a payload too long for its column: retrying the same
 * batch will fail again).
 */
export class StoreError extends Error {
  /** Whether the store was unreachable or refused the data. */
  readonly kind: "unavailable" | "rejected";
  /** Builds the error. */
  constructor(
    message: string,
    options: { cause?: unknown; kind?: "unavailable" | "rejected" } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "StoreError";
    this.kind = options.kind ?? "unavailable";
  }
}
