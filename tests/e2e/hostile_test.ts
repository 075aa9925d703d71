/**
 * The server under hostile peers: over 10,000 malformed connections from a
 * seeded corpus, interleaved with valid documents, against a real server
 * process storing into SQLite. The server stays up, prints and stores every
 * valid document exactly once, prints and stores nothing else, logs one line
 * per bad connection, and its memory stays bounded.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { startServer } from "../_helpers/process.ts";
import { waitFor } from "../_helpers/net.ts";

const template = await BlockTemplate.load();
const enc = new TextEncoder();

/** Malformed connections in the corpus (valid ones come on top). */
const MALFORMED = 10_500;
/** One valid document after every this many malformed connections. */
const VALID_EVERY = 7;
/** Connections in flight at once. */
const CONCURRENCY = 64;
/** Resident memory the server may reach, in bytes: a generous bound. */
const MAX_RSS = 200 * 1024 * 1024;

/** A small seeded PRNG (mulberry32), so the corpus is the same every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() * 256),
  };
}

/** One connection of the corpus. */
interface Case {
  cls: string;
  bytes: Uint8Array;
  /** Blocks whose documents must be printed and stored from it. */
  expect: bigint[];
  /** Whether the server must log that it closed the connection. */
  rejected: boolean;
  /** Half-close and wait for the server, or just close. */
  ending: "half" | "close";
  /** Cut points for separate writes. */
  cuts: number[];
}

const [PREFIX, SUFFIX] = template.render(123456789n).split("123456789");
/** A document as the template would print it for any string as block. */
const docWith = (block: string) => PREFIX + block + SUFFIX;
const frame = (payload: string | Uint8Array) => encodeNetstring(payload);
const cat = (...parts: (string | Uint8Array)[]) => {
  const arrays = parts.map((p) => typeof p === "string" ? enc.encode(p) : p);
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};

/**
 * Builds the corpus. Every malformed class is a function of the PRNG, so
 * each connection differs; valid blocks are unique and start at `base`.
 */
function buildCorpus(seed: number, base: bigint) {
  const r = prng(seed);
  let nextBlock = base;
  const valid = () => nextBlock++;
  const doc = (b: bigint) => template.render(b);
  const garbage = () => r.bytes(1 + r.int(200));
  const invalidUtf8 = [
    [0xff],
    [0xc3, 0x28],
    [0xe2, 0x82],
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
  ];
  const classes: Record<string, () => [Uint8Array, bigint[]]> = {
    non_digit_length: () => [
      cat(
        r.pick(["abc:", "x", " 5:", "-5:", "+5:", "0x1c5:", "\t453:", "é:"]),
        doc(valid()),
        ",",
      ),
      [],
    ],
    empty_length: () => [cat(":", doc(valid()), ","), []],
    leading_zero: () => {
      const d = doc(valid());
      return [
        cat(r.pick(["0", "00", "000"]), `${enc.encode(d).length}:`, d, ","),
        [],
      ];
    },
    over_limit: () => [
      cat(
        r.pick([
          "99999999999:",
          "65537:",
          "100000:",
          "18446744073709551616:",
          "9".repeat(50) + ":",
          "1000000000",
        ]),
        r.bytes(r.int(4096)),
      ),
      [],
    ],
    missing_colon: () => {
      const d = doc(valid());
      return [
        cat(`${enc.encode(d).length}`, r.pick([";", " ", "\n", ""]), d),
        [],
      ];
    },
    missing_comma: () => {
      const d = doc(valid());
      return [
        cat(`${enc.encode(d).length}:`, d, r.pick([";", "\n", "X", ".", "\0"])),
        [],
      ];
    },
    truncated: () => {
      const f = frame(doc(valid()));
      return [f.slice(0, 1 + r.int(f.length - 1)), []];
    },
    length_mismatch: () => {
      const d = doc(valid());
      const n = enc.encode(d).length + r.pick([-3, -1, 1, 2, 40]);
      return [cat(`${n}:`, d, ","), []];
    },
    binary_garbage: () => [garbage(), []],
    invalid_utf8: () => {
      const d = enc.encode(doc(valid()));
      const at = r.int(d.length);
      return [
        frame(
          cat(
            d.slice(0, at),
            Uint8Array.from(r.pick(invalidUtf8)),
            d.slice(at + 1),
          ),
        ),
        [],
      ];
    },
    not_a_document: () => [
      frame(r.pick([
        "",
        "hello",
        "<html></html>",
        '{"block":5}',
        doc(valid()) + "\n",
        doc(valid()).replaceAll("\n", "\r\n"),
        doc(valid()).toUpperCase(),
        doc(valid()).replace("    <head>", "  <head>"),
        doc(valid()).replace("</html>", "</html><script>x</script>"),
        "<p>" + valid() + "</p>",
        "a".repeat(65536),
      ])),
      [],
    ],
    absurd_block: () => [
      frame(docWith(r.pick([
        "-1",
        "-100",
        "18446744073709551616",
        "99999999999999999999999",
        "1e9",
        "0x10",
        "007",
        " 5",
        "5 ",
        "1.5",
        "NaN",
        "Infinity",
        "",
        "1_000",
        "<script>alert(1)</script>",
        "'; DROP TABLE ethereum_data; --",
      ]))),
      [],
    ],
    valid_then_garbage: () => {
      const b = valid();
      return [
        cat(
          frame(doc(b)),
          r.pick([garbage(), enc.encode("x"), enc.encode("5:hello,")]),
        ),
        [b],
      ];
    },
    valid_frames_then_bad: () => {
      const a = valid();
      const b = valid();
      const c = valid();
      // The bad frame closes the connection: c, after it, is never read.
      return [
        cat(frame(doc(a)), frame(doc(b)), frame("bogus"), frame(doc(c))),
        [a, b],
      ];
    },
  };
  const names = Object.keys(classes);
  const cases: Case[] = [];
  const counts: Record<string, number> = {};
  const cuts = (n: number) =>
    Array.from({ length: r.int(4) }, () => r.int(n + 1)).sort((a, b) => a - b);
  for (let i = 0; i < MALFORMED; i++) {
    const cls = names[i % names.length];
    const [bytes, expect] = classes[cls]();
    counts[cls] = (counts[cls] ?? 0) + 1;
    cases.push({
      cls,
      bytes,
      expect,
      rejected: true,
      ending: r.next() < 0.5 ? "half" : "close",
      cuts: cuts(bytes.length),
    });
    if (i % VALID_EVERY === 0) {
      const b = valid();
      const bytes = frame(doc(b));
      cases.push({
        cls: "valid",
        bytes,
        expect: [b],
        rejected: false,
        ending: r.next() < 0.5 ? "half" : "close",
        cuts: cuts(bytes.length),
      });
    }
    if (i % 500 === 0) {
      // Health checks: connect and close, no bytes, no complaint.
      cases.push({
        cls: "empty",
        bytes: new Uint8Array(),
        expect: [],
        rejected: false,
        ending: "close",
        cuts: [],
      });
    }
  }
  counts.valid = cases.filter((c) => c.cls === "valid").length;
  counts.empty = cases.filter((c) => c.cls === "empty").length;
  return { cases, counts };
}

