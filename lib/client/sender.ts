/**
 * Sending a document: a new TCP connection, one netstring frame, a
 * half-close (SPEC 1.2), then the server's answer (SPEC part 3): `ok` once
 * the document is durable, `err <reason>` when refused. The originals'
 * servers never answer; `--ack auto` tells them apart per address.
 *
 * @module
 */
import { CLIENT_OPTIONS } from "./options.ts";
import {
  encodeNetstring,
  NetstringError,
  NetstringParser,
} from "../shared/netstring.ts";
import type { Logger } from "../shared/log.ts";
import { formatHostPort, writeAll } from "../shared/net.ts";

/** A server address. */
export interface ServerAddress {
  host: string;
  port: number;
}

/**
 * How answers are used: `auto` demands `ok` from a server that has ever
 * answered and takes the close as delivery from one that never has (an
 * original); `required` demands `ok` from every server; `off` never reads
 * answers (the originals' client).
 */
export type AckMode = "auto" | "required" | "off";

/** A document could not be handed to a server: try another. */
export class SendError extends Error {
  /** The server that was tried. */
  readonly server: ServerAddress;

  /** Builds the error; `cause` is the socket error. */
  constructor(server: ServerAddress, message: string, options?: ErrorOptions) {
    super(
      `Cannot send to ${formatHostPort(server)}: ${message}`,
      options,
    );
    this.name = "SendError";
    this.server = server;
  }
}

/**
 * The server answered `err <reason>`: it will refuse this document
 * wherever it is sent, so it is final (not retried elsewhere).
 */
export class DocumentRefusedError extends Error {
  /** The server that refused. */
  readonly server: ServerAddress;
  /** The server's stable reason, e.g. `not_a_document`. */
  readonly reason: string;

  /** Builds the error. */
  constructor(server: ServerAddress, reason: string) {
    super(`${formatHostPort(server)} refused the document: ${reason}`);
    this.name = "DocumentRefusedError";
    this.server = server;
    this.reason = reason;
  }
}

/**
 * Remembers, per remote IP and port actually connected, whether that server
 * has ever answered (SPEC part 3, `--ack auto`).
 */
export class AnswerMemory {
  readonly #answered = new Set<string>();

  /** True once `addr` has answered a frame. */
  has(addr: Deno.NetAddr): boolean {
    return this.#answered.has(key(addr));
  }

  /** Records that `addr` answered. */
  add(addr: Deno.NetAddr): void {
    this.#answered.add(key(addr));
  }
}

function key(addr: Deno.NetAddr): string {
  return `${addr.hostname}|${addr.port}`;
}

/** How a send ended, when the document counts as delivered. */
export type Delivery = "ok" | "close";

/** Options for {@linkcode sendDocument}. */
export interface SendOptions {
  /** Budget for connecting, writing and the server's answer, in ms. */
  timeoutMs?: number;
  /** Aborts the send. */
  signal?: AbortSignal;
  /** Speak TLS to the server, verifying its certificate. */
  tls?: SendTlsOptions;
  /** See {@linkcode AckMode}. Default `auto`. */
  ack?: AckMode;
  /** For `auto`: which servers have answered. Default: a new memory. */
  answered?: AnswerMemory;
}

/** TLS settings for {@linkcode sendDocument}. */
export interface SendTlsOptions {
  /** PEM CA certificates trusted besides the built-in roots. */
  caCerts?: string[];
}

/**
 * Sends `payload` as one netstring on a new connection (over TLS when `tls`
 * is given), half-closes, and waits (within the timeout) for the answer.
 * Resolves `"ok"` on `ok`, or `"close"` on an orderly close without an
 * answer where that counts as delivery (`off`; `auto` for a server that has
 * never answered). Throws {@linkcode DocumentRefusedError} on `err`, and
 * {@linkcode SendError} on anything else (refused, reset, timed out, closed
 * without the answer that was due): not delivered.
 *
 * @example
 * ```ts ignore
 * // Not run: needs a server listening (tests/client/sender_test.ts runs it).
 * import { sendDocument } from "./sender.ts";
 * await sendDocument({ host: "127.0.0.1", port: 9999 }, "<p>1</p>"); // "ok"
 * ```
 */
