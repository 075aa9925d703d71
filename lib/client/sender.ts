/**
 * Sending a document the way the originals do: a new TCP connection, one
 * netstring frame, close (SPEC 1.2).
 *
 * @module
 */
import { CLIENT_OPTIONS } from "./options.ts";
import { encodeNetstring } from "../shared/netstring.ts";

/** A server address. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** A document could not be handed to a server. */
export class SendError extends Error {
  /** The server that was tried. */
  readonly server: ServerAddress;

  /** Builds the error; `cause` is the socket error. */
  constructor(server: ServerAddress, message: string, options?: ErrorOptions) {
    super(
      `Cannot send to ${formatServer(server)}: ${message}`,
      options,
    );
    this.name = "SendError";
    this.server = server;
  }
}

/** Formats an address as `host:port`, bracketing IPv6 hosts. */
export function formatServer({ host, port }: ServerAddress): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Options for {@linkcode sendDocument}. */
export interface SendOptions {
  /** Budget for connecting, writing and the server's close, in ms. */
  timeoutMs?: number;
  /** Aborts the send. */
  signal?: AbortSignal;
  /** Speak TLS to the server, verifying its certificate. */
  tls?: SendTlsOptions;
}

/** TLS settings for {@linkcode sendDocument}. */
export interface SendTlsOptions {
  /** PEM CA certificates trusted besides the built-in roots. */
  caCerts?: string[];
}

/**
 * Sends `payload` as one netstring on a new connection (over TLS when `tls`
 * is given), then half-closes and waits (within the timeout) for the server
 * to close its side. A refused or reset connection, a failed TLS handshake,
 * or a write that does not finish in time, is a
 * {@linkcode SendError}; a server that reads and keeps silent, as the
 * originals do, is a success.
 *
 * @example
 * ```ts ignore
 * import { sendDocument } from "./sender.ts";
 * await sendDocument({ host: "127.0.0.1", port: 9999 }, "<p>1</p>");
 * ```
 */
export async function sendDocument(
  server: ServerAddress,
  payload: string | Uint8Array,
  options: SendOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? CLIENT_OPTIONS.timeoutMs.default;
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
  try {
    const frame = encodeNetstring(payload);
    let written = 0;
    while (written < frame.length) {
      written += await conn.write(frame.subarray(written));
    }
    await conn.closeWrite();
    // Reading until EOF tells a reset (refused document) from a normal close.
    const sink = new Uint8Array(256);
    try {
      while ((await conn.read(sink)) !== null) { /* servers send nothing */ }
    } catch (error) {
      if (!timeout.aborted) throw error;
    }
  } catch (cause) {
    throw new SendError(
      server,
      signal.aborted
        ? `send timed out after ${timeoutMs} ms`
        : (cause as Error).message,
      { cause },
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
    onAbort();
  }
}
