/**
 * BlockTemplate.matchBytes (the in-place check the server tries first)
 * against the general way (fatal UTF-8 decode, then parse): on documents
 * and on near misses of them, the byte check may only take what the
 * general way takes, with the same number, and for a verbatim template it
 * takes all of it but a document after a byte order mark (which the server
 * then takes the general way, as before).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { BlockTemplate, MAX_BLOCK } from "../../lib/shared/template.ts";
import {
  dataLineHead,
  escapeLineBreaks,
  formatDataLine,
} from "../../lib/server/output.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The general way: the block number, or undefined (not UTF-8 or no document). */
function slow(template: BlockTemplate, frame: Uint8Array): bigint | undefined {
  let text: string;
  try {
    text = decoder.decode(frame);
  } catch {
    return undefined;
  }
  return template.parse(text);
}

const block = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_BLOCK }),
  fc.bigInt({ min: 0n, max: 100n }),
  fc.bigInt({ min: MAX_BLOCK - 100n, max: MAX_BLOCK }),
);

const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xc3],
  [0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc0, 0xb0],
);

type Mutation = (
  doc: Uint8Array,
  digitsAt: number,
  digitsLen: number,
) => Uint8Array;

function splice(
  doc: Uint8Array,
  at: number,
  remove: number,
  insert: ArrayLike<number>,
): Uint8Array {
  at = Math.min(at, doc.length);
  const out = new Uint8Array(
    doc.length - Math.min(remove, doc.length - at) +
      insert.length,
  );
  out.set(doc.subarray(0, at));
  out.set(insert, at);
  out.set(doc.subarray(Math.min(at + remove, doc.length)), at + insert.length);
  return out;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>((doc) => doc),
  // Other digits in place of the number: leading zeros, too many, none.
  fc.stringMatching(/^[0-9]{0,23}$/).map((d): Mutation => (doc, at, len) =>
    splice(doc, at, len, encoder.encode(d))
  ),
  // A sign, space or other character before or after the number.
  fc.tuple(fc.constantFrom("-", "+", " ", "0", "x", "\n", "é"), fc.boolean())
    .map(([c, after]): Mutation => (doc, at, len) =>
      splice(doc, after ? at + len : at, 0, encoder.encode(c))
    ),
  // A byte flipped anywhere (prefix, number, suffix).
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(
    ([pos, x]): Mutation => (doc) => {
      if (doc.length === 0) return doc;
      const out = doc.slice();
      out[pos % doc.length] ^= x;
      return out;
    },
  ),
  // Cut short, or cut at the front.
  fc.tuple(fc.nat(), fc.boolean()).map(([n, front]): Mutation => (doc) => {
    const k = n % (doc.length + 1);
    return front ? doc.subarray(k) : doc.subarray(0, k);
  }),
  // Extra bytes anywhere, some of them not UTF-8.
  fc.tuple(
    fc.nat(),
    fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 4 }), invalidUtf8),
  ).map(([pos, extra]): Mutation => (doc) =>
    splice(doc, pos % (doc.length + 1), 0, extra)
  ),
  // A byte order mark in front (the decoder drops one).
  fc.constant<Mutation>((doc) => splice(doc, 0, 0, [0xef, 0xbb, 0xbf])),
);

function checkAgreement(template: BlockTemplate, verbatim: boolean) {
  const parts = template.verbatim;
  assert.equal(parts !== undefined, verbatim);
  fc.assert(
    fc.property(block, fc.array(mutation, { maxLength: 3 }), (n, muts) => {
      const text = template.render(n);
      let frame: Uint8Array = encoder.encode(text);
      // Where the number is, for mutations of it (the first place printed).
      const prefixBytes = parts
        ? encoder.encode(parts.prefix).length
        : encoder.encode(text.slice(0, text.indexOf(String(n)))).length;
      const len = String(n).length;
      for (const m of muts) frame = m(frame, prefixBytes, len);
      const expected = slow(template, frame);
      const digits = template.matchBytes(frame);
      if (!verbatim) {
        assert.equal(digits, undefined);
        return;
      }
      if (digits === undefined) {
        // The server then asks decode + parse, which decides. It takes
        // only one kind of frame the byte check leaves: a document after
        // a byte order mark, which the decoder drops.
        if (expected !== undefined) {
          assert.deepEqual([...frame.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
        }
        return;
      }
      assert.equal(digits, String(expected));
      // What the server prints and stores from the parts is the text.
      const payload = parts!.prefix + digits + parts!.suffix;
      assert.equal(payload, decoder.decode(frame));
      assert.equal(
        dataLineHead("::1", 7) + escapeLineBreaks(parts!.prefix) + digits +
          escapeLineBreaks(parts!.suffix),
        formatDataLine("::1", 7, payload),
      );
    }),
    { numRuns: 3000 },
  );
}

Deno.test("matchBytes agrees with decode + parse on the shipped template's near misses", async () => {
  checkAgreement(await BlockTemplate.load(), true);
});

Deno.test("matchBytes agrees on a verbatim template with non-ASCII text", () => {
  checkAgreement(
    BlockTemplate.fromString("é€😀\n<b><%= it.block %></b>\n☃"),
    true,
  );
});

Deno.test("a template printing the number twice takes the general way only", () => {
  checkAgreement(
    BlockTemplate.fromString("<a><%= it.block %></a>\n<b><%= it.block %></b>"),
    false,
  );
});

Deno.test("templates whose bytes and text could disagree take the general way only", () => {
  for (
    const source of [
      // A digit after the number: the digit run would not end at the suffix.
      "<p><%= it.block %>5</p>",
      // A leading BOM, which the decoder drops from the payload.
      "\uFEFF<p><%= it.block %></p>",
      // Other tags: the output may depend on the number.
      "<% if (it.block > 5n) { %>big<% } %><%= it.block %>",
      "<%= it.block %><%= '' %>",
      // Not the number verbatim.
      "<%= it.block + 1n %>",
      "<%~ it.block %>x",
      // Not well-formed text.
      "<p>\uD800<%= it.block %></p>",
    ]
  ) {
    const t = BlockTemplate.fromString(source);
    assert.equal(t.verbatim, undefined, source);
    checkAgreement(t, false);
  }
});

Deno.test("matchBytes takes the edges of the range and nothing past them", async () => {
  const t = await BlockTemplate.load();
  const frame = (digits: string) =>
    encoder.encode(t.verbatim!.prefix + digits + t.verbatim!.suffix);
  assert.equal(t.matchBytes(frame("0")), "0");
  assert.equal(t.matchBytes(frame(String(MAX_BLOCK))), String(MAX_BLOCK));
  assert.equal(t.matchBytes(frame(String(MAX_BLOCK + 1n))), undefined);
  assert.equal(t.matchBytes(frame("00")), undefined);
  assert.equal(t.matchBytes(frame("")), undefined);
  assert.equal(t.matchBytes(frame("1".repeat(21))), undefined);
});
