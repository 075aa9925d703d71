import {
  encodeNetstring,
  NetstringDecoderStream,
  NetstringParser,
} from "../lib/shared/netstring.ts";
import {
  DOCUMENT,
  LARGE_FRAME,
  MANY_FRAMES,
  READ_CHUNK_BYTES,
} from "./_fixtures.ts";

function decodeInReads(bytes: Uint8Array, views = true): number {
  const parser = new NetstringParser({ views });
  let count = 0;
  const onFrame = () => {
    count++;
  };
  for (let at = 0; at < bytes.length; at += READ_CHUNK_BYTES) {
    parser.push(bytes.subarray(at, at + READ_CHUNK_BYTES), onFrame);
  }
  parser.end();
  return count;
}

Deno.bench({
  name: "encode a document",
  group: "netstring",
}, () => {
  encodeNetstring(DOCUMENT);
});

Deno.bench({
  name: "decode 1 MiB of document frames",
  group: "netstring",
  baseline: true,
}, () => {
  if (decodeInReads(MANY_FRAMES) === 0) throw new Error("no frames");
});

Deno.bench({
  name: "decode 1 MiB of document frames, copying each",
  group: "netstring",
}, () => {
  if (decodeInReads(MANY_FRAMES, false) === 0) throw new Error("no frames");
});

Deno.bench({
  name: "decode one 60 KiB frame in 8 KiB reads",
  group: "netstring",
}, () => {
  if (decodeInReads(LARGE_FRAME) !== 1) throw new Error("no frame");
});

Deno.bench({
  name: "decode 1 MiB through NetstringDecoderStream",
  group: "netstring",
}, async () => {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < MANY_FRAMES.length; at += READ_CHUNK_BYTES) {
    chunks.push(MANY_FRAMES.subarray(at, at + READ_CHUNK_BYTES));
  }
  let count = 0;
  const frames = ReadableStream.from(chunks).pipeThrough(
    new NetstringDecoderStream(),
  );
  for await (const _ of frames) count++;
  if (count === 0) throw new Error("no frames");
});
