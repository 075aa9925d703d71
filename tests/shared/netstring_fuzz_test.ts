/**
 * Property-based tests of the netstring decoder: arbitrary byte streams, cut
 * at arbitrary points, are decoded exactly as a straightforward reference
 * decoder reads the whole input at once. The decoder throws nothing but
 * NetstringError, yields no frame that was not sent, and never buffers more
 * than the limit.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeNetstring,
  NetstringDecoderStream,
  NetstringError,
  type NetstringErrorReason,
  NetstringParser,
} from "../../lib/shared/netstring.ts";

/** Cases per property; the README of tests/ quotes these. */
const RUNS = { sync: 3000, stream: 400 };

const enc = new TextEncoder();

interface Decoded {
  frames: Uint8Array[];
  error?: NetstringErrorReason;
}

/**
 * The netstring grammar read over the whole input, byte by byte: the oracle
 * the incremental parser must agree with for every way of cutting the input.
 */
function reference(bytes: Uint8Array, max: number): Decoded {
  const maxDigits = String(max).length;
  const frames: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    let length = 0;
    let digits = 0;
    while (true) {
      if (p >= bytes.length) return { frames, error: "truncated" };
      const b = bytes[p++];
      if (b >= 0x30 && b <= 0x39) {
        if (digits === 1 && length === 0) {
          return { frames, error: "bad_length" };
        }
        length = length * 10 + b - 0x30;
        digits++;
        if (digits > maxDigits || length > max) {
          return { frames, error: "too_long" };
        }
      } else if (b === 0x3a) {
        if (digits === 0) return { frames, error: "bad_length" };
        break;
      } else {
        return { frames, error: digits === 0 ? "bad_length" : "missing_colon" };
      }
    }
    if (bytes.length - p < length) return { frames, error: "truncated" };
    const frame = bytes.slice(p, p + length);
    p += length;
    if (p >= bytes.length) return { frames, error: "truncated" };
    if (bytes[p++] !== 0x2c) return { frames, error: "missing_comma" };
    frames.push(frame);
  }
  return { frames };
}

/** Cuts `bytes` at the given positions (taken modulo its length). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
    .sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    chunks.push(bytes.slice(from, to));
    from = to;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs the incremental parser over `chunks`, failing on any foreign error. */
function decode(chunks: Uint8Array[], max: number): Decoded {
  const parser = new NetstringParser({ maxFrameBytes: max });
  const frames: Uint8Array[] = [];
  try {
    for (const chunk of chunks) {
      parser.push(chunk, (frame) => {
        assert.ok(frame.length <= max, `frame of ${frame.length} > ${max}`);
        frames.push(frame);
      });
    }
    parser.end();
    return { frames };
  } catch (error) {
    if (!(error instanceof NetstringError)) throw error;
    assert.match(error.message, /^Cannot decode frame: /);
    return { frames, error: error.reason };
  }
}

const text = (s: string) => enc.encode(s);

/**
 * Byte streams near the grammar, so most cases get past the first byte:
 * valid frames mixed with wrong lengths, leading zeros, huge lengths, missing
 * commas, stray separators and raw garbage.
 */
const hostileStream = fc.array(
  fc.oneof(
    {
      weight: 30,
      arbitrary: fc.uint8Array({ maxLength: 40 }).map(encodeNetstring),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: -3, max: 3 }),
      ).map(([p, d]) =>
        concat([text(`${Math.max(0, p.length + d)}:`), p, text(",")])
      ),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 20 }).map((p) =>
        concat([text(`${p.length}:`), p])
      ),
    },
    {
      weight: 1,
      arbitrary: fc.bigInt({ min: 0n, max: 10n ** 20n }).map((n) =>
        text(`${n}:`)
      ),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 20 }).map((p) =>
        concat([text(`0${p.length}:`), p, text(",")])
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        ":",
        ",",
        "0",
        "0:,",
        "-1:",
        " 1:a,",
        "1:a,\n",
        "99999999999:",
        "1 :a,",
        "\u00ff",
      ).map(text),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }) },
  ),
  { maxLength: 12 },
).map(concat);

const limits = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.constantFrom(9, 10, 99, 100, 65536),
);
const cuts = fc.array(fc.nat(), { maxLength: 12 });

Deno.test("fuzz: valid frames cut anywhere decode to exactly what was sent", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }),
      cuts,
      (payloads, at) => {
        const got = decode(
          split(concat(payloads.map(encodeNetstring)), at),
          300,
        );
        assert.equal(got.error, undefined);
        assert.deepEqual(got.frames, payloads);
      },
    ),
    { numRuns: RUNS.sync },
  );
});

Deno.test("fuzz: random bytes decode as the reference decoder says", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      limits,
      cuts,
      (b, max, at) => {
        assert.deepEqual(decode(split(b, at), max), reference(b, max));
      },
    ),
    { numRuns: RUNS.sync },
  );
});

Deno.test("fuzz: hostile streams decode as the reference decoder says", () => {
  let frames = 0;
  let errors = 0;
  fc.assert(
    fc.property(hostileStream, limits, cuts, (b, max, at) => {
      const expected = reference(b, max);
      assert.deepEqual(decode(split(b, at), max), expected);
      frames += expected.frames.length;
      if (expected.error) errors++;
    }),
    { numRuns: RUNS.sync },
  );
  // The generator must reach both outcomes often, or it tests little.
  assert.ok(frames > RUNS.sync, `only ${frames} frames decoded`);
  assert.ok(errors > RUNS.sync / 4, `only ${errors} streams rejected`);
  assert.ok(errors < RUNS.sync, "every stream was rejected");
});

Deno.test("fuzz: a length over the limit is refused before its colon", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 70_000 }),
      fc.bigInt({ min: 1n, max: 10n ** 30n }),
      (max, extra) => {
        const declared = BigInt(max) + extra;
        const parser = new NetstringParser({ maxFrameBytes: max });
        const header = text(String(declared));
        // Fed a byte at a time: the error comes while digits are still read,
        // so no body buffer is ever allocated for the declared length.
        let consumed = 0;
        assert.throws(
          () => {
            for (const byte of header) {
              consumed++;
              parser.push(new Uint8Array([byte]), () => {});
            }
          },
          (e: unknown) =>
            e instanceof NetstringError && e.reason === "too_long",
        );
        assert.ok(consumed <= String(max).length + 1);
      },
    ),
    { numRuns: RUNS.sync },
  );
});

Deno.test("fuzz: the stream decoder errors only with NetstringError", async () => {
  await fc.assert(
    fc.asyncProperty(hostileStream, limits, cuts, async (b, max, at) => {
      const expected = reference(b, max);
      const frames: Uint8Array[] = [];
      let error: unknown;
      try {
        const stream = ReadableStream.from(split(b, at))
          .pipeThrough(new NetstringDecoderStream({ maxFrameBytes: max }));
        for await (const frame of stream) frames.push(frame);
      } catch (e) {
        error = e;
      }
      if (expected.error === undefined) {
        assert.equal(error, undefined);
        assert.deepEqual(frames, expected.frames);
      } else {
        assert.ok(error instanceof NetstringError, String(error));
        assert.equal(error.reason, expected.error);
        // An errored stream may drop frames it had queued, never add any.
        assert.deepEqual(frames, expected.frames.slice(0, frames.length));
      }
    }),
    { numRuns: RUNS.stream },
  );
});
