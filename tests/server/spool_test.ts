import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { Spool } from "../../lib/server/spool.ts";
import { decodeSegment } from "../../lib/server/spool_record.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";

function doc(n: number): ReceivedDocument {
  return {
    payload: `<p>${n}</p>`,
    hash: n.toString(16).padStart(64, "0"),
    block: BigInt(n),
    ip: "127.0.0.1",
    port: 1000 + n,
    receivedAt: 1_700_000_000_000 + n,
    server: "test:1",
  };
}

async function segments(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".seg")) names.push(e.name);
  }
  return names.sort();
}

async function appendAll(spool: Spool, from: number, to: number) {
  let last = 0;
  for (let n = from; n <= to; n++) last = spool.append(doc(n));
  await spool.synced(last);
}

Deno.test("spool: documents survive a reopen, in order, per store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opts = { stores: ["mysql", "redis"], maxBytes: 1 << 20 };
    const first = await Spool.open(dir, opts);
    await appendAll(first.spool, 1, 50);
    first.spool.advance("mysql", 31);
    await first.spool.close();
    const again = await Spool.open(dir, opts);
    assert.deepEqual(
      again.replay.pending.mysql.map((r) => r.doc),
      Array.from({ length: 20 }, (_, i) => doc(31 + i)),
    );
    assert.deepEqual(again.replay.pending.redis.length, 50);
    assert.deepEqual(again.replay.pending.redis[0].seq, 1);
    assert.deepEqual(again.spool.nextSeq, 51);
    await again.spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: a torn last record is cut off, never replayed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opts = { stores: ["sqlite"], maxBytes: 1 << 20 };
    const first = await Spool.open(dir, opts);
    await appendAll(first.spool, 1, 10);
    await first.spool.close();
    const [name] = await segments(dir);
    const path = `${dir}/${name}`;
    const whole = await Deno.readFile(path);
    // Half a record at the end, as a kill in the middle of a write leaves.
    const extra = new Uint8Array([200, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
    await Deno.writeFile(path, extra, { append: true });
    const again = await Spool.open(dir, opts);
    assert.deepEqual(again.replay.tornRecords, 1);
    assert.deepEqual(again.replay.pending.sqlite.length, 10);
    assert.deepEqual((await Deno.readFile(path)).length, whole.length);
    // New documents follow the cut, and a reopen reads them all.
    await appendAll(again.spool, 11, 12);
    await again.spool.close();
    const third = await Spool.open(dir, opts);
    assert.deepEqual(
      third.replay.pending.sqlite.map((r) => r.doc.payload).slice(-3),
      ["<p>10</p>", "<p>11</p>", "<p>12</p>"],
    );
    await third.spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: a corrupt record ends its segment's replay", () => {
  const body = new TextEncoder().encode(
    JSON.stringify(["x", "h", null, "1.2.3.4", 1, 2, "s"]),
  );
  const record = new Uint8Array(8 + body.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, body.length, true);
  view.setUint32(4, crc32(body), true);
  record.set(body, 8);
  const two = new Uint8Array(record.length * 2);
  two.set(record);
  two.set(record, record.length);
  assert.deepEqual(decodeSegment(two).docs.length, 2);
  two[record.length + 10] ^= 0xff;
  const { docs, validBytes, torn } = decodeSegment(two);
  assert.deepEqual([docs.length, validBytes, torn], [1, record.length, true]);
});

Deno.test("spool: segments are deleted once every store is past them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { spool } = await Spool.open(dir, {
      stores: ["a", "b"],
      maxBytes: 1 << 20,
      segmentBytes: 200,
    });
    for (let n = 1; n <= 40; n += 5) await appendAll(spool, n, n + 4);
    const before = (await segments(dir)).length;
    assert(before > 2, `${before} segments`);
    spool.advance("a", 41);
    await spool.close();
    assert.deepEqual((await segments(dir)).length, before);
    const again = await Spool.open(dir, {
      stores: ["a", "b"],
      maxBytes: 1 << 20,
      segmentBytes: 200,
    });
    assert.deepEqual(again.replay.pending.a.length, 0);
    again.spool.advance("b", 41);
    await again.spool.close();
    assert.deepEqual(await segments(dir), []);
    // Numbering goes on after the deleted segments.
    const third = await Spool.open(dir, { stores: ["a", "b"], maxBytes: 1e6 });
    assert.deepEqual(third.spool.nextSeq, 41);
    await appendAll(third.spool, 41, 41);
    await third.spool.close();
    const fourth = await Spool.open(dir, { stores: ["a", "b"], maxBytes: 1e6 });
    assert.deepEqual(fourth.replay.pending.a.map((r) => r.seq), [41]);
    await fourth.spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: full past maxBytes until a store catches up", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { spool } = await Spool.open(dir, {
      stores: ["a"],
      maxBytes: 1000,
      segmentBytes: 300,
    });
    await appendAll(spool, 1, 30);
    assert(spool.full);
    const room = spool.room();
    assert(room !== undefined);
    let released = false;
    room.then(() => released = true);
    spool.advance("a", spool.nextSeq);
    await room;
    assert(released);
    assert.deepEqual(spool.full, false);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: a segment written before crc32 came from node:zlib still reads", async () => {
  // Bytes of a segment written by the hand-written CRC-32 this spool used
  // before: the on-disk format must not change.
  const golden = Uint8Array.from(
    atob(
      "PgAAANokrzlbIjxwPjc8L3A+XG4iLCJhYjEyIiwiNyIsIjEyNy4wLjAuMSIsNDI0MiwxNzAwMDAwMDAwMDAwLCJzOjEiXSMAAAAwwMUyWyJhbnkgw7wiLCJjZDM0IixudWxsLCI6OjEiLDEsMSwiIl0=",
    ),
    (c) => c.charCodeAt(0),
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/0000000000000001.seg`, golden);
    const { spool, replay } = await Spool.open(dir, {
      stores: ["sqlite"],
      maxBytes: 1 << 20,
      noSync: true,
    });
    assert.equal(replay.tornRecords, 0);
    assert.deepEqual(replay.pending.sqlite, [
      {
        seq: 1,
        doc: {
          payload: "<p>7</p>\n",
          hash: "ab12",
          block: 7n,
          ip: "127.0.0.1",
          port: 4242,
          receivedAt: 1700000000000,
          server: "s:1",
        },
      },
      {
        seq: 2,
        doc: {
          payload: "any \u00fc",
          hash: "cd34",
          block: null,
          ip: "::1",
          port: 1,
          receivedAt: 1,
          server: "",
        },
      },
    ]);
    // A record appended now is byte for byte what the old code wrote.
    assert.equal(spool.append(replay.pending.sqlite[0].doc), 3);
    await spool.close();
    const bytes = await Deno.readFile(`${dir}/0000000000000003.seg`);
    assert.deepEqual(bytes, golden.subarray(0, 8 + 0x3e));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
