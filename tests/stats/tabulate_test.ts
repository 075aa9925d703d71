// Expected strings were produced by Python's tabulate 0.8.9 (Debian
// python3-tabulate) with the exact calls of the Flask original:
// tabulate(pairs, ["hash", "timestamp"], tablefmt="plain", floatfmt="10.4f")
// and tabulate(counts.items(), ["client", "count"], tablefmt="plain").
import assert from "node:assert/strict";
import {
  type Column,
  formatFixed,
  formatPlainTable,
} from "../../lib/stats/tabulate.ts";

const HASHES: Column[] = [
  { header: "hash", kind: "text" },
  { header: "timestamp", kind: "float" },
];
const CLIENTS: Column[] = [
  { header: "client", kind: "text" },
  { header: "count", kind: "int" },
];
const H1 = "7dac838b19925a9baeaac1bb1789bd411ac3cdac52157a6033bc0b18fe070ceb";
const H2 = "be7cbed5bab6fc9c253937977f34aa3c9cf5fc3d8985d9cec7edc353994ca633";
const H3 = "c222d52b79c72f5835d87cc2fe9f5f1a3ee995bea890bd22eb439b646bed4a68";

Deno.test("tabulate: hashes table as the Flask original prints it", () => {
  assert.equal(
    formatPlainTable(HASHES, [
      [H1, 1700000000.123456],
      [H2, 1600000000.03125],
      [H3, 1500000000.96875],
    ]),
    "hash                                                                    timestamp\n" +
      `${H1}  1700000000.1235\n` +
      `${H2}  1600000000.0312\n` +
      `${H3}  1500000000.9688`,
  );
});

Deno.test("tabulate: short timestamps are padded to 10 and right-aligned", () => {
  assert.equal(
    formatPlainTable(HASHES, [["a".repeat(64), 5.5], ["0f".repeat(32), 12.25]]),
    "hash                                                                timestamp\n" +
      `${"a".repeat(64)}       5.5000\n` +
      `${"0f".repeat(32)}      12.2500`,
  );
});

Deno.test("tabulate: clients table, counts right-aligned under their header", () => {
  assert.equal(
    formatPlainTable(CLIENTS, [["2001:db8::1", 12], ["10.0.0.7", 3]]),
    "client         count\n2001:db8::1       12\n10.0.0.7           3",
  );
  assert.equal(
    formatPlainTable(CLIENTS, [["127.0.0.1", 5], ["::1", 12345], [
      "2001:db8::1",
      7,
    ]]),
    "client         count\n127.0.0.1          5\n::1            12345\n2001:db8::1        7",
  );
});

Deno.test("tabulate: empty tables are the header only, trailing spaces trimmed", () => {
  assert.equal(formatPlainTable(HASHES, []), "hash    timestamp");
  assert.equal(formatPlainTable(CLIENTS, []), "client    count");
});

Deno.test("formatFixed: Python's .4f, exact value, ties to even", () => {
  const vectors: [number, string][] = [
    [0, "0.0000"],
    [1.5, "1.5000"],
    [123.45678, "123.4568"],
    [1e-5, "0.0000"],
    [5e-5, "0.0001"],
    [0.00015, "0.0001"],
    [0.00025, "0.0003"],
    [2.00005, "2.0000"],
    [99999.99995, "99999.9999"],
    [1700000000.00005, "1700000000.0001"],
    [1700000000.03125, "1700000000.0312"],
    [1500000000.96875, "1500000000.9688"],
    [-1.00005, "-1.0001"],
    [-0, "-0.0000"],
    [1e20, "100000000000000000000.0000"],
  ];
  for (const [x, expected] of vectors) {
    assert.equal(formatFixed(x, 4), expected, `format(${x}, ".4f")`);
  }
  assert.equal(formatFixed(2.5, 0), "2");
  assert.equal(formatFixed(3.5, 0), "4");
  assert.equal(formatFixed(NaN, 4), "nan");
  assert.equal(formatFixed(-Infinity, 4), "-inf");
});
