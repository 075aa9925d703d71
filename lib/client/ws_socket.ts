/**
 * A WebSocket client connection (RFC 6455) over `Deno.connect` or
 * `Deno.connectTls`, written here rather than taken from the runtime's
 * `WebSocket` for one reason: the runtime assembles a message of any size
 * (tens of MB) before handing it over, while an RPC endpoint must not be
 * able to make the client hold more than {@linkcode WsSocketOptions}'
 * `maxMessageBytes`. Here a frame header announcing more is refused before
 * its payload is read, and the connection closed with code 1009.
 *
 * Only what a JSON-RPC subscription needs: text and binary messages,
 * fragmentation, ping/pong and the close handshake; no extensions, no
 * subprotocols, no redirects (any answer but 101 is a failure).
 *
 * @module
 */
import { cleanText, settleWithin, writeAll } from "../shared/mod.ts";

/** Options for {@linkcode WsSocket.connect}. */
export interface WsSocketOptions {
  /** Largest message accepted, in bytes; a larger one closes the socket. */
  maxMessageBytes: number;
  /** Aborts connecting (and closes the socket once connected). */
  signal?: AbortSignal;
  /** Receives each complete message. */
  onMessage: (data: string | Uint8Array) => void;
}

/** How a socket ended: a close code and a reason safe to log. */
export interface WsClosed {
  /** The close code (1006 when the connection just ended). */
  code: number;
  /** Why, escaped and short. */
  reason: string;
  /** True when a message over the limit ended it. */
  tooLarge: boolean;
}

/** The connection could not be opened: refused, timed out, not a WebSocket. */
export class WsConnectError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WsConnectError";
  }
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEADER_BYTES = 16 * 1024;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** An open WebSocket client connection. */
export class WsSocket {
  readonly #conn: Deno.Conn;
  readonly #options: WsSocketOptions;
  readonly #closed = Promise.withResolvers<WsClosed>();
  /** Settles once the peer sent its close frame or the connection ended. */
  readonly #peerDone = Promise.withResolvers<void>();
  #writing: Promise<void> = Promise.resolve();
  #closeSent = false;
  #ended = false;

  private constructor(conn: Deno.Conn, options: WsSocketOptions) {
    this.#conn = conn;
    this.#options = options;
  }

