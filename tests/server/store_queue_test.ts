/**
 * The store queue's rules: ordered batches, retries, overflow, refused
 * documents and the shutdown deadline. The store is a scripted in-memory
 * writer, so each failure happens exactly where the test puts it; the real
 * stores behind real proxies are covered in tests/e2e/outage_test.ts.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../lib/shared/log.ts";
import { StoreQueue } from "../../lib/server/store_queue.ts";
import {
  type ReceivedDocument,
  StoreError,
  type StoreWriter,
} from "../../lib/store/types.ts";
import { makeDocument } from "../_helpers/db.ts";
import { waitFor } from "../_helpers/net.ts";

/** An in-memory store whose answers the test scripts. */
class ScriptedWriter implements StoreWriter {
  readonly name = "memory";
  readonly batches: string[][] = [];
  readonly stored = new Set<string>();
  /** While set, every save fails as if the store were unreachable. */
  down = false;
  /** Hashes the store refuses for their content. */
  readonly poison = new Set<string>();
  /** While set, every document is refused (a missing privilege, ...). */
  refuseAll = false;
  /** When set, saves wait for it. */
  gate: PromiseWithResolvers<void> | undefined;
  closed = false;

  async save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (this.gate) await this.gate.promise;
    if (this.down) throw new StoreError("connection refused");
    if (this.refuseAll) {
      throw new StoreError("INSERT command denied", { kind: "rejected" });
    }
    if (docs.some((d) => this.poison.has(d.hash))) {
      throw new StoreError("data too long", { kind: "rejected" });
    }
    this.batches.push(docs.map((d) => d.hash));
    return docs.map((d) => {
      const first = !this.stored.has(d.hash);
      this.stored.add(d.hash);
      return first;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function docs(count: number, from = 1): Promise<ReceivedDocument[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => makeDocument(from + i)),
  );
}

const fast = { minBackoffMs: 1, maxBackoffMs: 5 };

Deno.test("queue: documents that arrive during a write become the next batch, in order", async () => {
  const writer = new ScriptedWriter();
  writer.gate = Promise.withResolvers();
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
  });
  const all = await docs(50);
  queue.push(all[0]);
  await waitFor(() => queue.stats.queued === 1 && queue.stats.up === 1);
  for (const d of all.slice(1)) queue.push(d);
  writer.gate.resolve();
  writer.gate = undefined;
  await waitFor(() => queue.stats.stored === 50, { what: "50 stored" });
  assert.deepEqual(writer.batches.map((b) => b.length), [1, 49]);
  assert.deepEqual(writer.batches.flat(), all.map((d) => d.hash));
  assert.equal(queue.stats.batches, 2);
  assert.equal(queue.stats.queued, 0);
  assert.equal(queue.stats.latencyMs.count, 2);
  assert.deepEqual((await queue.close(1000)).unsaved, []);
  assert.ok(writer.closed);
});

Deno.test("queue: lingering gathers a steady stream into one batch, and a lone document is written once the stream goes quiet", async () => {
  const writer = new ScriptedWriter();
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    // Far longer than the test: only the quiet gap can end the wait.
    lingerMs: 60_000,
    lingerQuietMs: 150,
  });
  await waitFor(() => queue.stats.up === 1);
  const stream = await docs(40);
  for (const d of stream) {
    queue.push(d);
    await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor(() => queue.stats.stored === 40, { what: "the stream stored" });
  // A gap of 150 ms between two of 40 pushes 5 ms apart would split it; a
  // loaded machine may stall once, never after every document.
  assert.ok(writer.batches.length <= 2, `batches: ${writer.batches.length}`);
  const [lone] = await docs(1, 100);
  queue.push(lone);
  await waitFor(() => queue.stats.stored === 41, {
    what: "the lone document stored",
    timeoutMs: 5000,
  });
  assert.deepEqual(writer.batches.at(-1), [lone.hash]);
  assert.deepEqual((await queue.close(1000)).unsaved, []);
});

