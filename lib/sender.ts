/**
 * Sending a document the way the originals do: a new TCP connection, one
 * netstring frame, close (SPEC 1.2).
 *
 * @module
 */
import { encodeNetstring } from "./netstring.ts";

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
}

/**
 * Sends `payload` as one netstring on a new connection, then half-closes and
 * waits (within the timeout) for the server to close its side. A refused or
 * reset connection, or a write that does not finish in time, is a
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
  const timeoutMs = options.timeoutMs ?? 1000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout])
    : timeout;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: server.host,
      port: server.port,
      signal,
    });
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
