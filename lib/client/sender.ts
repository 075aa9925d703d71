/**
 * Sending a document: a new TCP connection, one netstring frame, a
 * half-close (SPEC 1.2), then the server's answer (SPEC part 3): `ok` once
 * the document is durable, `err <reason>` when refused. The originals'
 * servers never answer; `--ack auto` tells them apart per address.
 *
 * @module
 */
import {
  encodeNetstring,
  formatHostPort,
  NetstringError,
  NetstringParser,
  writeAll,
} from "../shared/mod.ts";
import type { AnswerMemory } from "./answer_memory.ts";

/** A server address. */
export interface ServerAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
  port: number;
}

/**
 * The ways answers are used (`--ack`): `auto` demands `ok` from a server
 * that answers and takes the close as delivery from one that does not (an
 * original); `required` demands `ok` from every server; `off` never reads
 * answers (the originals' client).
 */
export const ACK_MODES = ["auto", "required", "off"] as const;

/** One of {@linkcode ACK_MODES}. */
export type AckMode = typeof ACK_MODES[number];

/** Whether `value` is one of {@linkcode ACK_MODES}. */
export function isAckMode(value: string): value is AckMode {
  return (ACK_MODES as readonly string[]).includes(value);
}

/** The `--ack` mode used when none is given. */
export const DEFAULT_ACK_MODE: AckMode = "auto";

/** Budget for connecting, writing and the server's answer, in ms. */
export const DEFAULT_SEND_TIMEOUT_MS = 1000;

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

/** How a send ended, when the document counts as delivered. */
export type Delivery = "ok" | "close";

/** Options for {@linkcode sendDocument}. */
export interface SendOptions {
  /**
   * Budget for connecting, writing and the server's answer, in ms.
   *
   * @default {DEFAULT_SEND_TIMEOUT_MS}
   */
  timeoutMs?: number;
  /** Aborts the send. */
  signal?: AbortSignal;
  /** Speak TLS to the server, verifying its certificate. */
  tls?: SendTlsOptions;
  /**
   * See {@linkcode ACK_MODES}.
   *
   * @default {DEFAULT_ACK_MODE}
   */
  ack?: AckMode;
  /**
   * For `auto`: which servers answer, and how many times in a row one that
   * answered closed without an answer (see {@linkcode AnswerMemory}).
   * Without one, every server is taken to be an original.
   */
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
 * answer where that counts as delivery (`off`; `auto` for a server taken
 * to be an original: one that never answered, or one that answered before
 * and closed without an answer three times in a row). Throws {@linkcode DocumentRefusedError} on `err`, and
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
  const timeoutMs = options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const ack = options.ack ?? DEFAULT_ACK_MODE;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout])
    : timeout;
  const conn = await connect(server, options.tls, {
    signal,
    timeout,
    timeoutMs,
  });
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
      if (ack === "auto" && closeDelivers(options.answered, remote)) {
        return "close";
      }
      throw new SendError(server, "closed without an acknowledgement");
    }
    options.answered?.answered(remote);
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

/** `--ack auto`: whether an orderly close without an answer is delivery. */
function closeDelivers(
  memory: AnswerMemory | undefined,
  remote: Deno.NetAddr,
): boolean {
  // Without a memory every server is taken to be an original.
  return memory?.closedWithoutAnswer(remote) ?? true;
}

/** Opens the connection (and TLS over it), within the send's budget. */
async function connect(
  server: ServerAddress,
  tls: SendTlsOptions | undefined,
  { signal, timeout, timeoutMs }: {
    signal: AbortSignal;
    timeout: AbortSignal;
    timeoutMs: number;
  },
): Promise<Deno.Conn> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({
      hostname: server.host,
      port: server.port,
      signal,
    });
    // The handshake runs on the first write, inside the same time budget.
    if (tls) {
      const tcp = conn as Deno.TcpConn;
      try {
        conn = await Deno.startTls(tcp, {
          hostname: server.host,
          caCerts: tls.caCerts,
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
  return conn;
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
