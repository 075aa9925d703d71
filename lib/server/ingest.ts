/**
 * The server's network side: accept connections while slots are free, let
 * admission decide who gets one, and serve each as a
 * {@linkcode Connection} (decode, check, print, store, answer).
 *
 * @module
 */
import {
  abortableSleep,
  type Logger,
  RepeatGate,
  silentLogger,
} from "../shared/mod.ts";
import type { BlockTemplate } from "../shared/mod.ts";
import type { ReceivedDocument } from "../store/mod.ts";
import type { AllowList } from "./cidr.ts";
import { Admission, DEFAULT_MAX_CONNECTIONS_PER_IP } from "./admission.ts";
import { Slots } from "./slots.ts";
import { Sweep, sweepPeriod } from "./sweep.ts";
import {
  closeQuietly,
  Connection,
  type ConnectionSettings,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTION_AGE_MS,
  DEFAULT_STORE_WAIT_MS,
  type IngestConn,
  type RejectReason,
} from "./connection.ts";

export { type IngestConn, type RejectReason, sha256Hex } from "./connection.ts";

/** Connections served at once at most, by default. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/**
 * Connections the kernel completes and holds for the server before it
 * accepts them (the listen backlog; Linux caps it at
 * `net.core.somaxconn`, 4096 by default). Deno's default, 511, is smaller
 * than a burst of 1,000 senders (1,632 overflows in 6 s of the bench's):
 * a connection past it has its handshake dropped, and the peer's kernel
 * retries only a second later. It is also where peers wait while every one
 * of `--max-connections` is taken.
 */
export const LISTEN_BACKLOG = 4096;
/** The "every slot is taken" warning is written at most this often, in ms. */
const FULL_WARNING_MS = 10_000;

/** What the ingest loop needs of a listener (`Deno.Listener` has it). */
export interface IngestListener {
  /** The address being listened on. */
  readonly addr: Deno.Addr;
  /** The next connection. */
  accept(): Promise<IngestConn>;
  /** Stops listening. */
  close(): void;
}

/** Counters an ingest server keeps, for metrics. */
export interface IngestStats {
  /** Connections accepted. */
  connections: number;
  /** Connections open now. */
  active: number;
  /**
   * Times `maxConnections` were open, so accepting paused: further peers
   * waited in the listen backlog (or timed out there) until one closed.
   */
  refused: number;
  /**
   * Connections closed between frames because every slot was taken and a
   * peer waited (the longest-idle first).
   */
  yielded: number;
  /** Documents accepted. */
  accepted: number;
  /** Frames or connections rejected, by reason. */
  rejected: Partial<Record<RejectReason, number>>;
}

/** Options for {@linkcode IngestServer}. */
export interface IngestOptions {
  /** Documents must be renderings of it; `undefined` accepts any UTF-8. */
  template?: BlockTemplate;
  /**
   * Largest frame accepted, in bytes.
   *
   * @default {DEFAULT_MAX_FRAME_BYTES}
   */
  maxFrameBytes?: number;
  /**
   * A connection must complete a frame this often, in ms.
   *
   * @default {DEFAULT_IDLE_TIMEOUT_MS}
   */
  idleTimeoutMs?: number;
  /**
   * Most connections served at once. While this many are open, a peer that
   * connects is held unread while the connections that sit between frames
   * yield, the longest-idle first (see `slots.ts`); with none between
   * frames, new peers wait in the kernel's listen backlog (and their sends
   * time out there) rather than being closed unread.
   *
   * @default {DEFAULT_MAX_CONNECTIONS}
   */
  maxConnections?: number;
  /**
   * Most connections open at once from one address; a further one is closed
   * before anything is read, so one address cannot take every slot.
   * 0: no limit.
   *
   * @default {DEFAULT_MAX_CONNECTIONS_PER_IP}
   */
  maxConnectionsPerIp?: number;
  /**
   * A connection older than this is closed after its current frame (at
   * once when between frames), so a peer cannot keep a slot by trickling
   * documents. 0: no limit.
   *
   * @default {DEFAULT_MAX_CONNECTION_AGE_MS}
   */
  maxConnectionAgeMs?: number;
  /**
   * Peers outside these networks get no answer: their input is discarded
   * unread and the connection is held until they give up (or
   * `idleTimeoutMs`), so no client mistakes the refusal for an original
   * server's close on success.
   */
  allowFrom?: AllowList;
  /** Shuts the server down when aborted, also if it already is. */
  signal?: AbortSignal;
  /** Receives each DATA line. */
  print: (line: string) => void;
  /**
   * Receives each accepted document, e.g. to spool it. It may return a
   * promise that resolves once the document is durable: its `ok` is written
   * only then (a rejection: no answer, and the connection is closed).
   */
  onDocument?: (doc: ReceivedDocument) => Promise<unknown> | undefined | void;
  /**
   * Resolves when documents may be read again (the spool has room); while
   * it returns a promise no connection reads (backpressure).
   */
  room?: () => Promise<void> | undefined;
  /**
   * How long a connection whose input ended stays open for its answers
   * (SPEC part 3: one per frame, `ok` once durable). 0 closes at once, as
   * the originals do, with only the answers that were ready.
   *
   * @default {DEFAULT_STORE_WAIT_MS}
   */
  storeWaitMs?: number;
  /**
   * Recorded as the receiving server.
   *
   * @default {""}
   */
  serverId?: string;
  /** Where to log. */
  log?: Logger;
  /** Clock in ms. Defaults to `Date.now`. */
  now?: () => number;
}