/** Plays one case on its own connection; only a refused connect throws. */
async function play(port: number, c: Case): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let from = 0;
    for (const to of [...c.cuts, c.bytes.length]) {
      let at = from;
      while (at < to) at += await conn.write(c.bytes.subarray(at, to));
      from = to;
    }
    if (c.ending === "half") {
      await conn.closeWrite();
      const sink = new Uint8Array(64);
      while ((await conn.read(sink)) !== null) { /* the server says nothing */ }
    }
  } catch {
    // The server cut us off mid-write: that is its right.
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function pool<T>(items: T[], size: number, run: (t: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await run(items[next++]);
    }),
  );
}

function rss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  assert.ok(kb > 0, "cannot read the server's VmRSS");
  return kb * 1024;
}

Deno.test("hostile peers: 10,000+ malformed connections, valid documents printed and stored once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_hostile_" });
  try {
    const db = `${dir}/eth.sqlite`;
    const { cases, counts } = buildCorpus(20170501, 1_000_000n);
    const expected = cases.flatMap((c) => c.expect);
    assert.ok(cases.filter((c) => c.rejected).length >= 10_000);
    await using server = await startServer(["--sqlite-path", db]);
    const pid = server.child.pid;
    const rssBefore = rss(pid);

    await pool(cases, CONCURRENCY, (c) => play(server.port, c));

    // Every expected document is printed; then stop, which flushes the store.
    await waitFor(
      () => server.child.stdout.length >= expected.length,
      { what: `${expected.length} DATA lines`, timeoutMs: 60_000 },
    );
    const rssAfter = rss(pid);
    assert.equal(server.child.status, undefined, "the server must be up");
    const status = await server.child.stop("SIGTERM");
    assert.equal(status.code, 0);

    // stdout: exactly the expected documents, once each, nothing else.
    const printed = server.child.stdout.map((line) => {
      const m = /^DATA - 127\.0\.0\.1:\d+ - (.*)$/.exec(line);
      assert.ok(m, `unexpected stdout line: ${line.slice(0, 100)}`);
      const block = template.parse(m[1].replaceAll("\\n", "\n"));
      assert.ok(
        block !== undefined,
        `printed a non-document: ${line.slice(0, 100)}`,
      );
      return block;
    });
    assert.deepEqual(
      printed.toSorted((a, b) => a < b ? -1 : a > b ? 1 : 0),
      expected.toSorted((a, b) => a < b ? -1 : a > b ? 1 : 0),
    );

    // One warning per malformed connection, none for the others.
    const closed = server.child.stderr.filter((l) =>
      / WARN .*Closed connection from 127\.0\.0\.1:\d+: Cannot decode frame: |frame of \d+ bytes is not/
        .test(l)
    );
    assert.equal(closed.length, cases.filter((c) => c.rejected).length);

    // SQLite: exactly the expected documents, each once, byte for byte.
    using sqlite = new DatabaseSync(db, { readOnly: true });
    const rows = sqlite.prepare("SELECT hash, payload FROM ethereum_data")
      .all() as { hash: string; payload: string }[];
    assert.equal(rows.length, expected.length);
    const want = new Map(
      expected.map((b) => [sha256Hex(template.render(b)), template.render(b)]),
    );
    for (const row of rows) {
      assert.equal(
        want.get(row.hash),
        row.payload,
        `unexpected row ${row.hash}`,
      );
    }
    const copies = sqlite.prepare(
      "SELECT COUNT(*) AS n, MIN(copies) AS lo, MAX(copies) AS hi FROM eth_blocks",
    ).get() as { n: number; lo: number; hi: number };
    assert.deepEqual({ ...copies }, { n: expected.length, lo: 1, hi: 1 });

    assert.ok(
      rssAfter < MAX_RSS,
      `server RSS ${Math.round(rssAfter / 2 ** 20)} MB over the bound`,
    );
    console.log(
      `hostile: ${cases.length} connections (${closed.length} malformed, ` +
        `${counts.valid} valid, ${counts.empty} empty), ${expected.length} ` +
        `documents printed and stored once, RSS ${
          Math.round(rssBefore / 2 ** 20)
        }` +
        ` -> ${Math.round(rssAfter / 2 ** 20)} MB; per class: ${
          JSON.stringify(counts)
        }`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
