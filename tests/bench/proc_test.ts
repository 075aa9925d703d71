/**
 * The bench's wait for room in the kernel's connection-tracking table
 * (`conntrackRoom` in bench/_proc.ts), driven by an injected table.
 */
import assert from "node:assert/strict";
import { conntrackRoom } from "../../bench/_proc.ts";

/** A table of `max` entries whose count reads as `counts`, then its last. */
function table(max: number, counts: number[]) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    read: (name: "count" | "max") =>
      name === "max" ? max : counts[Math.min(reads++, counts.length - 1)],
  };
}

Deno.test("conntrackRoom: waits while the table lacks room for the load, not once it has it", async () => {
  // 1,000 entries; a load of 300 needs the count at or below 600.
  const draining = table(1000, [900, 750, 601, 600]);
  const waited = await conntrackRoom(300, { pollMs: 5, read: draining.read });
  assert.equal(draining.reads, 4);
  assert.ok(waited >= 10, `waited ${waited} ms`);
  const roomy = table(1000, [600]);
  assert.equal(await conntrackRoom(300, { pollMs: 5, read: roomy.read }), 0);
  assert.equal(roomy.reads, 1);
});

Deno.test("conntrackRoom: a load larger than half the table waits for half; a full table only until the limit", async () => {
  // A load of 10,000 needs at most half of 1,000: a count of 400 is room.
  const half = table(1000, [401, 400]);
  await conntrackRoom(10_000, { pollMs: 1, read: half.read });
  assert.equal(half.reads, 2);
  const stuck = table(1000, [1000]);
  const waited = await conntrackRoom(100, {
    pollMs: 5,
    limitMs: 50,
    read: stuck.read,
  });
  assert.ok(waited >= 50 && waited < 1000, `waited ${waited} ms`);
});

Deno.test("conntrackRoom: no table (no netfilter) is no wait", async () => {
  assert.equal(await conntrackRoom(1e9, { read: () => NaN }), 0);
});