export async function sendDocument(
  server: ServerAddress,
  payload: string | Uint8Array,
  options: SendOptions = {},
): Promise<Delivery> {
  const timeoutMs = options.timeoutMs ?? CLIENT_OPTIONS.timeoutMs.default;
  const ack = options.ack ?? "auto";
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout])
    : timeout;
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({
      hostname: server.host,
      port: server.port,
      signal,
    });
    // The handshake runs on the first write, inside the same time budget.
    if (options.tls) {
      const tcp = conn as Deno.TcpConn;
      try {
        conn = await Deno.startTls(tcp, {
          hostname: server.host,
          caCerts: options.tls.caCerts,
        });
      } catch (error) {
        try {
          tcp.close();
        } catch {
          // Already taken over by the TLS layer.
        }
        throw error;
      }
    }
  } catch (cause) {
    throw new SendError(
      server,
      timeout.aborted
        ? `connect timed out after ${timeoutMs} ms`
        : (cause as Error).message,
      { cause },
    );
  }
  const onAbort = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const remote = conn.remoteAddr as Deno.NetAddr;
  try {
    await writeAll(conn, encodeNetstring(payload));
    await conn.closeWrite();
    let answer: string | undefined;
    try {
      answer = await readAnswer(conn, ack === "off");
    } catch (error) {
      // The originals' client: a server that read the frame and keeps its
      // side open has taken it.
      if (ack === "off" && timeout.aborted) return "close";
      throw error;
    }
    if (answer === undefined) {
      if (ack === "off") return "close";
      if (ack === "auto" && !options.answered?.has(remote)) return "close";
      throw new SendError(server, "closed without an acknowledgement");
    }
    options.answered?.add(remote);
    if (answer === "ok") return "ok";
    if (answer.startsWith("err")) {
      throw new DocumentRefusedError(server, answer.slice(4) || "unknown");
    }
    throw new SendError(server, `unexpected answer ${JSON.stringify(answer)}`);
  } catch (cause) {
    if (cause instanceof DocumentRefusedError) throw cause;
    if (cause instanceof SendError) throw cause;
    throw new SendError(
      server,
      signal.aborted
        ? `no acknowledgement within ${timeoutMs} ms`
        : (cause as Error).message,
      { cause },
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
    onAbort();
  }
}

/**
 * Reads the first answer netstring, or undefined on an orderly close
 * before one. With `ignore`, reads to the close and returns undefined (a
 * reset still throws: that tells a refused document from a normal close).
 */
async function readAnswer(
  conn: Deno.Conn,
  ignore: boolean,
): Promise<string | undefined> {
  const parser = new NetstringParser({ maxFrameBytes: 1024 });
  const buffer = new Uint8Array(256);
  let answer: string | undefined;
  while (answer === undefined) {
    const n = await conn.read(buffer);
    if (n === null) return undefined;
    if (ignore) continue;
    try {
      parser.push(buffer.subarray(0, n), (frame) => {
        answer ??= new TextDecoder().decode(frame);
      });
    } catch (error) {
      if (error instanceof NetstringError) {
        throw new Error(`unreadable answer: ${error.message}`);
      }
      throw error;
    }
  }
  return answer;
}

/** Options for {@linkcode createRotatingSender}. */
export interface RotatingSenderOptions {
  /** Budget per server tried, in ms. */
  timeoutMs: number;
  signal?: AbortSignal;
  log?: Logger;
  /** Speak TLS to every server. */
  tls?: SendTlsOptions;
  /** See {@linkcode AckMode}. Default `auto`. */
  ack?: AckMode;
  /** How long a server that failed is tried last, in ms. Default 5000. */
  cooldownMs?: number;
  /** Told of each attempt's outcome and its latency in ms. */
  onResult?: (result: "ok" | "close" | "err" | "none", ms: number) => void;
  /** Clock in ms. Defaults to `performance.now`. */
  now?: () => number;
}

/** Where a document went. */
export interface SentTo {
  server: ServerAddress;
  delivery: Delivery;
}

/**
 * Returns a function that sends a payload to the next server in turn; when a
 * server fails, the following ones are tried for the same payload (as DNS
 * round-robin did for the originals), and the one that failed is tried last
 * for `cooldownMs`. It throws the last {@linkcode SendError} when every
 * server failed, and {@linkcode DocumentRefusedError} at once on `err`
 * (another server would refuse it too).
 */
export function createRotatingSender(
  servers: readonly ServerAddress[],
  options: RotatingSenderOptions,
): (payload: string) => Promise<SentTo> {
  let next = 0;
  const answered = new AnswerMemory();
  const failedAt = new Array<number>(servers.length).fill(-Infinity);
  const now = options.now ?? (() => performance.now());
  const cooldownMs = options.cooldownMs ?? 5000;
  return async (payload) => {
    const t = now();
    const order = servers.map((_, k) => (next + k) % servers.length);
    // Cooling-down servers go last, not away: with all of them down, the
    // least recently failed is still tried.
    const ready = order.filter((i) => t - failedAt[i] >= cooldownMs);
    const cooling = order.filter((i) => t - failedAt[i] < cooldownMs)
      .sort((a, b) => failedAt[a] - failedAt[b]);
    let last: unknown;
    for (const i of [...ready, ...cooling]) {
      const started = now();
      try {
        const delivery = await sendDocument(servers[i], payload, {
          ...options,
          answered,
        });
        options.onResult?.(delivery, now() - started);
        failedAt[i] = -Infinity;
        next = (i + 1) % servers.length;
        return { server: servers[i], delivery };
      } catch (error) {
        if (error instanceof DocumentRefusedError) {
          options.onResult?.("err", now() - started);
          next = (i + 1) % servers.length;
          throw error;
        }
        options.onResult?.("none", now() - started);
        failedAt[i] = now();
        last = error;
        if (servers.length > 1) {
          options.log?.debug(
            `${(error as Error).message}; trying the next server`,
          );
        }
      }
    }
    throw last;
  };
}
