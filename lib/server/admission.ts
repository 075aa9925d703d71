/**
 * Who gets a slot: the checks an accepted connection passes before
 * anything is read from it (`--allow-from`, `--max-connections-per-ip`),
 * and what happens to a peer that fails them (held unanswered, SPEC part 3).
 *
 * @module
 */
import { formatHostPort, type Logger, RepeatGate } from "../shared/mod.ts";
import type { AllowList } from "./cidr.ts";
import {
  closeQuietly,
  type IngestConn,
  type RejectReason,
} from "./connection.ts";
import { normalizeIp } from "./output.ts";

/** Connections open at once from one address at most, by default. */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 5000;
/** Refused peers held open at most at once (see {@linkcode Admission}). */
export const REFUSED_HELD_MAX = 256;
/** A repeated admission warning is written at most this often, in ms. */
const REPEAT_WARNING_MS = 10_000;

/** What {@linkcode Admission} checks and where it reports. */
export interface AdmissionOptions {
  /** Peers outside these networks are refused; undefined allows any. */
  allowFrom: AllowList | undefined;
  /** Most connections open at once from one address; 0: no limit. */
  maxConnectionsPerIp: number;
  /** How long a refused peer is held, in ms (the idle timeout). */
  holdMs: number;
  /** Counts refusals by reason. */
  rejected: Partial<Record<RejectReason, number>>;
  /** Where to log. */
  log: Logger;
  /** Clock in ms, for the warnings' rate. */
  now: () => number;
}

/**
 * Admits or refuses accepted connections and counts the admitted ones per
 * address. A refused peer's connection is kept open, unanswered, until the
 * peer gives up or `holdMs` passes; what it sends is discarded unread.
 * Closing at once would be an orderly close without an answer, which is
 * what the originals' servers send on success: a client allowing for them
 * (`--ack auto`) would count the refused document as delivered (Deno
 * sockets cannot be reset instead). Past {@linkcode REFUSED_HELD_MAX} held
 * at once, further refused peers are closed at once.
 */
export class Admission {
  readonly #o: AdmissionOptions;
  readonly #perIp = new Map<string, number>();
  readonly #held = new Map<IngestConn, () => void>();
  readonly #ipWarning: RepeatGate;
  #closing = false;

  /** Admits nobody yet; counts start at zero. */
  constructor(options: AdmissionOptions) {
    this.#o = options;
    this.#ipWarning = new RepeatGate({
      burst: 1,
      intervalMs: REPEAT_WARNING_MS,
      now: options.now,
    });
  }

  /**
   * Admits `conn` (counted against its address until
   * {@linkcode Admission.release}) and returns its normalized address, or
   * refuses it (held, logged, counted) and returns undefined.
   */
  admit(conn: IngestConn): string | undefined {
    const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
    const allowFrom = this.#o.allowFrom;
    if (allowFrom !== undefined && !allowFrom.allows(hostname)) {
      this.#refuse(conn, "not_allowed");
      this.#o.log.warn(
        `Refused a connection from ${
          formatHostPort({ host: normalizeIp(hostname), port })
        }: not in --allow-from`,
      );
      return undefined;
    }
    const ip = normalizeIp(hostname);
    const open = this.#perIp.get(ip) ?? 0;
    const limit = this.#o.maxConnectionsPerIp;
    if (limit !== 0 && open >= limit) {
      // Held unanswered like an --allow-from refusal: the sender sees no
      // acknowledgement (and no close an --ack auto client could take for
      // an original's success) and sends again, elsewhere or later.
      this.#refuse(conn, "per_ip_limit");
      const line = `Refused a connection from ${
        formatHostPort({ host: ip, port })
      }: ${open} open from that address (--max-connections-per-ip)`;
      if (this.#ipWarning.pass() !== undefined) this.#o.log.warn(line);
      else this.#o.log.debug(line);
      return undefined;
    }
    this.#perIp.set(ip, open + 1);
    return ip;
  }

  /** An admitted connection from `ip` closed. */
  release(ip: string): void {
    const left = (this.#perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.#perIp.set(ip, left);
    else this.#perIp.delete(ip);
  }

  /** Shutdown: closes every held peer, and any refused from now on. */
  close(): void {
    this.#closing = true;
    for (const release of this.#held.values()) release();
  }

  #refuse(conn: IngestConn, reason: RejectReason) {
    const rejected = this.#o.rejected;
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    void this.#hold(conn);
  }

  async #hold(conn: IngestConn): Promise<void> {
    if (this.#held.size >= REFUSED_HELD_MAX || this.#closing) {
      closeQuietly(conn);
      return;
    }
    const held = Promise.withResolvers<void>();
    this.#held.set(conn, held.resolve);
    const timer = setTimeout(held.resolve, this.#o.holdMs);
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
      this.#held.delete(conn);
    }
  }
}