/**
 * Serves one listener. Every connection is handled concurrently; each may
 * carry one frame (as the originals send) or many. A malformed frame, a
 * payload that is not a block document, or a connection that completes no
 * frame within `idleTimeoutMs` closes that connection with one log line and
 * affects no other.
 *
 * @example
 * ```ts ignore
 * // Not run: listens on a port until stopped (tests/server/ingest_test.ts runs it).
 * import { IngestServer } from "./ingest.ts";
 * const server = new IngestServer(Deno.listen({ port: 9999 }), { print: console.log });
 * await server.serve();
 * ```
 */
export class IngestServer {
  /** Live counters. */
  readonly stats: IngestStats = {
    connections: 0,
    active: 0,
    refused: 0,
    yielded: 0,
    accepted: 0,
    rejected: {},
  };
  readonly #listener: IngestListener;
  readonly #slots: Slots<Connection>;
  readonly #settings: ConnectionSettings;
  readonly #admission: Admission;
  readonly #log: Logger;
  readonly #fullWarning: RepeatGate;
  readonly #sweep: Sweep;
  #closing = false;
  #idle: PromiseWithResolvers<void> | undefined;

  /** Builds a server over an open listener. */
  constructor(listener: IngestListener, options: IngestOptions) {
    this.#listener = listener;
    this.#log = options.log ?? silentLogger;
    const now = options.now ?? Date.now;
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#slots = new Slots({
      max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      stats: this.stats,
      log: this.#log,
      now,
    });
    this.#settings = {
      template: options.template,
      maxFrameBytes: options.maxFrameBytes,
      idleTimeoutMs,
      maxConnectionAgeMs: options.maxConnectionAgeMs ??
        DEFAULT_MAX_CONNECTION_AGE_MS,
      storeWaitMs: options.storeWaitMs ?? DEFAULT_STORE_WAIT_MS,
      serverId: options.serverId ?? "",
      print: options.print,
      onDocument: options.onDocument,
      room: options.room,
      log: this.#log,
      now,
      closing: () => this.#closing,
      stats: this.stats,
    };
    this.#admission = new Admission({
      allowFrom: options.allowFrom,
      maxConnectionsPerIp: options.maxConnectionsPerIp ??
        DEFAULT_MAX_CONNECTIONS_PER_IP,
      holdMs: idleTimeoutMs,
      rejected: this.stats.rejected,
      log: this.#log,
      now,
    });
    this.#sweep = new Sweep(
      sweepPeriod([
        idleTimeoutMs,
        this.#settings.maxConnectionAgeMs,
        this.#settings.storeWaitMs,
      ]),
      () => {
        const now = Date.now();
        for (const connection of this.#slots.open) {
          connection.checkDeadlines(now);
        }
      },
    );
    this.#fullWarning = new RepeatGate({
      burst: 1,
      intervalMs: FULL_WARNING_MS,
      now,
    });
    // A signal that fired while the program was still starting counts too:
    // an abort listener added now would never run.
    const { signal } = options;
    if (signal?.aborted) void this.shutdown();
    signal?.addEventListener("abort", () => void this.shutdown(), {
      once: true,
    });
  }

  /** The address being listened on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Accepts connections until {@linkcode IngestServer.shutdown}. */
  async serve(): Promise<void> {
    const slots = this.#slots;
    while (!this.#closing) {
      if (slots.full) {
        // A waiting peer is never closed unread (a sender would see an
        // orderly end and count its document as delivered): it waits in
        // the listen backlog, or held unread, until a slot frees.
        this.stats.refused++;
        const line = `${slots.max} connections are open ` +
          `(--max-connections): new peers wait in the backlog until one closes`;
        if (this.#fullWarning.pass() !== undefined) this.#log.warn(line);
        else this.#log.debug(line);
      }
      let conn: IngestConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) break;
        // E.g. out of file descriptors: back off instead of spinning.
        this.#log.warn(`Cannot accept: ${(error as Error).message}`);
        await abortableSleep(50);
        continue;
      }
      this.stats.connections++;
      const ip = this.#admission.admit(conn);
      if (ip === undefined) continue;
      // Accepted while full: a peer waits, so idle connections yield.
      if (slots.full) await slots.wait(() => this.#closing);
      if (this.#closing) {
        this.#admission.release(ip);
        closeQuietly(conn);
        break;
      }
      void this.#handle(conn, ip);
    }
  }

  /**
   * Stops accepting, lets open connections finish their frames for up to
   * `graceMs`, then closes what is left.
   */
  async shutdown(graceMs = 2000): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#slots.release();
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      this.#admission.close();
    }
    if (this.#slots.open.size === 0) return;
    this.#idle ??= Promise.withResolvers();
    const timer = setTimeout(() => {
      for (const connection of this.#slots.open) connection.close();
    }, graceMs);
    await this.#idle.promise;
    clearTimeout(timer);
  }

  async #handle(conn: IngestConn, ip: string): Promise<void> {
    const connection = new Connection(conn, ip, this.#settings);
    const slots = this.#slots;
    slots.take(connection);
    this.#sweep.hold();
    this.stats.active = slots.open.size;
    try {
      await connection.serve();
    } finally {
      this.#sweep.release();
      slots.free(connection);
      this.#admission.release(ip);
      this.stats.active = slots.open.size;
      if (slots.open.size === 0) this.#idle?.resolve();
    }
    connection.report();
  }
}