Deno.test("queue: an unreachable store is retried; held documents are flushed in order, once", async () => {
  const writer = new ScriptedWriter();
  const lines: string[] = [];
  const log = createLogger("t", { level: "warn", write: (l) => lines.push(l) });
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    maxBatch: 7,
    log,
    ...fast,
  });
  const all = await docs(40);
  for (const d of all.slice(0, 10)) queue.push(d);
  await waitFor(() => queue.stats.stored === 10);
  writer.down = true;
  for (const d of all.slice(10, 30)) queue.push(d);
  await waitFor(() => queue.stats.errors >= 3, { what: "failed retries" });
  assert.equal(queue.stats.up, 0);
  assert.equal(queue.stats.queued, 20);
  writer.down = false;
  for (const d of all.slice(30)) queue.push(d);
  await waitFor(() => queue.stats.stored === 40, { what: "all stored" });
  assert.deepEqual(writer.batches.flat(), all.map((d) => d.hash));
  assert.ok(writer.batches.every((b) => b.length <= 7));
  assert.equal(queue.stats.duplicate, 0);
  assert.equal(queue.stats.up, 1);
  await queue.close(1000);
  assert.equal(
    lines.filter((l) => /unavailable \(connection refused\)/.test(l)).length,
    1,
  );
  const back = lines.map((l) =>
    /back after [\d.]+ s; writing the (\d+) documents/.exec(l)
  ).filter((m) => m !== null);
  assert.equal(back.length, 1);
  // The 20 held during the outage, plus any pushed before the retry.
  assert.ok(Number(back[0]![1]) >= 20, back[0]![0]);
});

Deno.test("queue: a store that cannot be opened at first is retried", async () => {
  const writer = new ScriptedWriter();
  let attempts = 0;
  const queue = new StoreQueue({
    name: "memory",
    open: () => {
      attempts++;
      return attempts < 4
        ? Promise.reject(new StoreError("ECONNREFUSED"))
        : Promise.resolve(writer);
    },
    ...fast,
  });
  const all = await docs(3);
  for (const d of all) queue.push(d);
  await waitFor(() => queue.stats.stored === 3);
  assert.equal(attempts, 4);
  assert.equal(queue.stats.errors, 3);
  await queue.close(1000);
});

Deno.test("queue: when full, the oldest documents are dropped and counted", async () => {
  const writer = new ScriptedWriter();
  writer.down = true;
  const lines: string[] = [];
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    capacity: 5,
    maxBatch: 2,
    log: createLogger("t", { level: "warn", write: (l) => lines.push(l) }),
    ...fast,
  });
  const all = await docs(12);
  queue.push(all[0]);
  queue.push(all[1]);
  // The first two are the batch being retried; the queue holds 5 more.
  await waitFor(() => queue.stats.errors >= 1);
  for (const d of all.slice(2)) queue.push(d);
  assert.equal(queue.stats.dropped, 5);
  assert.equal(queue.stats.queued, 7);
  writer.down = false;
  await waitFor(() => queue.stats.stored === 7);
  assert.deepEqual(
    writer.batches.flat(),
    [...all.slice(0, 2), ...all.slice(7)].map((d) => d.hash),
  );
  assert.equal(
    lines.filter((l) => /queue full \(5 documents/.test(l)).length,
    1,
  );
  await queue.close(1000);
});

Deno.test("queue: a document the store refuses alone is dead-lettered; the rest are stored", async () => {
  const writer = new ScriptedWriter();
  const dead: string[] = [];
  const all = await docs(20);
  writer.poison.add(all[13].hash);
  writer.gate = Promise.withResolvers();
  const lines: string[] = [];
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    log: createLogger("t", { level: "warn", write: (l) => lines.push(l) }),
    onDeadLetter: (doc) => {
      dead.push(doc.hash);
      return Promise.resolve();
    },
    ...fast,
  });
  for (const d of all) queue.push(d);
  writer.gate.resolve();
  writer.gate = undefined;
  await waitFor(() => queue.stats.stored === 19 && queue.stats.rejected === 1);
  assert.deepEqual(dead, [all[13].hash]);
  assert.deepEqual(
    writer.batches.flat(),
    all.filter((_, i) => i !== 13).map((d) => d.hash),
  );
  assert.equal(queue.stats.queued, 0);
  assert.match(
    lines.join("\n"),
    new RegExp(`refused document ${all[13].hash}`),
  );
  await queue.close(1000);
});

Deno.test("queue: close writes what it can before the deadline and reports the rest", async () => {
  const writer = new ScriptedWriter();
  const lefts: number[] = [];
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    onLeft: (n) => lefts.push(n),
    ...fast,
  });
  const all = await docs(6);
  for (const d of all.slice(0, 3)) queue.push(d);
  await waitFor(() => queue.stats.stored === 3);
  writer.down = true;
  const tickets = all.slice(3).map((d) => queue.push(d));
  const report = await queue.close(50);
  assert.deepEqual(
    report.unsaved.map((d) => d.hash),
    all.slice(3).map((d) => d.hash),
  );
  assert.ok(writer.closed);
  // The unsaved are released to their waiters but not reported as gone:
  // the spool behind the queue keeps them for the next start.
  assert.equal(lefts.at(-1), 3);
  for (const t of tickets) assert.equal(queue.settled(t), undefined);
  // After close, documents are refused (and counted), not held.
  queue.push(all[0]);
  assert.equal(queue.stats.dropped, 1);
});

