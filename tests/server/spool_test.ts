import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { Spool } from "../../lib/server/spool.ts";
import { NEXT_SPACE_NAME } from "../../lib/server/spool_space.ts";
import { decodeSegment, RecordBuffer } from "../../lib/server/spool_record.ts";
import { Child } from "../_helpers/process.ts";
import { spoolDoc } from "../_helpers/spool_appender.ts";

const doc = spoolDoc;

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

/** The segments' file sizes in `dir`, oldest first. */
async function segmentSizes(dir: string): Promise<number[]> {
  const sizes: number[] = [];
  for (const name of await segments(dir)) {
    sizes.push((await Deno.stat(`${dir}/${name}`)).size);
  }
  return sizes;
}

Deno.test("spool: a busy spool writes its next segments into space made ready ahead", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const segmentBytes = 8 * 1024;
    const opts = { stores: ["a"], maxBytes: 1 << 20, segmentBytes };
    const { spool } = await Spool.open(dir, opts);
    let next = 1;
    // Groups of 5 until the spool is on its fourth segment.
    while ((await segments(dir)).length < 4) {
      await appendAll(spool, next, next + 4);
      next += 5;
    }
    const sizes = await segmentSizes(dir);
    // The first segment grew as it was written; every later one started as
    // `segmentBytes` of zeros (made ready while the one before filled), and
    // the synced groups went into that space without growing the file.
    assert(sizes[0] < segmentBytes + 1000, `${sizes}`);
    const current = sizes.at(-1)!;
    assert.equal(current, segmentBytes, `${sizes}`);
    const onDisk = await Deno.readFile(
      `${dir}/${(await segments(dir)).at(-1)}`,
    );
    const { docs, validBytes, torn } = decodeSegment(onDisk);
    assert(docs.length > 0 && validBytes < segmentBytes, `${validBytes}`);
    assert.equal(torn, false);
    await spool.close();
    // Closing lets the unused space go; a reopen replays every document, in
    // order, finds nothing torn and cuts the zeros off.
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).filter((e) =>
        e.name === NEXT_SPACE_NAME
      ),
      [],
    );
    const again = await Spool.open(dir, opts);
    assert.equal(again.replay.tornRecords, 0);
    assert.deepEqual(
      again.replay.pending.a.map((r) => r.doc),
      Array.from({ length: next - 1 }, (_, i) => doc(i + 1)),
    );
    assert.equal((await segmentSizes(dir)).at(-1), validBytes);
    await again.spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: zeros after the last record end a segment without a tear; a half record before them is torn", () => {
  const records = new RecordBuffer();
  records.append(doc(1));
  records.append(doc(2));
  const whole = records.view().slice();
  const zeroed = new Uint8Array(whole.length + 4096);
  zeroed.set(whole);
  assert.deepEqual(decodeSegment(zeroed).docs, [doc(1), doc(2)]);
  assert.equal(decodeSegment(zeroed).torn, false);
  assert.equal(decodeSegment(zeroed).validBytes, whole.length);
  // A kill during the third record's write: its first bytes, then zeros.
  records.append(doc(3));
  const third = records.view().subarray(whole.length, whole.length + 12);
  zeroed.set(third, whole.length);
  const cut = decodeSegment(zeroed);
  assert.deepEqual([cut.docs.length, cut.validBytes, cut.torn], [
    2,
    whole.length,
    true,
  ]);
});

Deno.test("spool: space a crash left half made is not read as a segment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Whatever the file holds (here a valid record), it is not replayed.
    const records = new RecordBuffer();
    records.append(doc(99));
    await Deno.writeFile(`${dir}/${NEXT_SPACE_NAME}`, records.view());
    const opts = { stores: ["a"], maxBytes: 1 << 20 };
    const { spool, replay } = await Spool.open(dir, opts);
    assert.deepEqual(replay.pending.a, []);
    await assert.rejects(Deno.stat(`${dir}/${NEXT_SPACE_NAME}`));
    await appendAll(spool, 1, 3);
    await spool.close();
    const again = await Spool.open(dir, opts);
    assert.deepEqual(again.replay.pending.a.map((r) => r.doc), [
      doc(1),
      doc(2),
      doc(3),
    ]);
    await again.spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: kill -9 while writing into space made ready ahead loses no synced document", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const segmentBytes = 16 * 1024;
    const appender = new Child(Deno.execPath(), [
      "run",
      "-A",
      "tests/_helpers/spool_appender.ts",
      dir,
      String(segmentBytes),
    ]);
    // About 40 segments' worth, then killed mid-stream.
    await appender.waitForLine(/^(3\d{3}|[4-9]\d{3}|\d{5,})$/, {
      timeoutMs: 60_000,
    });
    await appender.stop("SIGKILL");
    const acked = Math.max(...appender.stdout.filter(Boolean).map(Number));
    // The kill found the spool writing into space made ready ahead.
    const sizes = await segmentSizes(dir);
    assert(sizes.length >= 2, `${sizes}`);
    assert(sizes.slice(1).every((s) => s >= segmentBytes), `${sizes}`);
    const { spool, replay } = await Spool.open(dir, {
      stores: ["sqlite"],
      maxBytes: 1 << 30,
      segmentBytes,
    });
    const seqs = replay.pending.sqlite.map((r) => r.seq);
    // Every synced document is there, in order, with nothing missing or
    // invented before it (an unsynced group may be there too, or not).
    assert(seqs.length >= acked, `${seqs.length} replayed, ${acked} synced`);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
    );
    assert.deepEqual(
      replay.pending.sqlite.slice(0, acked).map((r) => r.doc),
      Array.from({ length: acked }, (_, i) => doc(i + 1)),
    );
    assert(replay.tornRecords <= 1, `${replay.tornRecords} torn`);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
