import assert from "node:assert/strict";
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeNetstring,
  NetstringDecoderStream,
  NetstringError,
  NetstringParser,
} from "../../lib/shared/netstring.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function decodeChunks(
  chunks: (string | Uint8Array)[],
  maxFrameBytes?: number,
): Promise<string[]> {
  const stream = ReadableStream.from(
    chunks.map((c) => typeof c === "string" ? enc.encode(c) : c),
  ).pipeThrough(new NetstringDecoderStream({ maxFrameBytes }));
  const out: string[] = [];
  for await (const frame of stream) out.push(dec.decode(frame));
  return out;
}

async function rejects(
  chunks: (string | Uint8Array)[],
  reason: NetstringError["reason"],
  maxFrameBytes?: number,
) {
  await assert.rejects(
    decodeChunks(chunks, maxFrameBytes),
    (error: unknown) => {
      assert.ok(error instanceof NetstringError, String(error));
      assert.equal(error.reason, reason);
      assert.match(error.message, /^Cannot decode frame: /);
      return true;
    },
  );
}

Deno.test("encodeNetstring frames strings by UTF-8 byte length", () => {
  assert.equal(dec.decode(encodeNetstring("hello")), "5:hello,");
  assert.equal(dec.decode(encodeNetstring("")), "0:,");
  assert.equal(dec.decode(encodeNetstring("é")), "2:é,");
  assert.deepEqual(
    encodeNetstring(new Uint8Array([0, 255])),
    new Uint8Array([0x32, 0x3a, 0, 255, 0x2c]),
  );
});

Deno.test("decoder round-trips many frames in one chunk", async () => {
  const payloads = ["a", "", "hello, world", "é:,", "x".repeat(1000)];
  const joined = payloads.map((p) => dec.decode(encodeNetstring(p))).join("");
  assert.deepEqual(await decodeChunks([joined]), payloads);
});

Deno.test("decoder handles a frame split at every byte position", async () => {
  const frame = encodeNetstring("<p>21000000</p>");
  for (let cut = 0; cut <= frame.length; cut++) {
    assert.deepEqual(
      await decodeChunks([frame.subarray(0, cut), frame.subarray(cut)]),
      ["<p>21000000</p>"],
      `split at ${cut}`,
    );
  }
});

Deno.test("decoder handles one byte per chunk across several frames", async () => {
  const bytes = enc.encode("3:abc,0:,2:de,");
  const chunks = [...bytes].map((b) => new Uint8Array([b]));
  assert.deepEqual(await decodeChunks(chunks), ["abc", "", "de"]);
});

Deno.test("decoder frames do not alias the input chunk", () => {
  const chunk = enc.encode("3:abc,");
  const parser = new NetstringParser();
  const frames: Uint8Array[] = [];
  parser.push(chunk, (f) => frames.push(f));
  chunk.fill(0x7a);
  assert.equal(dec.decode(frames[0]), "abc");
});

Deno.test("views: a frame inside one chunk is a view into it", () => {
  const chunk = enc.encode("3:abc,2:de,");
  const parser = new NetstringParser({ views: true });
  const seen: string[] = [];
  parser.push(chunk, (f) => {
    assert.equal(f.buffer, chunk.buffer);
    seen.push(dec.decode(f));
  });
  assert.deepEqual(seen, ["abc", "de"]);
});

Deno.test("views: a frame that outlives its chunk is copied", () => {
  // Body ends with the chunk (comma in the next one), and body split over
  // two chunks: the reader reuses its buffer, so neither may alias it.
  const buffer = new Uint8Array(16);
  const parser = new NetstringParser({ views: true });
  const frames: Uint8Array[] = [];
  for (const part of ["3:abc", ",4:de", "fg,"]) {
    const n = enc.encodeInto(part, buffer).written;
    parser.push(buffer.subarray(0, n), (f) => frames.push(f));
    buffer.fill(0x7a);
  }
  parser.end();
  assert.deepEqual(frames.map((f) => dec.decode(f)), ["abc", "defg"]);
});

Deno.test("views: errors are the same as without", () => {
  for (
    const [input, reason] of [
      ["3:abcd", "missing_comma"],
      ["03:abc,", "bad_length"],
      ["3x:abc,", "missing_colon"],
    ] as const
  ) {
    assert.throws(
      () =>
        new NetstringParser({ views: true }).push(enc.encode(input), () => {}),
      (e: unknown) => e instanceof NetstringError && e.reason === reason,
    );
  }
});

Deno.test("decoder rejects malformed lengths", async () => {
  await rejects(["x:abc,"], "bad_length");
  await rejects([":abc,"], "bad_length");
  await rejects(["03:abc,"], "bad_length");
  await rejects(["00:,"], "bad_length");
  await rejects(["-1:a,"], "bad_length");
  await rejects([" 3:abc,"], "bad_length");
  await rejects(["3x:abc,"], "missing_colon");
  await rejects(["3 :abc,"], "missing_colon");
});

Deno.test("decoder rejects a missing comma", async () => {
  await rejects(["3:abcd"], "missing_comma");
  await rejects(["3:abc\n"], "missing_comma");
  await rejects(["3:abc,3:def;"], "missing_comma");
});

Deno.test("decoder rejects truncated input", async () => {
  await rejects(["3:ab"], "truncated");
  await rejects(["3:abc"], "truncated");
  await rejects(["12"], "truncated");
  await rejects(["3:abc,4"], "truncated");
});

Deno.test("decoder yields the frames before an error", () => {
  const seen: string[] = [];
  const parser = new NetstringParser();
  assert.throws(
    () => parser.push(enc.encode("1:a,1:b,x"), (f) => seen.push(dec.decode(f))),
    NetstringError,
  );
  assert.deepEqual(seen, ["a", "b"]);
});

Deno.test("decoder enforces the limit before buffering the body", () => {
  const parser = new NetstringParser({ maxFrameBytes: 100 });
  // A 101-byte declared length fails on its last digit, before any ':'.
  assert.throws(
    () => parser.push(enc.encode("101"), () => {}),
    (e: unknown) => e instanceof NetstringError && e.reason === "too_long",
  );
  // A huge declared length fails as soon as it has too many digits.
  const huge = new NetstringParser();
  assert.throws(
    () => huge.push(enc.encode("99999999999:"), () => {}),
    (e: unknown) =>
      e instanceof NetstringError && e.reason === "too_long" &&
      /exceeds the limit of 65536 bytes/.test(e.message),
  );
  // Exactly the limit is fine.
  const frames: Uint8Array[] = [];
  new NetstringParser({ maxFrameBytes: 100 }).push(
    encodeNetstring("y".repeat(100)),
    (f) => frames.push(f),
  );
  assert.equal(frames[0].length, 100);
});

Deno.test("default limit is 64 KiB", async () => {
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 65536);
  const ok = "z".repeat(65536);
  assert.deepEqual(await decodeChunks([dec.decode(encodeNetstring(ok))]), [ok]);
  await rejects([dec.decode(encodeNetstring(ok + "z"))], "too_long");
});

Deno.test("parser reports idle only between frames", () => {
  const parser = new NetstringParser();
  assert.equal(parser.idle, true);
  parser.push(enc.encode("2:a"), () => {});
  assert.equal(parser.idle, false);
  parser.push(enc.encode("b,"), () => {});
  assert.equal(parser.idle, true);
  parser.end();
});