Deno.test("queue: close waits for held documents when the store answers", async () => {
  const writer = new ScriptedWriter();
  writer.gate = Promise.withResolvers();
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
  });
  const all = await docs(10);
  for (const d of all) queue.push(d);
  const closing = queue.close(5000);
  writer.gate.resolve();
  writer.gate = undefined;
  assert.deepEqual((await closing).unsaved, []);
  assert.equal(queue.stats.stored, 10);
});

Deno.test("queue: settled() resolves when a document leaves the queue, in order", async () => {
  const writer = new ScriptedWriter();
  writer.gate = Promise.withResolvers();
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    capacity: 3,
  });
  const all = await docs(5);
  const tickets = all.map((d) => queue.push(d));
  assert.deepEqual(tickets, [1, 2, 3, 4, 5]);
  const order: number[] = [];
  const waits = tickets.map((t) => queue.settled(t)?.then(() => order.push(t)));
  // Capacity 3: the two oldest were dropped, so they have left already.
  assert.equal(waits[0], undefined);
  assert.equal(waits[1], undefined);
  assert.equal(order.length, 0);
  writer.gate.resolve();
  writer.gate = undefined;
  await Promise.all(waits);
  assert.deepEqual(order, [3, 4, 5]);
  assert.equal(queue.settled(5), undefined);
  // A queue closing with documents held settles them too (as unsaved).
  writer.down = true;
  const late = queue.push((await docs(1, 9))[0]);
  const waiting = queue.settled(late)!;
  await queue.close(20);
  await waiting;
});

Deno.test("queue: a store that refuses every document holds them all, fails, and writes them once fixed", async () => {
  const writer = new ScriptedWriter();
  const all = await docs(30);
  const lefts: number[] = [];
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    onDeadLetter: () => Promise.reject(new Error("must not be called")),
    onLeft: (n) => lefts.push(n),
    ...fast,
  });
  for (const d of all.slice(0, 5)) queue.push(d);
  await waitFor(() => queue.stats.stored === 5);
  writer.refuseAll = true;
  for (const d of all.slice(5)) queue.push(d);
  await waitFor(() => queue.stats.up === 0 && queue.stats.errors >= 3);
  assert.match(queue.stats.cause ?? "", /INSERT command denied/);
  assert.equal(queue.stats.rejected, 0);
  assert.equal(queue.stats.queued, 25);
  writer.refuseAll = false;
  await waitFor(() => queue.stats.stored === 30, { what: "all stored" });
  assert.equal(queue.stats.up, 1);
  assert.equal(queue.stats.cause, undefined);
  assert.equal(queue.stats.rejected, 0);
  assert.deepEqual(writer.batches.flat(), all.map((d) => d.hash));
  assert.equal(lefts.at(-1), 30);
  await queue.close(1000);
});

Deno.test("behind: a working store that falls behind holds intake back until halfway caught up; a failing one never does", async () => {
  const writer = new ScriptedWriter();
  writer.gate = Promise.withResolvers();
  const queue = new StoreQueue({
    name: "memory",
    open: () => Promise.resolve(writer),
    maxBatch: 2,
    minBackoffMs: 10,
    maxBackoffMs: 10,
  });
  try {
    for (const doc of await docs(10)) queue.push(doc);
    assert.equal(queue.behind(20), undefined, "within the bound");
    const behind = queue.behind(4);
    assert.ok(behind, "10 queued against a bound of 4");
    let released = false;
    behind.then(() => released = true);
    // Batches of 2: released once at most 2 (half the bound) still wait.
    writer.gate.resolve();
    writer.gate = undefined;
    await behind;
    assert.ok(released);
    assert.ok(queue.stats.queued <= 2, `${queue.stats.queued} still queued`);
    await waitFor(() => writer.stored.size === 10);

    // An outage: the spool is for that, so intake goes on.
    writer.down = true;
    for (const doc of await docs(10, 100)) queue.push(doc);
    await waitFor(() => queue.stats.errors > 0);
    assert.equal(queue.behind(4), undefined);
    writer.down = false;
    await waitFor(() => writer.stored.size === 20);
  } finally {
    await queue.close(1000);
  }
});
