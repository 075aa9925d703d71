/**
 * The server's network side: accept connections, decode netstrings, check
 * each payload is a block document, print it and hand it on for storage.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { AllowList } from "./cidr.ts";
import { NetstringError, NetstringParser } from "../shared/netstring.ts";
import { type Logger, silentLogger } from "../shared/log.ts";
import { formatDataLine, normalizeIp } from "./output.ts";
import { formatHostPort, writeAll } from "../shared/net.ts";
import { abortableSleep } from "../shared/async.ts";
import type { BlockTemplate } from "../shared/template.ts";
import type { ReceivedDocument } from "../store/types.ts";
import { SERVER_OPTIONS } from "./options.ts";

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
  /** Documents accepted. */
  accepted: number;
  /** Frames or connections rejected, by reason. */
  rejected: Partial<Record<RejectReason, number>>;
}

/** Options for {@linkcode IngestServer}. */
export interface IngestOptions {
  /** Documents must be renderings of it; `undefined` accepts any UTF-8. */
  template?: BlockTemplate;
  /** Largest frame accepted. Default 64 KiB. */
  maxFrameBytes?: number;
  /** A connection must complete a frame this often, in ms. Default 5000. */
  idleTimeoutMs?: number;
  /**
   * Most connections served at once; while this many are open no more are
   * accepted, so new peers wait in the kernel's listen backlog (and their
   * sends time out there) rather than being closed unread. Default 10000.
   */
  maxConnections?: number;
  /**
   * Most connections open at once from one address; a further one is closed
   * before anything is read, so one address cannot take every slot.
   * 0: no limit. Default: `--max-connections-per-ip`'s.
   */
  maxConnectionsPerIp?: number;
  /**
   * A connection older than this is closed after its current frame (at
   * once when between frames), so a peer cannot keep a slot by trickling
   * documents. 0: no limit. Default: `--max-connection-age`'s.
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
   * the originals do, with only the answers that were ready. Default 1000.
   */
  storeWaitMs?: number;
  /** Recorded as the receiving server. */
  serverId?: string;
  /** Where to log. */
  log?: Logger;
  /** Clock in ms. Defaults to `Date.now`. */
  now?: () => number;
}

const READ_BUFFER_BYTES = 8 * 1024;
/** Refused peers held open at most at once (see `#holdRefused`). */
const REFUSED_HELD_MAX = 256;
const OK = new TextEncoder().encode("2:ok,");
const OK_RUNS = new Map<number, Uint8Array>();

/** `2:ok,` `count` times, cached for small counts. */
function oks(count: number): Uint8Array {
  let run = OK_RUNS.get(count);
  if (run) return run;
  run = new Uint8Array(OK.length * count);
  for (let i = 0; i < count; i++) run.set(OK, i * OK.length);
  if (count <= 256) OK_RUNS.set(count, run);
  return run;
}