  /**
   * Connects to a `ws://` or `wss://` URL and completes the opening
   * handshake; rejects with a {@linkcode WsConnectError} (or the signal's
   * reason) when it cannot.
   */
  static async connect(
    url: string,
    options: WsSocketOptions,
  ): Promise<WsSocket> {
    const u = new URL(url);
    const secure = u.protocol === "wss:";
    if (!secure && u.protocol !== "ws:") {
      throw new WsConnectError(`not a ws:// or wss:// URL`);
    }
    const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(u.port || (secure ? 443 : 80));
    const { signal } = options;
    signal?.throwIfAborted();
    let conn: Deno.Conn;
    try {
      conn = secure
        ? await Deno.connectTls({ hostname, port })
        : await Deno.connect({ hostname, port, signal });
    } catch (error) {
      signal?.throwIfAborted();
      throw new WsConnectError((error as Error).message, { cause: error });
    }
    const onAbort = () => closeQuietly(conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const rest = await handshake(conn, u);
      const socket = new WsSocket(conn, options);
      void socket.#read(rest);
      return socket;
    } catch (error) {
      closeQuietly(conn);
      signal?.throwIfAborted();
      if (error instanceof WsConnectError) throw error;
      throw new WsConnectError((error as Error).message, { cause: error });
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Resolves once the connection has ended, saying how. */
  get closed(): Promise<WsClosed> {
    return this.#closed.promise;
  }

  /** Sends one text message. */
  send(text: string): Promise<void> {
    if (this.#ended || this.#closeSent) {
      return Promise.reject(new Error("socket closed"));
    }
    return this.#write(0x1, enc.encode(text));
  }

  /**
   * Sends a close frame and ends the connection once the peer answered
   * with its own (the closing handshake), or after 1 s without one.
   * Resolves once the connection has ended.
   */
  close(code = 1000, reason = ""): Promise<void> {
    return this.#shutdown({ code, reason: cleanText(reason), tooLarge: false });
  }

  /**
   * Sends a close frame with `sendCode`, waits (1 s at most) for it to be
   * written and, unless `waitForPeer` is false, for the peer's close; then
   * ends.
   */
  async #shutdown(
    closed: WsClosed,
    sendCode = closed.code,
    waitForPeer = true,
  ): Promise<void> {
    if (this.#ended) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#write(0x8, encodeClose(sendCode)).catch(() => {});
    }
    // One second in all for our close frame to go out and the peer's to come.
    const started = performance.now();
    await settleWithin(this.#writing, 1000);
    if (waitForPeer) {
      await settleWithin(
        this.#peerDone.promise,
        Math.max(0, 1000 - (performance.now() - started)),
      );
    }
    this.#end(closed);
  }

  #write(opcode: number, payload: Uint8Array): Promise<void> {
    const frame = encodeFrame(opcode, payload);
    const write = this.#writing.then(() => writeAll(this.#conn, frame));
    this.#writing = write.catch(() => {});
    return write;
  }

  #end(closed: WsClosed) {
    this.#peerDone.resolve();
    if (this.#ended) return;
    this.#ended = true;
    closeQuietly(this.#conn);
    this.#closed.resolve(closed);
  }

  async #read(first: Uint8Array) {
    const limit = this.#options.maxMessageBytes;
    const reader = new FrameReader(this.#conn, first);
    const message = new MessageAssembly();
    try {
      while (true) {
        const frame = await reader.header();
        if (frame === undefined) break;
        const control = frame.opcode >= 0x8;
        if (
          control ? frame.length > 125 : message.bytes + frame.length > limit
        ) {
          // Nobody reads on: the peer's close is not waited for.
          await this.#shutdown(
            {
              code: 1009,
              reason: `a message of ${
                message.bytes + frame.length
              } bytes or more, over the limit of ${limit} bytes`,
              tooLarge: !control,
            },
            1009,
            false,
          );
          return;
        }
        const payload = await reader.payload(frame);
        if (frame.opcode === 0x8) {
          await this.#peerClosed(payload);
          return;
        }
        if (frame.opcode === 0x9) {
          this.#write(0xa, payload).catch(() => {});
          continue;
        }
        if (frame.opcode === 0xa) continue;
        const complete = message.add(frame, payload);
        if (complete !== undefined) this.#options.onMessage(complete);
      }
      this.#peerDone.resolve();
      this.#end({ code: 1006, reason: "connection ended", tooLarge: false });
    } catch (error) {
      this.#peerDone.resolve();
      this.#end({
        code: 1006,
        reason: cleanText((error as Error).message),
        tooLarge: false,
      });
    }
  }

  /** The peer's close frame: answer it with the same code and end. */
  async #peerClosed(payload: Uint8Array) {
    const code = payload.length >= 2
      ? new DataView(payload.buffer).getUint16(0)
      : 1005;
    const reason = cleanText(dec.decode(payload.subarray(2)), 123);
    this.#peerDone.resolve();
    await this.#shutdown(
      { code, reason, tooLarge: false },
      code === 1005 ? 1000 : code,
    );
  }
}

/** Reads frames off a connection: headers, then their unmasked payloads. */
class FrameReader {
  readonly #conn: Deno.Conn;
  readonly #chunk = new Uint8Array(64 * 1024);
  #pending: Uint8Array;

  constructor(conn: Deno.Conn, first: Uint8Array) {
    this.#conn = conn;
    this.#pending = first;
  }

  /** The next frame's header; undefined when the connection ended first. */
  async header(): Promise<FrameHeader | undefined> {
    while (true) {
      const frame = decodeFrameHeader(this.#pending);
      if (frame !== undefined) return frame;
      if (!await this.#more()) return undefined;
    }
  }

  /** The payload of `frame`, unmasked; the connection ending is an error. */
  async payload(frame: FrameHeader): Promise<Uint8Array> {
    while (this.#pending.length < frame.headerBytes + frame.length) {
      if (!await this.#more()) throw new Error("connection ended mid-frame");
    }
    const payload = this.#pending.slice(
      frame.headerBytes,
      frame.headerBytes + frame.length,
    );
    this.#pending = this.#pending.subarray(frame.headerBytes + frame.length);
    if (frame.mask) {
      for (let i = 0; i < payload.length; i++) {
        payload[i] ^= frame.mask[i % 4];
      }
    }
    return payload;
  }

  async #more(): Promise<boolean> {
    const n = await this.#conn.read(this.#chunk);
    if (n === null) return false;
    this.#pending = concat(this.#pending, this.#chunk.subarray(0, n));
    return true;
  }
}

/** Data frames gathered into messages (fragmentation). */
class MessageAssembly {
  /** Bytes of the message so far. */
  bytes = 0;
  #parts: Uint8Array[] = [];
  #opcode = 0;

