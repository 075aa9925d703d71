/**
 * TLS for the ingest port that a peer cannot stall. Deno's own TLS listener
 * (`Deno.listenTls`) cannot close a connection whose handshake is pending:
 * `close()` leaves the socket open until the peer goes away, so peers that
 * send 3 bytes of a ClientHello and stop each keep a descriptor forever
 * (measured on Deno 2.9.6; so does `node:tls` over a web stream). Here TLS
 * runs with `node:tls` on `node:net` sockets, which close whatever state
 * the handshake is in, and send a close_notify when a finished connection
 * closes.
 *
 * @module
 */
import net from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { LISTEN_BACKLOG } from "./ingest.ts";

/** How long a close waits for its TLS close_notify to be sent. */
export const CLOSE_NOTIFY_MS = 1000;

/**
 * Connections accepted by the runtime but not yet taken by `accept()` (the
 * server is at `--max-connections`), as a kernel backlog holds them; more
 * are closed at once. None has begun its handshake, so none can take the
 * close for a delivery.
 */
export const PENDING_MAX = 1024;

/** Bytes held per connection before the socket is paused. */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * One TLS connection: the handshake starts when it is accepted and must be
 * awaited with {@linkcode TlsConn.handshake} (the caller bounds how long);
 * reads and writes are Deno.Conn-like.
 */
export class TlsConn {
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  readonly #raw: net.Socket;
  readonly #tls: TLSSocket;
  readonly #handshake: Promise<void>;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #waiting: PromiseWithResolvers<void> | undefined;
  #closed = false;
  #secure = false;

  /** Starts TLS (server side) over an accepted TCP socket. */
  constructor(raw: net.Socket, context: SecureContext) {
    this.#raw = raw;
    this.remoteAddr = {
      transport: "tcp",
      hostname: raw.remoteAddress ?? "0.0.0.0",
      port: raw.remotePort ?? 0,
    };
    this.#tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    const done = Promise.withResolvers<void>();
    this.#handshake = done.promise;
    // Handled here; the caller sees the rejection when it awaits handshake().
    this.#handshake.catch(() => {});
    this.#tls.once("secure", () => {
      this.#secure = true;
      done.resolve();
    });
    this.#tls.on("error", (error: Error) => {
      this.#error ??= error;
      done.reject(error);
      this.#wake();
    });
    this.#tls.on("close", () => {
      this.#ended = true;
      done.reject(
        this.#error ??
          new Deno.errors.ConnectionReset("closed during the TLS handshake"),
      );
      this.#wake();
    });
    this.#tls.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    this.#tls.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= HIGH_WATER_BYTES) this.#tls.pause();
      this.#wake();
    });
    raw.resume();
  }

  /** Resolves once the handshake finished; rejects if it failed. */
  handshake(): Promise<void> {
    return this.#handshake;
  }

  /** Reads into `p`: bytes read, or `null` at the end of input. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) throw new Deno.errors.Interrupted("operation canceled");
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      this.#waiting = Promise.withResolvers();
      await this.#waiting.promise;
    }
    const chunk = this.#chunks[0];
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#buffered -= n;
    if (this.#buffered < HIGH_WATER_BYTES) this.#tls.resume();
    return n;
  }

  /** Writes all of `p`; resolves with its length once handed on. */
  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#tls.write(p, (error?: Error | null) => {
        if (error) reject(error);
        else resolve(p.length);
      });
    });
  }

  /**
   * Closes the connection: after a finished handshake with a TLS
   * close_notify (waiting at most {@linkcode CLOSE_NOTIFY_MS} for it to be
   * sent), otherwise at once, whatever state the handshake is in.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    if (!this.#secure || this.#error) {
      this.#tls.destroy();
      this.#raw.destroy();
      return;
    }
    const timer = setTimeout(() => {
      this.#tls.destroy();
      this.#raw.destroy();
    }, CLOSE_NOTIFY_MS);
    this.#raw.once("close", () => clearTimeout(timer));
    this.#tls.end();
  }

  #wake() {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve();
  }
}

/** A TLS listener whose connections can always be closed; see the module. */
export class TlsListener {
  readonly #server: net.Server;
  readonly #context: SecureContext;
  readonly #pending: net.Socket[] = [];
  #waiting: PromiseWithResolvers<void> | undefined;
  #closed = false;

  private constructor(server: net.Server, context: SecureContext) {
    this.#server = server;
    this.#context = context;
    server.on("connection", (raw: net.Socket) => {
      if (this.#pending.length >= PENDING_MAX) return void raw.destroy();
      raw.on("error", () => {});
      this.#pending.push(raw);
      this.#wake();
    });
  }

  /**
   * Listens on `hostname:port` with a PEM certificate chain and key. Bad key
   * material throws before the port is taken.
   */
  static async listen(
    options: { hostname: string; port: number; cert: string; key: string },
  ): Promise<TlsListener> {
    const context = createSecureContext({
      cert: options.cert,
      key: options.key,
    });
    // Paused: nothing is read until the ingest loop takes the connection.
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, LISTEN_BACKLOG, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new TlsListener(server, context);
  }

  /** The address being listened on. */
  get addr(): Deno.NetAddr {
    const { address, port } = this.#server.address() as net.AddressInfo;
    return { transport: "tcp", hostname: address, port };
  }

  /** The next peer, TCP-connected, its handshake under way. */
  async accept(): Promise<TlsConn> {
    while (true) {
      if (this.#closed) throw new Deno.errors.BadResource("listener closed");
      const raw = this.#pending.shift();
      // A peer that left while waiting is skipped.
      if (raw && !raw.destroyed) return new TlsConn(raw, this.#context);
      if (raw) continue;
      this.#waiting = Promise.withResolvers();
      await this.#waiting.promise;
    }
  }

  /** Stops listening and closes the connections not yet accepted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const raw of this.#pending.splice(0)) raw.destroy();
    this.#wake();
  }

  #wake() {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve();
  }
}