/** The answer refusing a frame: `err <reason>` as a netstring. */
export function errAnswer(reason: string): Uint8Array {
  const body = `err ${reason}`;
  return new TextEncoder().encode(`${body.length}:${body},`);
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
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
    accepted: 0,
    rejected: {},
  };
  readonly #listener: IngestListener;
  readonly #options: IngestOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #conns = new Set<IngestConn>();
  readonly #perIp = new Map<string, number>();
  readonly #refused = new Map<IngestConn, () => void>();
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #closing = false;
  #idle: PromiseWithResolvers<void> | undefined;
  #slot: PromiseWithResolvers<void> | undefined;
  #warnedFullAt = -Infinity;
  #warnedIpAt = -Infinity;

  /** Builds a server over an open listener. */
  constructor(listener: IngestListener, options: IngestOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? Date.now;
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
    const max = this.#options.maxConnections ??
      SERVER_OPTIONS.maxConnections.default;
    while (!this.#closing) {
      if (this.#conns.size >= max) {
        // Not accepting (rather than accepting and closing) is what keeps
        // this lossless: a sender whose connection was closed unread would
        // see an orderly end and count its document as delivered. Waiting
        // in the listen backlog, it times out and retries instead.
        this.stats.refused++;
        const line =
          `${max} connections are open (--max-connections): new peers wait in the backlog until one closes`;
        if (this.#now() - this.#warnedFullAt >= 10_000) {
          this.#warnedFullAt = this.#now();
          this.#log.warn(line);
        } else {
          this.#log.debug(line);
        }
        this.#slot = Promise.withResolvers();
        await this.#slot.promise;
        continue;
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
      if (!this.#allowed(conn) || !this.#withinIpLimit(conn)) continue;
      this.#handle(conn);
    }
  }

  /**
   * Stops accepting, lets open connections finish their frames for up to
   * `graceMs`, then closes what is left.
   */
  async shutdown(graceMs = 2000): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#slot?.resolve();
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      for (const release of this.#refused.values()) release();
    }
    if (this.#conns.size === 0) return;
    this.#idle ??= Promise.withResolvers();
    const timer = setTimeout(() => {
      for (const conn of this.#conns) closeQuietly(conn);
    }, graceMs);
    await this.#idle.promise;
    clearTimeout(timer);
  }

  #withinIpLimit(conn: IngestConn): boolean {
    const limit = this.#options.maxConnectionsPerIp ??
      SERVER_OPTIONS.maxConnectionsPerIp.default;
    if (limit === 0) return true;
    const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
    const ip = normalizeIp(hostname);
    const open = this.#perIp.get(ip) ?? 0;
    if (open < limit) return true;
    // Held unanswered like an --allow-from refusal: the sender sees no
    // acknowledgement (and no close an --ack auto client could take for an
    // original's success) and sends again, elsewhere or later.
    this.#holdRefused(conn);
    this.stats.rejected.per_ip_limit = (this.stats.rejected.per_ip_limit ??
      0) + 1;
    const line = `Refused a connection from ${
      formatHostPort({ host: ip, port })
    }: ${open} open from that address (--max-connections-per-ip)`;
    if (this.#now() - this.#warnedIpAt >= 10_000) {
      this.#warnedIpAt = this.#now();
      this.#log.warn(line);
    } else {
      this.#log.debug(line);
    }
    return false;
  }

  #allowed(conn: IngestConn): boolean {
    const allowFrom = this.#options.allowFrom;
    if (allowFrom === undefined) return true;
    const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
    if (allowFrom.allows(hostname)) return true;
    this.#holdRefused(conn);
    this.stats.rejected.not_allowed = (this.stats.rejected.not_allowed ?? 0) +
      1;
    this.#log.warn(
      `Refused a connection from ${
        formatHostPort({ host: normalizeIp(hostname), port })
      }: not in --allow-from`,
    );
    return false;
  }

  /**
   * Keeps a refused peer's connection open, unanswered, until the peer
   * gives up or `idleTimeoutMs` passes; what it sends is discarded unread.
   * Closing at once would be an orderly close without an answer, which is
   * what the originals' servers send on success: a client allowing for
   * them (`--ack auto`) would count the refused document as delivered
   * (Deno sockets cannot be reset instead). Past {@linkcode REFUSED_HELD_MAX}
   * held at once, further refused peers are closed at once.
   */
  async #holdRefused(conn: IngestConn): Promise<void> {
    if (this.#refused.size >= REFUSED_HELD_MAX || this.#closing) {
      closeQuietly(conn);
      return;
    }
    const idleMs = this.#options.idleTimeoutMs ??
      SERVER_OPTIONS.idleTimeoutMs.default;
    const held = Promise.withResolvers<void>();
    this.#refused.set(conn, held.resolve);
    const timer = setTimeout(held.resolve, idleMs);
    // The hold ends at the timer or at shutdown, whether or not the peer
    // half-closed (it then waits for an answer: it gets none, and no close).
    held.promise.then(() => closeQuietly(conn));
    try {
      const sink = new Uint8Array(1024);
      while ((await conn.read(sink)) !== null) { /* discarded */ }
      await held.promise;
    } catch {
      // Closed by the timer or at shutdown, or reset by the peer.
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
      this.#refused.delete(conn);
    }
  }

  async #handle(conn: IngestConn): Promise<void> {
    this.#conns.add(conn);
    this.stats.active = this.#conns.size;
    const remote = conn.remoteAddr as Deno.NetAddr;
    const ip = normalizeIp(remote.hostname);
    const port = remote.port;
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    // Frames are views into `buffer`: #accept is done with them before the
    // next read reuses it.
    const parser = new NetstringParser({
      maxFrameBytes: this.#options.maxFrameBytes,
      views: true,
    });
    const idleMs = this.#options.idleTimeoutMs ??
      SERVER_OPTIONS.idleTimeoutMs.default;
    let timedOut = false;
    // One timer per idle period, not one per frame: a frame only moves the
    // deadline, and the timer re-arms itself for what is left of it.
    let deadline = Date.now() + idleMs;
    const expire = () => {
      const left = deadline - Date.now();
      if (left > 0) {
        timer = setTimeout(expire, left);
        return;
      }
      timedOut = true;
      closeQuietly(conn);
    };
    let timer = setTimeout(expire, idleMs);
    const ageMs = this.#options.maxConnectionAgeMs ??
      SERVER_OPTIONS.maxConnectionAgeMs.default;
    // Past its age a connection ends at the next frame boundary: now if it
    // is between frames, else once the frame in progress completes.
    let old = false;
    const retire = () => {
      old = true;
      if (parser.idle) closeQuietly(conn);
    };
    const ageTimer = ageMs > 0 ? setTimeout(retire, ageMs) : undefined;
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let reason: RejectReason | undefined;
    let detail = "";
    // Answers go out in frame order: each read's `ok`s after the previous
    // read's, once its last document is durable (the spool syncs in order,
    // so the last one durable means all are).
    let answering: Promise<void> = Promise.resolve();
    let broken = false;
    const answer = (count: number, durable: Promise<unknown> | undefined) => {
      if (count === 0) return;
      answering = answering.then(async () => {
        if (broken) return;
        try {
          if (durable) await durable;
        } catch {
          // Not durable (the spool cannot be written): no answer, and the
          // client will try another server.
          broken = true;
          closeQuietly(conn);
          return;
        }
        await writeQuietly(conn, oks(count));
      });
    };
    const batch: { count: number; durable?: Promise<unknown> } = { count: 0 };
    let handshaken = false;
    try {
      // The handshake runs under the idle timer: a peer that stalls it is
      // closed like one that stalls a frame, and it held a slot meanwhile.
      await conn.handshake?.();
      handshaken = true;
      while (true) {
        const full = this.#options.room?.();
        if (full) await full;
        const n = await conn.read(buffer);
        if (n === null) {
          parser.end();
          break;
        }
        batch.count = 0;
        batch.durable = undefined;
        try {
          parser.push(buffer.subarray(0, n), (frame) => {
            const problem = this.#accept(frame, ip, port, batch);
            if (problem) {
              [reason, detail] = problem;
              throw new RejectedFrame();
            }
            deadline = Date.now() + idleMs;
            if (old) throw new RejectedFrame();
          });
        } finally {
          answer(batch.count, batch.durable);
        }
      }
    } catch (error) {
      if (
        old && !timedOut && reason === undefined &&
        !(error instanceof NetstringError)
      ) {
        reason = "max_age";
        detail = `open longer than ${ageMs} ms (--max-connection-age)`;
      } else if (error instanceof NetstringError) {
        reason = timedOut ? "idle_timeout" : error.reason;
        detail = error.message;
      } else if (timedOut) {
        reason = "idle_timeout";
        detail = conn.handshake && !handshaken
          ? `TLS handshake not finished within ${idleMs} ms`
          : `no complete frame within ${idleMs} ms`;
      } else if (!(error instanceof RejectedFrame) && !this.#closing) {
        this.#log.debug(
          `Connection from ${ip}:${port} failed: ${(error as Error).message}`,
        );
      }
    } finally {
      clearTimeout(timer);
      if (
        reason !== undefined && reason !== "idle_timeout" &&
        reason !== "max_age"
      ) {
        const refusal = errAnswer(reason);
        answering = answering.then(() =>
          broken ? undefined : writeQuietly(conn, refusal)
        );
      }
      clearTimeout(ageTimer);
      const waitMs = this.#options.storeWaitMs ??
        SERVER_OPTIONS.storeWaitMs.default;
      if (waitMs > 0) await settleWithin(answering, waitMs);
      closeQuietly(conn);
      this.#conns.delete(conn);
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.#perIp.set(ip, left);
      else this.#perIp.delete(ip);
      this.stats.active = this.#conns.size;
      this.#slot?.resolve();
      if (this.#conns.size === 0) this.#idle?.resolve();
    }
    if (reason !== undefined) {
      this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
      const line = `Closed connection from ${ip}:${port}: ${detail}`;
      if (reason === "idle_timeout" || reason === "max_age") {
        this.#log.debug(line);
      } else this.#log.warn(line);
    }
  }

  #accept(
    frame: Uint8Array,
    ip: string,
    port: number,
    batch: { count: number; durable?: Promise<unknown> },
  ): [RejectReason, string] | undefined {
    let payload: string;
    try {
      payload = this.#decoder.decode(frame);
    } catch {
      return ["bad_utf8", `frame of ${frame.length} bytes is not UTF-8`];
    }
    const template = this.#options.template;
    let block: bigint | null = null;
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
    this.stats.accepted++;
    this.#options.print(formatDataLine(ip, port, payload));
    batch.count++;
    const onDocument = this.#options.onDocument;
    // Without a store nobody reads the hash: don't compute it.
    if (onDocument === undefined) return undefined;
    const stored = onDocument({
      payload,
      hash: sha256Hex(frame),
      block,
      ip,
      port,
      receivedAt: this.#now(),
      server: this.#options.serverId ?? "",
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

/** Waits for `promise` (ignoring its outcome) for at most `ms`. */
async function settleWithin(promise: Promise<unknown>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}

class RejectedFrame extends Error {}

/** Writes all of `data`; a peer that closed (the originals') is ignored. */
async function writeQuietly(conn: IngestConn, data: Uint8Array) {
  try {
    await writeAll(conn, data);
  } catch {
    // SPEC part 3: a peer that does not read answers is not an error.
  }
}

function closeQuietly(conn: IngestConn) {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
