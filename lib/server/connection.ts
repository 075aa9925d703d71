/**
 * One peer's connection to the ingest server: decode its netstrings, check
 * each payload is a block document, print it, hand it on for storage and
 * answer every frame in order (SPEC part 3), under an idle timeout and an
 * age limit.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Logger, NetstringError, NetstringParser } from "../shared/mod.ts";
import type { BlockTemplate } from "../shared/mod.ts";
import type { ReceivedDocument } from "../store/mod.ts";
import { errAnswer, okAnswers, writeQuietly } from "./answers.ts";
import { dataLineHead, escapeLineBreaks, formatDataLine } from "./output.ts";

/** Why a frame or connection was refused; stable strings for metrics. */
export type RejectReason =
  | NetstringError["reason"]
  | "bad_utf8"
  | "not_a_document"
  | "idle_timeout"
  | "not_allowed"
  | "per_ip_limit"
  | "max_age";

/**
 * What the ingest loop needs of a connection: `Deno.Conn`, `Deno.TlsConn`
 * and the TLS listener's `TlsConn` all have it.
 */
export interface IngestConn {
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** Reads into `p`: bytes read, or `null` at the end of input. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes `p`, resolving with the bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection. */
  close(): void;
  /** TLS only: resolves once the handshake finished, rejects if it failed. */
  handshake?(): Promise<unknown>;
}

/** How long a connection may go without completing a frame, in ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5000;
/** Age after which a connection is closed at its next frame boundary, in ms. */
export const DEFAULT_MAX_CONNECTION_AGE_MS = 300_000;
/** How long a connection whose input ended waits for its answers, in ms. */
export const DEFAULT_STORE_WAIT_MS = 1000;

/** What every connection of one server shares; all values final. */
export interface ConnectionSettings {
  template: BlockTemplate | undefined;
  maxFrameBytes: number | undefined;
  idleTimeoutMs: number;
  /** 0: no limit. */
  maxConnectionAgeMs: number;
  storeWaitMs: number;
  serverId: string;
  print: (line: string) => void;
  onDocument:
    | ((doc: ReceivedDocument) => Promise<unknown> | undefined | void)
    | undefined;
  room: (() => Promise<void> | undefined) | undefined;
  log: Logger;
  now: () => number;
  /** True once the server shuts down (a failed read is then no news). */
  closing: () => boolean;
  /** Counters shared by every connection. */
  stats: {
    accepted: number;
    rejected: Partial<Record<RejectReason, number>>;
  };
}

/** The documents of one read: how many, and the promise of the last. */
interface Batch {
  count: number;
  durable?: Promise<unknown>;
}

const READ_BUFFER_BYTES = 8 * 1024;
/** Read buffers kept for reuse at most (a fresh one per connection faults in fresh pages). */
const READ_BUFFER_POOL_SIZE = 256;
const readBuffers: Uint8Array[] = [];
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A verbatim template's fixed text as printed, built once per template. */
interface PrintedParts {
  prefix: string;
  suffix: string;
}
const printedParts = new WeakMap<BlockTemplate, PrintedParts | null>();

