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

/** One document as a record, ready to append to a segment. */
export function encodeRecord(doc: ReceivedDocument): Uint8Array {
  const body = encoder.encode(JSON.stringify(encodeDoc(doc)));
  const record = new Uint8Array(HEADER_BYTES + body.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, body.length, true);
  view.setUint32(4, crc32(body), true);
  record.set(body, HEADER_BYTES);
  return record;
}

/**
 * Splits a segment into documents, stopping at a torn or corrupt record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSegment, encodeRecord } from "./spool_record.ts";
 *
 * const doc = { payload: "<p>1</p>", hash: "ab", block: 1n, ip: "::1",
 *   port: 1, receivedAt: 0, server: "s" };
 * const record = encodeRecord(doc);
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
  return { docs, validBytes: at, torn: at < bytes.length };
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
