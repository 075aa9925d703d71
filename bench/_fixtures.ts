/**
 * Inputs shared by the micro-benchmarks and the report that turns their
 * timings into throughput: real block documents and streams of frames.
 *
 * @module
 */
import { encodeNetstring } from "../lib/shared/netstring.ts";
import { BlockTemplate } from "../lib/shared/template.ts";

/** The shipped template, loaded once. */
export const template: BlockTemplate = await BlockTemplate.load();

/** A typical document (block 21,000,000: 454 bytes). */
export const DOCUMENT: string = template.render(21_000_000n);

/** The document's UTF-8 bytes. */
export const DOCUMENT_BYTES: Uint8Array = new TextEncoder().encode(DOCUMENT);

/** Frames of consecutive documents, `bytes` long at least, concatenated. */
function frames(bytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let block = 21_000_000n; size < bytes; block++) {
    const frame = encodeNetstring(template.render(block));
    parts.push(frame);
    size += frame.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** About 1 MiB of document frames, as a long-lived connection carries. */
export const MANY_FRAMES: Uint8Array = frames(1 << 20);

/** Socket reads are at most this big in the server. */
export const READ_CHUNK_BYTES = 8 * 1024;

/** One 60 KiB frame (under the 64 KiB default limit). */
export const LARGE_FRAME: Uint8Array = encodeNetstring(
  new Uint8Array(60 * 1024).fill(0x61),
);

/**
 * Bytes each throughput benchmark processes per iteration, by name, so the
 * report can print MB/s next to the time.
 */
export const BENCH_BYTES: Record<string, number> = {
  "decode 1 MiB of document frames": MANY_FRAMES.length,
  "decode 1 MiB of document frames, copying each": MANY_FRAMES.length,
  "decode one 60 KiB frame in 8 KiB reads": LARGE_FRAME.length,
  "decode 1 MiB through NetstringDecoderStream": MANY_FRAMES.length,
  "encode a document": DOCUMENT_BYTES.length,
};
