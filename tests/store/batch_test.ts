/**
 * What a batch's rows say, for every store: one block row per hash in hash
 * order, with copies, first and last receipt, the first copy's server, and
 * the indices in hash order that the writers insert by.
 */
import assert from "node:assert/strict";
import { blockRows, hashOrder } from "../../lib/store/batch.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";

const doc = (
  hash: string,
  receivedAt: number,
  block: bigint | null = 1n,
  server = "s1",
): ReceivedDocument => ({
  payload: `<p>${hash}</p>`,
  hash,
  block,
  ip: "127.0.0.1",
  port: 1000 + receivedAt,
  receivedAt,
  server,
});

Deno.test("batch: indices in hash order, equal hashes in arrival order", () => {
  const docs = [
    doc("c", 1),
    doc("a", 2),
    doc("c", 3),
    doc("b", 4),
    doc("a", 5),
  ];
  assert.deepEqual(hashOrder(docs), [1, 4, 3, 0, 2]);
  assert.deepEqual(hashOrder([]), []);
});

Deno.test("batch: one block row per hash, in hash order, from copies in any order", () => {
  const docs = [
    doc("c", 30, null, "s1"), // c's first arrival, not the stored copy
    doc("a", 20, 5n, "s2"),
    doc("c", 10, 9n, "s3"), // c's stored copy: its server and time count
    doc("b", 40, 7n, "s4"), // b stored by someone else before: no server
    doc("c", 50, 8n, "s5"),
  ];
  const firsts = [false, true, true, false, false];
  const expected = [
    {
      hash: "a",
      block: 5n,
      firstSeen: 20,
      lastSeen: 20,
      copies: 1,
      server: "s2",
    },
    {
      hash: "b",
      block: 7n,
      firstSeen: 40,
      lastSeen: 40,
      copies: 1,
      server: null,
    },
    {
      hash: "c",
      block: 9n,
      firstSeen: 10,
      lastSeen: 50,
      copies: 3,
      server: "s3",
    },
  ];
  assert.deepEqual(blockRows(docs, firsts), expected);
  // A writer passes the order it inserted by: the same rows.
  assert.deepEqual(blockRows(docs, firsts, hashOrder(docs)), expected);
});

Deno.test("batch: 10,000 random hashes with repeats make sorted, distinct rows that count every copy", () => {
  const hex = () =>
    [...crypto.getRandomValues(new Uint8Array(32))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
  const pool = Array.from({ length: 7000 }, hex);
  const docs = Array.from(
    { length: 10_000 },
    (_, i) => doc(pool[Math.floor(Math.random() * pool.length)], i),
  );
  const rows = blockRows(docs, docs.map(() => false));
  const hashes = rows.map((r) => r.hash);
  assert.deepEqual(hashes, [...new Set(docs.map((d) => d.hash))].sort());
  assert.equal(rows.reduce((n, r) => n + r.copies, 0), docs.length);
  for (const row of rows) {
    const copies = docs.filter((d) => d.hash === row.hash);
    assert.equal(row.firstSeen, copies[0].receivedAt);
    assert.equal(row.lastSeen, copies.at(-1)!.receivedAt);
  }
});
