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
 * import assert from "node:assert/strict";
 * import { NetstringError } from "./netstring.ts";
 * const err = new NetstringError("too_long", "length 99 exceeds the limit of 10 bytes");
 * assert.equal(err.message, "Cannot decode frame: length 99 exceeds the limit of 10 bytes");
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
 * import assert from "node:assert/strict";
 * import { encodeNetstring } from "./netstring.ts";
 * assert.equal(new TextDecoder().decode(encodeNetstring("héllo")), "6:héllo,");
 * ```
 */
export function encodeNetstring(payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const digits = String(body.length);
  const frame = new Uint8Array(digits.length + body.length + 2);
  // The header is ASCII digits: written directly, without a second encode.
  for (let i = 0; i < digits.length; i++) frame[i] = digits.charCodeAt(i);
  frame[digits.length] = COLON;
  frame.set(body, digits.length + 1);
  frame[frame.length - 1] = COMMA;
  return frame;
}

/** Options for {@linkcode NetstringDecoderStream}. */
export interface NetstringDecoderOptions {
  /** Largest payload accepted, in bytes. Defaults to 64 KiB. */
  maxFrameBytes?: number;
}

/** Options for {@linkcode NetstringParser}. */
export interface NetstringParserOptions extends NetstringDecoderOptions {
  /**
   * Pass a frame that lies wholly inside one chunk (with its comma) to
   * `onFrame` as a view into that chunk instead of a copy. The view is only
   * valid until `onFrame` returns: callers that reuse their read buffer must
   * be done with the payload by then. Defaults to false (every frame is a
   * fresh copy).
   */
  views?: boolean;
}

const enum State {
  Length,
  Body,
  Comma,
}

/** The error for `byte` where a length digit or its colon was expected. */
function headerError(byte: number, digits: number): NetstringError {
  if (byte === COLON) {
    return new NetstringError("bad_length", "length is empty");
  }
  if (digits === 0) {
    return new NetstringError(
      "bad_length",
      `length starts with byte 0x${hex(byte)}, not a digit`,
    );
  }
  return new NetstringError(
    "missing_colon",
    `expected ':' after the length, got byte 0x${hex(byte)}`,
  );
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
 * import assert from "node:assert/strict";
 * import { NetstringParser } from "./netstring.ts";
 * const p = new NetstringParser();
 * const frames: Uint8Array[] = [];
 * p.push(new TextEncoder().encode("3:ab"), (f) => frames.push(f));
 * p.push(new TextEncoder().encode("c,"), (f) => frames.push(f));
 * p.end();
 * assert.deepEqual(frames.map((f) => new TextDecoder().decode(f)), ["abc"]);
 * ```
 */
export class NetstringParser {
  readonly #max: number;
  readonly #maxDigits: number;
  readonly #views: boolean;
  #state = State.Length;
  #length = 0;
  #digits = 0;
  #body: Uint8Array = new Uint8Array(0);
  #filled = 0;

  /**
   * Builds a parser enforcing `maxFrameBytes` (default 64 KiB); see
   * {@linkcode NetstringParserOptions.views}.
   */
  constructor(options: NetstringParserOptions = {}) {
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxDigits = String(this.#max).length;
    this.#views = options.views ?? false;
  }

  /** Whether the input so far ends exactly between frames. */
  get idle(): boolean {
    return this.#state === State.Length && this.#digits === 0;
  }

  /** Consumes `chunk`, calling `onFrame` with each payload completed. */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#state === State.Length) {
        // The header is read with locals: this loop runs once per frame.
        let length = this.#length;
        let digits = this.#digits;
        while (true) {
          if (i === n) {
            this.#length = length;
            this.#digits = digits;
            return;
          }
          const byte = chunk[i++];
          if (byte >= ZERO && byte <= NINE) {
            if (digits === 1 && length === 0) {
              throw new NetstringError(
                "bad_length",
                "length has a leading zero",
              );
            }
            length = length * 10 + (byte - ZERO);
            digits++;
            if (digits > this.#maxDigits || length > this.#max) {
              throw this.#tooLong(digits, length);
            }
          } else if (byte === COLON && digits > 0) {
            break;
          } else {
            throw headerError(byte, digits);
          }
        }
        this.#length = length;
        this.#digits = digits;
        if (n - i > length) {
          // The whole frame and its comma are here: no state to keep.
          const body = this.#views
            ? chunk.subarray(i, i + length)
            : chunk.slice(i, i + length);
          i += length;
          const byte = chunk[i++];
          if (byte !== COMMA) throw missingComma(length, byte);
          this.#length = 0;
          this.#digits = 0;
          onFrame(body);
        } else if (n - i === length) {
          // The comma comes with the next chunk, after this one is reused.
          this.#body = chunk.slice(i);
          i = n;
          this.#state = State.Comma;
        } else {
          this.#body = new Uint8Array(length);
          this.#body.set(chunk.subarray(i), 0);
          this.#filled = n - i;
          i = n;
          this.#state = State.Body;
        }
      } else if (this.#state === State.Body) {
        const take = Math.min(this.#length - this.#filled, n - i);
        this.#body.set(chunk.subarray(i, i + take), this.#filled);
        this.#filled += take;
        i += take;
        if (this.#filled === this.#length) this.#state = State.Comma;
      } else {
        const byte = chunk[i++];
        if (byte !== COMMA) throw missingComma(this.#length, byte);
        const body = this.#body;
        this.#body = new Uint8Array(0);
        this.#state = State.Length;
        this.#length = 0;
        this.#digits = 0;
        onFrame(body);
      }
    }
  }

  /** The error for a length over the limit, or of too many digits. */
  #tooLong(digits: number, length: number): NetstringError {
    return new NetstringError(
      "too_long",
      `length ${
        digits > this.#maxDigits ? `of ${digits}+ digits` : length
      } exceeds the limit of ${this.#max} bytes`,
    );
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

function missingComma(length: number, byte: number): NetstringError {
  return new NetstringError(
    "missing_comma",
    `expected ',' after ${length} bytes, got byte 0x${hex(byte)}`,
  );
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
 * import assert from "node:assert/strict";
 * import { encodeNetstring, NetstringDecoderStream } from "./netstring.ts";
 * const frames = ReadableStream.from([encodeNetstring("a"), encodeNetstring("bc")])
 *   .pipeThrough(new NetstringDecoderStream());
 * const texts = await Array.fromAsync(frames, (f) => new TextDecoder().decode(f));
 * assert.deepEqual(texts, ["a", "bc"]);
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
