/**
 * The spool's on-disk record format. A segment is a sequence of records
 * `[u32 length][u32 CRC-32][body]` (little-endian; `body` is the document as
 * a JSON array). A record whose length runs past the end of the file or
 * whose checksum does not match (a torn write after `kill -9` or a power
 * loss) ends the segment: it was never acknowledged, because
 * acknowledgement waits for the sync.
 *
 * @module
 */
import { crc32 } from "node:zlib";
import type { ReceivedDocument } from "../store/mod.ts";

/** Bytes before a record's body: its length and its CRC-32. */
const HEADER_BYTES = 8;
/** A segment's file name: its first sequence number, 16 digits, and this. */
export const SEGMENT_SUFFIX = ".seg";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The file name of the segment whose first record is number `first`. */
export function segmentName(first: number): string {
  return `${String(first).padStart(16, "0")}${SEGMENT_SUFFIX}`;
}

/** A {@linkcode RecordBuffer}'s size when empty, in bytes. */
const RECORD_BUFFER_BYTES = 64 * 1024;
/** A buffer grown past this (a burst) is let go once its group is written. */
const RECORD_BUFFER_KEEP_BYTES = 4 * 1024 * 1024;

/**
 * Records encoded back to back into one reused buffer: a group of
 * documents becomes one write with no allocation or copy per record (a
 * record array joined per group cost a page-faulting allocation each time).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSegment, RecordBuffer } from "./spool_record.ts";
 *
 * const doc = { payload: "<p>1</p>", hash: "ab", block: 1n, ip: "::1",
 *   port: 1, receivedAt: 0, server: "s" };
 * const records = new RecordBuffer();
 * records.append(doc);
 * records.append(doc);
 * assert.equal(records.count, 2);
 * assert.deepEqual(decodeSegment(records.view()).docs, [doc, doc]);
 * ```
 */
export class RecordBuffer {
  #bytes = new Uint8Array(RECORD_BUFFER_BYTES);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;
  #count = 0;

  /** Bytes of the records held. */
  get length(): number {
    return this.#length;
  }

  /** Records held. */
  get count(): number {
    return this.#count;
  }

  /** Appends one document as a record. */
  append(doc: ReceivedDocument): void {
    const json = JSON.stringify(encodeDoc(doc));
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.#reserve(HEADER_BYTES + json.length * 3);
    const at = this.#length;
    const body = this.#bytes.subarray(at + HEADER_BYTES);
    const { written } = encoder.encodeInto(json, body);
    this.#view.setUint32(at, written, true);
    this.#view.setUint32(at + 4, crc32(body.subarray(0, written)), true);
    this.#length = at + HEADER_BYTES + written;
    this.#count++;
  }

  /** Appends the records of `other`, in order. */
  appendAll(other: RecordBuffer): void {
    this.#reserve(other.length);
    this.#bytes.set(other.view(), this.#length);
    this.#length += other.length;
    this.#count += other.count;
  }

  /** The records, valid until the next change. */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  /** Empties it, letting go of a buffer a burst made large. */
  clear(): void {
    this.#length = 0;
    this.#count = 0;
    if (this.#bytes.length > RECORD_BUFFER_KEEP_BYTES) {
      this.#bytes = new Uint8Array(RECORD_BUFFER_BYTES);
      this.#view = new DataView(this.#bytes.buffer);
    }
  }

  #reserve(extra: number) {
    const need = this.#length + extra;
    if (need <= this.#bytes.length) return;
    const bytes = new Uint8Array(Math.max(need, this.#bytes.length * 2));
    bytes.set(this.view());
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer);
  }
}

/**
 * Splits a segment into documents, stopping at a torn or corrupt record or
 * at the zeros of a preallocated segment's unused space (not torn).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSegment, RecordBuffer } from "./spool_record.ts";
 *
 * const doc = { payload: "<p>1</p>", hash: "ab", block: 1n, ip: "::1",
 *   port: 1, receivedAt: 0, server: "s" };
 * const records = new RecordBuffer();
 * records.append(doc);
 * const record = records.view().slice();
 * const torn = new Uint8Array([...record, ...record.subarray(0, 5)]);
 * const { docs, validBytes } = decodeSegment(torn);
 * assert.deepEqual(docs, [doc]);
 * assert.equal(validBytes, record.length);
 * ```
 */
export function decodeSegment(
  bytes: Uint8Array,
): { docs: ReceivedDocument[]; validBytes: number; torn: boolean } {
  const docs: ReceivedDocument[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (at + HEADER_BYTES > bytes.length) break;
    const length = view.getUint32(at, true);
    const sum = view.getUint32(at + 4, true);
    const end = at + HEADER_BYTES + length;
    if (end > bytes.length) break;
    const body = bytes.subarray(at + HEADER_BYTES, end);
    if (crc32(body) !== sum) break;
    let doc: ReceivedDocument;
    try {
      doc = decodeDoc(JSON.parse(decoder.decode(body)));
    } catch {
      break;
    }
    docs.push(doc);
    at = end;
  }
  return { docs, validBytes: at, torn: !allZero(bytes.subarray(at)) };
}

function allZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

type WireDoc = [string, string, string | null, string, number, number, string];

function encodeDoc(d: ReceivedDocument): WireDoc {
  return [
    d.payload,
    d.hash,
    d.block === null ? null : d.block.toString(),
    d.ip,
    d.port,
    d.receivedAt,
    d.server,
  ];
}

function decodeDoc(w: WireDoc): ReceivedDocument {
  if (!Array.isArray(w) || w.length !== 7) throw new TypeError("bad record");
  return {
    payload: w[0],
    hash: w[1],
    block: w[2] === null ? null : BigInt(w[2]),
    ip: w[3],
    port: w[4],
    receivedAt: w[5],
    server: w[6],
  };
}
