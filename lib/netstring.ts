/**
 * Netstring framing (`<decimal length>:<payload>,`), the wire format shared
 * with the 2017 Go and Python implementations (SPEC 1.2).
 *
 * @module
 */

/** Default largest payload a decoder accepts, in bytes. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/** Why a byte stream could not be decoded; stable strings for metrics. */
export type NetstringErrorReason =
  | "bad_length"
  | "too_long"
  | "missing_colon"
  | "missing_comma"
  | "truncated";

/**
 * A byte stream that is not a well-formed sequence of netstrings.
 *
 * @example
 * ```ts
 * import { NetstringError } from "./netstring.ts";
 * const err = new NetstringError("too_long", "length 99 exceeds the limit of 10 bytes");
 * err.message; // "Cannot decode frame: length 99 exceeds the limit of 10 bytes"
 * ```
 */
export class NetstringError extends Error {
  /** Machine-readable cause, one of {@linkcode NetstringErrorReason}. */
  readonly reason: NetstringErrorReason;

  /** Builds an error whose message starts with `Cannot decode frame: `. */
  constructor(reason: NetstringErrorReason, detail: string) {
    super(`Cannot decode frame: ${detail}`);
    this.name = "NetstringError";
    this.reason = reason;
  }
}

const encoder = new TextEncoder();
const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Frames one payload as a netstring. Strings are encoded as UTF-8 and the
 * length counts bytes, not characters.
 *
 * @example
 * ```ts
 * import { encodeNetstring } from "./netstring.ts";
 * new TextDecoder().decode(encodeNetstring("héllo")); // "6:héllo,"
 * ```
 */
export function encodeNetstring(payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const header = encoder.encode(`${body.length}:`);
  const frame = new Uint8Array(header.length + body.length + 1);
  frame.set(header, 0);
  frame.set(body, header.length);
  frame[frame.length - 1] = COMMA;
  return frame;
}

/** Options for {@linkcode NetstringDecoderStream}. */
export interface NetstringDecoderOptions {
  /** Largest payload accepted, in bytes. Defaults to 64 KiB. */
  maxFrameBytes?: number;
}

const enum State {
  Length,
  Body,
  Comma,
}

/**
 * The incremental netstring parser behind {@linkcode NetstringDecoderStream},
 * for callers that read sockets themselves. Feed chunks to `push`, which
 * calls `onFrame` for each complete payload and throws a
 * {@linkcode NetstringError} on malformed input; call `end` at end of input.
 * After an error the parser must be discarded.
 *
 * @example
 * ```ts
 * import { NetstringParser } from "./netstring.ts";
 * const p = new NetstringParser();
 * const frames: Uint8Array[] = [];
 * p.push(new TextEncoder().encode("3:ab"), (f) => frames.push(f));
 * p.push(new TextEncoder().encode("c,"), (f) => frames.push(f));
 * p.end(); // frames holds "abc"
 * ```
 */
export class NetstringParser {
  readonly #max: number;
  readonly #maxDigits: number;
  #state = State.Length;
  #length = 0;
  #digits = 0;
  #body: Uint8Array = new Uint8Array(0);
  #filled = 0;

  /** Builds a parser enforcing `maxFrameBytes` (default 64 KiB). */
  constructor(options: NetstringDecoderOptions = {}) {
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxDigits = String(this.#max).length;
  }

  /** Whether the input so far ends exactly between frames. */
  get idle(): boolean {
    return this.#state === State.Length && this.#digits === 0;
  }

  /** Consumes `chunk`, calling `onFrame` with each payload completed. */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    const max = this.#max;
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === State.Length) {
        const byte = chunk[i++];
        if (byte >= ZERO && byte <= NINE) {
          if (this.#digits === 1 && this.#length === 0) {
            throw new NetstringError("bad_length", "length has a leading zero");
          }
          this.#length = this.#length * 10 + (byte - ZERO);
          this.#digits++;
          if (this.#digits > this.#maxDigits || this.#length > max) {
            throw new NetstringError(
              "too_long",
              `length ${
                this.#digits > this.#maxDigits
                  ? `of ${this.#digits}+ digits`
                  : this.#length
              } exceeds the limit of ${max} bytes`,
            );
          }
        } else if (byte === COLON) {
          if (this.#digits === 0) {
            throw new NetstringError("bad_length", "length is empty");
          }
          const length = this.#length;
          if (chunk.length - i >= length) {
            // A frame wholly inside this chunk is copied in one go.
            this.#body = chunk.slice(i, i + length);
            i += length;
            this.#state = State.Comma;
          } else {
            this.#body = new Uint8Array(length);
            this.#filled = 0;
            this.#state = State.Body;
          }
        } else if (this.#digits === 0) {
          throw new NetstringError(
            "bad_length",
            `length starts with byte 0x${hex(byte)}, not a digit`,
          );
        } else {
          throw new NetstringError(
            "missing_colon",
            `expected ':' after the length, got byte 0x${hex(byte)}`,
          );
        }
      } else if (this.#state === State.Body) {
        const take = Math.min(this.#length - this.#filled, chunk.length - i);
        this.#body.set(chunk.subarray(i, i + take), this.#filled);
        this.#filled += take;
        i += take;
        if (this.#filled === this.#length) this.#state = State.Comma;
      } else {
        const byte = chunk[i++];
        if (byte !== COMMA) {
          throw new NetstringError(
            "missing_comma",
            `expected ',' after ${this.#length} bytes, got byte 0x${hex(byte)}`,
          );
        }
        const body = this.#body;
        this.#body = new Uint8Array(0);
        this.#state = State.Length;
        this.#length = 0;
        this.#digits = 0;
        onFrame(body);
      }
    }
  }

  /** Signals end of input; throws when it ends inside a frame. */
  end(): void {
    if (!this.idle) {
      throw new NetstringError(
        "truncated",
        this.#state === State.Length
          ? "input ends inside a length"
          : `input ends inside a frame of ${this.#length} bytes`,
      );
    }
  }
}

/**
 * Decodes a byte stream into netstring payloads. Frames may be split across
 * chunks and several may share one chunk. The declared length is checked
 * against the limit as soon as its digits are read, so a peer cannot make the
 * decoder buffer more than `maxFrameBytes` (plus a length header). Any
 * malformation errors the stream with a {@linkcode NetstringError}; so does
 * input that ends inside a frame.
 *
 * @example
 * ```ts
 * import { encodeNetstring, NetstringDecoderStream } from "./netstring.ts";
 * const frames = ReadableStream.from([encodeNetstring("a"), encodeNetstring("bc")])
 *   .pipeThrough(new NetstringDecoderStream());
 * for await (const frame of frames) console.log(new TextDecoder().decode(frame));
 * ```
 */
export class NetstringDecoderStream
  extends TransformStream<Uint8Array, Uint8Array> {
  /** Builds a decoder enforcing `maxFrameBytes` (default 64 KiB). */
  constructor(options: NetstringDecoderOptions = {}) {
    const parser = new NetstringParser(options);
    super({
      transform(chunk, controller) {
        parser.push(chunk, (frame) => controller.enqueue(frame));
      },
      flush() {
        parser.end();
      },
    });
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