  /** Adds a data frame; returns the message once its last frame came. */
  add(
    frame: FrameHeader,
    payload: Uint8Array,
  ): string | Uint8Array | undefined {
    if (frame.opcode !== 0x0) {
      this.#opcode = frame.opcode;
      this.#parts = [];
      this.bytes = 0;
    }
    this.#parts.push(payload);
    this.bytes += payload.length;
    if (!frame.fin) return undefined;
    const parts = this.#parts;
    const data = parts.length === 1 ? parts[0] : concat(...parts);
    this.#parts = [];
    this.bytes = 0;
    return this.#opcode === 0x1 ? dec.decode(data) : data;
  }
}

/** Sends the upgrade request; returns bytes read past the response head. */
async function handshake(conn: Deno.Conn, url: URL): Promise<Uint8Array> {
  const key = base64(crypto.getRandomValues(new Uint8Array(16)));
  const headers = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.push(
      `Authorization: Basic ${base64(enc.encode(`${user}:${password}`))}`,
    );
  }
  await writeAll(conn, enc.encode(headers.join("\r\n") + "\r\n\r\n"));
  let buffer: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  let end = -1;
  while (end < 0) {
    const n = await conn.read(chunk);
    if (n === null) {
      throw new WsConnectError("connection closed during the handshake");
    }
    buffer = concat(buffer, chunk.subarray(0, n));
    end = indexOfHeadEnd(buffer);
    if (end < 0 && buffer.length > MAX_HEADER_BYTES) {
      throw new WsConnectError("handshake response head too long");
    }
  }
  const head = dec.decode(buffer.subarray(0, end));
  const [statusLine, ...lines] = head.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (status !== "101") {
    throw new WsConnectError(
      `HTTP ${status ?? "?"} instead of 101 Switching Protocols: ${
        cleanText(statusLine, 80)
      }`,
    );
  }
  const accept = lines
    .map((l) => /^sec-websocket-accept:\s*(\S+)/i.exec(l)?.[1])
    .find((v) => v !== undefined);
  const digest = await crypto.subtle.digest("SHA-1", enc.encode(key + GUID));
  if (accept !== base64(new Uint8Array(digest))) {
    throw new WsConnectError(
      "handshake answer has a wrong Sec-WebSocket-Accept",
    );
  }
  return buffer.slice(end + 4);
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}

interface FrameHeader {
  fin: boolean;
  opcode: number;
  length: number;
  headerBytes: number;
  mask?: Uint8Array;
}

/** The header at the start of `bytes`, or undefined until it is complete. */
function decodeFrameHeader(bytes: Uint8Array): FrameHeader | undefined {
  if (bytes.length < 2) return undefined;
  const fin = (bytes[0] & 0x80) !== 0;
  const opcode = bytes[0] & 0x0f;
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = (bytes[2] << 8) | bytes[3];
    at = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset + 2, 8);
    // Beyond 2^53 is beyond any limit: Infinity refuses it all the same.
    const high = view.getUint32(0);
    length = high >= 0x200000 ? Infinity : high * 2 ** 32 + view.getUint32(4);
    at = 10;
  }
  if (masked) {
    if (bytes.length < at + 4) return undefined;
    return {
      fin,
      opcode,
      length,
      headerBytes: at + 4,
      mask: bytes.slice(at, at + 4),
    };
  }
  return { fin, opcode, length, headerBytes: at };
}

/** A client frame: FIN set, masked with a fresh random key. */
function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + lengthBytes + 4 + n);
  frame[0] = 0x80 | opcode;
  const view = new DataView(frame.buffer);
  if (lengthBytes === 0) frame[1] = 0x80 | n;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, n);
  } else {
    frame[1] = 0x80 | 127;
    view.setUint32(2, Math.floor(n / 2 ** 32));
    view.setUint32(6, n >>> 0);
  }
  const maskAt = 2 + lengthBytes;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, maskAt);
  for (let i = 0; i < n; i++) {
    frame[maskAt + 4 + i] = payload[i] ^ mask[i % 4];
  }
  return frame;
}

function encodeClose(code: number): Uint8Array {
  const body = new Uint8Array(2);
  new DataView(body.buffer).setUint16(0, code);
  return body;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

function closeQuietly(conn: Deno.Conn) {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
