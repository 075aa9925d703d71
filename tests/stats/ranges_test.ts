// RangeSet: runs merge in any arrival order, and gaps are exact.
import assert from "node:assert/strict";
import fc from "fast-check";
import { RangeSet } from "../../lib/stats/ranges.ts";

Deno.test("ranges: merges runs and lists gaps with totals", () => {
  const set = new RangeSet();
  for (const n of [5n, 3n, 4n, 10n, 12n, 11n, 7n]) set.add(n);
  assert.equal(set.add(4n), false, "already held");
  assert.equal(set.runs, 3);
  assert.equal(set.size, 7n);
  assert.equal(set.min, 3n);
  assert.equal(set.max, 12n);
  assert.deepEqual(set.gaps(3n, 12n), {
    ranges: [{ from: 6n, to: 6n }, { from: 8n, to: 9n }],
    count: 2,
    missing: 3n,
  });
  assert.deepEqual(set.gaps(1n, 15n, 1), {
    ranges: [{ from: 1n, to: 2n }],
    count: 4,
    missing: 8n,
  });
  assert.deepEqual(set.gaps(8n, 9n).ranges, [{ from: 8n, to: 9n }]);
  assert.deepEqual(set.gaps(10n, 12n).count, 0);
  assert.deepEqual(new RangeSet().gaps(1n, 2n).missing, 2n);
});

Deno.test("ranges: agrees with a plain set for any insertion order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 150 }),
      (numbers) => {
        const set = new RangeSet();
        for (const n of numbers) set.add(BigInt(n));
        const plain = new Set(numbers);
        assert.equal(set.size, BigInt(plain.size));
        const missing = [];
        for (let n = 0; n <= 200; n++) if (!plain.has(n)) missing.push(n);
        const gaps = set.gaps(0n, 200n);
        const listed = gaps.ranges.flatMap((r) => {
          const out = [];
          for (let n = r.from; n <= r.to; n++) out.push(Number(n));
          return out;
        });
        assert.deepEqual(listed, missing);
        assert.equal(gaps.missing, BigInt(missing.length));
      },
    ),
  );
});

Deno.test("ranges: addRange agrees with adding each number", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 100 }),
          fc.integer({ min: 0, max: 8 }),
        ),
        { maxLength: 30 },
      ),
      fc.boolean(),
      (runs, sorted) => {
        if (sorted) runs.sort((a, b) => a[0] - b[0]);
        const bulk = new RangeSet();
        const single = new RangeSet();
        for (const [from, length] of runs) {
          bulk.addRange(BigInt(from), BigInt(from + length));
          for (let n = from; n <= from + length; n++) single.add(BigInt(n));
        }
        assert.equal(bulk.size, single.size);
        assert.equal(bulk.runs, single.runs);
        assert.deepEqual(bulk.gaps(0n, 120n), single.gaps(0n, 120n));
      },
    ),
  );
});