function printedPartsOf(template: BlockTemplate): PrintedParts | null {
  let parts = printedParts.get(template);
  if (parts === undefined) {
    const verbatim = template.verbatim;
    parts = verbatim
      ? {
        prefix: escapeLineBreaks(verbatim.prefix),
        suffix: escapeLineBreaks(verbatim.suffix),
      }
      : null;
    printedParts.set(template, parts);
  }
  return parts;
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Closes `conn`, which may be closed already. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Thrown from the frame callback to stop reading after a frame. */
class RejectedFrame extends Error {}

/**
 * Serves one accepted connection; each may carry one frame (as the
 * originals send) or many. A malformed frame, a payload that is not a block
 * document, or a connection that completes no frame within the idle timeout
 * closes it with one log line.
 */
export class Connection {
  /** The peer's address, normalized (no IPv4-mapped prefix). */
  readonly ip: string;
  /** The peer's port. */
  readonly port: number;
  /** Its index among the open connections (`OpenConnections`), -1 if none. */
  slot = -1;
  readonly #conn: IngestConn;
  readonly #s: ConnectionSettings;
  // Frames are views into the read buffer: #accept is done with them
  // before the next read reuses it.
  readonly #parser: NetstringParser;
  readonly #batch: Batch = { count: 0 };
  readonly #onFrame = (frame: Uint8Array) => this.#frame(frame);
  // No timer of its own: the server's sweep (sweep.ts) calls
  // `checkDeadlines`, and a frame only moves the idle deadline.
  readonly #openedAt: number;
  #deadline: number;
  // Set while the connection waits for its answers after its input ended.
  #finishBy = 0;
  #gaveUp: PromiseWithResolvers<void> | undefined;
  #timedOut = false;
  #old = false;
  #handshaken = false;
  #reason: RejectReason | undefined;
  #detail = "";
  // Answers go out in frame order: each read's `ok`s after the previous
  // read's, once its last document is durable (the spool syncs in order,
  // so the last one durable means all are).
  #answering: Promise<void> = Promise.resolve();
  #broken = false;
  // Between frames: no answer owed and nothing half-read. Only then may
  // the connection yield its slot to a waiting peer.
  #unanswered = 0;
  #idleSince: number;
  #ending = false;
  #yielded = false;

  /** Wraps an accepted connection from `ip` (already normalized). */
  constructor(conn: IngestConn, ip: string, settings: ConnectionSettings) {
    this.#conn = conn;
    this.#s = settings;
    this.ip = ip;
    this.port = (conn.remoteAddr as Deno.NetAddr).port;
    this.#idleSince = performance.now();
    this.#openedAt = Date.now();
    this.#deadline = this.#openedAt + settings.idleTimeoutMs;
    this.#parser = new NetstringParser({
      maxFrameBytes: settings.maxFrameBytes,
      views: true,
    });
  }

  /**
   * Reads and answers frames until the input ends or the connection is
   * refused, timed out or retired; waits (bounded) for its answers and
   * closes it. Call {@linkcode Connection.report} once the slot is free.
   */
  async serve(): Promise<void> {
    try {
      await this.#read();
    } catch (error) {
      this.#classify(error);
    } finally {
      await this.#finish();
    }
  }

  /**
   * When the last answer was written (or the connection accepted), on the
   * `performance.now()` clock, while it
   * sits between frames: every frame read answered, none half-read, input
   * not ended; `undefined` while busy.
   */
  idleSince(): number | undefined {
    if (
      this.#ending || this.#unanswered > 0 || !this.#handshaken ||
      !this.#parser.idle
    ) {
      return undefined;
    }
    return this.#idleSince;
  }

  /**
   * Closes the connection to free its slot for a waiting peer, if it sits
   * between frames (nothing read goes unanswered); true if it did.
   */
  yieldSlot(): boolean {
    if (this.idleSince() === undefined) return false;
    this.#yielded = true;
    closeQuietly(this.#conn);
    return true;
  }

  /** Closes the connection now (shutdown past its grace). */
  close(): void {
    closeQuietly(this.#conn);
  }

  /** Counts and logs why the connection was closed, if it was refused. */
  report(): void {
    if (this.#yielded) {
      this.#s.log.debug(
        `Closed idle connection from ${this.ip}:${this.port}: every slot ` +
          `taken and peers waiting (--max-connections)`,
      );
      return;
    }
    const reason = this.#reason;
    if (reason === undefined) return;
    const rejected = this.#s.stats.rejected;
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    const line =
      `Closed connection from ${this.ip}:${this.port}: ${this.#detail}`;
    if (reason === "idle_timeout" || reason === "max_age") {
      this.#s.log.debug(line);
    } else this.#s.log.warn(line);
  }

  /**
   * Acts on the deadlines that passed by `now` (`Date.now()`): no complete
   * frame within the idle timeout closes the connection; past its age it
   * ends at the next frame boundary (now if between frames, else once the
   * frame in progress completes); once its input ended, it stops waiting
   * for its answers after the store wait.
   */
  checkDeadlines(now: number): void {
    if (this.#ending) {
      if (this.#gaveUp && now >= this.#finishBy) this.#gaveUp.resolve();
      return;
    }
    if (now >= this.#deadline) {
      this.#timedOut = true;
      closeQuietly(this.#conn);
      return;
    }
    const ageMs = this.#s.maxConnectionAgeMs;
    if (!this.#old && ageMs > 0 && now - this.#openedAt >= ageMs) {
      this.#old = true;
      if (this.#parser.idle) closeQuietly(this.#conn);
    }
  }

  async #read(): Promise<void> {
    // The handshake runs under the idle timer: a peer that stalls it is
    // closed like one that stalls a frame, and it held a slot meanwhile.
    await this.#conn.handshake?.();
    this.#handshaken = true;
    // Nothing holds a view into the buffer once a read settled and its
    // frames were handled, so the next connection may reuse it.
    const buffer = readBuffers.pop() ?? new Uint8Array(READ_BUFFER_BYTES);
    const batch = this.#batch;
    try {
      while (true) {
        const full = this.#s.room?.();
        if (full) await full;
        const n = await this.#conn.read(buffer);
        if (n === null) {
          this.#parser.end();
          return;
        }
        batch.count = 0;
        batch.durable = undefined;
        try {
          this.#parser.push(buffer.subarray(0, n), this.#onFrame);
        } finally {
          this.#answer(batch.count, batch.durable);
        }
      }
    } finally {
      if (readBuffers.length < READ_BUFFER_POOL_SIZE) readBuffers.push(buffer);
    }
  }

  #frame(frame: Uint8Array) {
    const problem = this.#accept(frame);
    if (problem) {
      [this.#reason, this.#detail] = problem;
      throw new RejectedFrame();
    }
    this.#deadline = Date.now() + this.#s.idleTimeoutMs;
    if (this.#old) throw new RejectedFrame();
  }

  /** Queues `count` `ok`s, written once `durable` resolves. */
  #answer(count: number, durable: Promise<unknown> | undefined) {
    if (count === 0) return;
    this.#unanswered += count;
    this.#answering = this.#answering.then(async () => {
      if (this.#broken) return;
      try {
        if (durable) await durable;
      } catch {
        // Not durable (the spool cannot be written): no answer, and the
        // client will try another server.
        this.#broken = true;
        closeQuietly(this.#conn);
        return;
      }
      await writeQuietly(this.#conn, okAnswers(count));
      this.#unanswered -= count;
      if (this.#unanswered === 0) this.#idleSince = performance.now();
    });
  }

  /** Says why reading stopped, from what it threw. */
  #classify(error: unknown) {
    if (this.#yielded && this.#reason === undefined) return;
    if (
      this.#old && !this.#timedOut && this.#reason === undefined &&
      !(error instanceof NetstringError)
    ) {
      this.#reason = "max_age";
      this.#detail =
        `open longer than ${this.#s.maxConnectionAgeMs} ms (--max-connection-age)`;
    } else if (error instanceof NetstringError) {
      this.#reason = this.#timedOut ? "idle_timeout" : error.reason;
      this.#detail = error.message;
    } else if (this.#timedOut) {
      this.#reason = "idle_timeout";
      const idleMs = this.#s.idleTimeoutMs;
      this.#detail = this.#conn.handshake && !this.#handshaken
        ? `TLS handshake not finished within ${idleMs} ms`
        : `no complete frame within ${idleMs} ms`;
    } else if (!(error instanceof RejectedFrame) && !this.#s.closing()) {
      this.#s.log.debug(
        `Connection from ${this.ip}:${this.port} failed: ${
          (error as Error).message
        }`,
      );
    }
  }

  /** Queues the refusal, if any, waits (bounded) for the answers, closes. */
  async #finish() {
    this.#ending = true;
    const reason = this.#reason;
    let owed = this.#unanswered > 0;
    if (
      reason !== undefined && reason !== "idle_timeout" && reason !== "max_age"
    ) {
      const refusal = errAnswer(reason);
      this.#answering = this.#answering.then(() =>
        this.#broken ? undefined : writeQuietly(this.#conn, refusal)
      );
      owed = true;
    }
    const waitMs = this.#s.storeWaitMs;
    if (waitMs > 0 && owed) {
      // Bounded by the sweep (checkDeadlines), not by a timer of its own;
      // with every answer written already there is nothing to wait for.
      this.#finishBy = Date.now() + waitMs;
      this.#gaveUp = Promise.withResolvers();
      await Promise.race([this.#answering, this.#gaveUp.promise]);
    }
    closeQuietly(this.#conn);
  }

  #lineHeadText: string | undefined;

  /** `DATA - ip:port - `, built at the connection's first document. */
  #lineHead(): string {
    return this.#lineHeadText ??= dataLineHead(this.ip, this.port);
  }

  /** Checks, prints and hands on one frame; the problem if refused. */
  #accept(frame: Uint8Array): [RejectReason, string] | undefined {
    const template = this.#s.template;
    // A verbatim template's document is recognised in its bytes: no
    // decoding, rendering or escaping of the whole payload. Anything the
    // byte check does not take goes the general way, which decides.
    const digits = template?.matchBytes(frame);
    let payload: string;
    let block: bigint | null = null;
    if (digits !== undefined) {
      const verbatim = template!.verbatim!;
      const printed = printedPartsOf(template!)!;
      payload = verbatim.prefix + digits + verbatim.suffix;
      block = BigInt(digits);
      this.#s.stats.accepted++;
      this.#s.print(
        this.#lineHead() + printed.prefix + digits + printed.suffix,
      );
    } else {
      try {
        payload = utf8.decode(frame);
      } catch {
        return ["bad_utf8", `frame of ${frame.length} bytes is not UTF-8`];
      }
      if (template) {
        const parsed = template.parse(payload);
        if (parsed === undefined) {
          return [
            "not_a_document",
            `frame of ${frame.length} bytes is not a block document`,
          ];
        }
        block = parsed;
      }
      this.#s.stats.accepted++;
      this.#s.print(formatDataLine(this.ip, this.port, payload));
    }
    const batch = this.#batch;
    batch.count++;
    const onDocument = this.#s.onDocument;
    // Without a store nobody reads the hash: don't compute it.
    if (onDocument === undefined) return undefined;
    const stored = onDocument({
      payload,
      hash: sha256Hex(frame),
      block,
      ip: this.ip,
      port: this.port,
      receivedAt: this.#s.now(),
      server: this.#s.serverId,
    });
    if (stored && stored !== batch.durable) {
      // Handled here too: it may reject before the answer chain reaches it.
      // (Documents synced together share one promise: once is enough.)
      stored.catch(() => {});
      batch.durable = stored;
    }
    return undefined;
  }
}
