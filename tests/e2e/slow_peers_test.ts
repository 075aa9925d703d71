/**
 * Slow and many peers against a real server process: thousands of idle and
 * byte-trickling connections are closed by the inactivity timeout while
 * valid clients keep being served; --max-connections keeps the excess
 * waiting without losing a document; declared lengths over the limit are
 * refused before any body is read.
 */
import assert from "node:assert/strict";
import { sendDocument } from "../../lib/client/sender.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { startServer } from "../_helpers/process.ts";
import { waitFor } from "../_helpers/net.ts";

const template = await BlockTemplate.load();
const enc = new TextEncoder();

/** Idle connections and byte-trickling connections held at once. */
const IDLE = 1000;
const TRICKLE = 1000;
/** Valid documents sent while they are held. */
const VALID = 200;

function printedBlocks(stdout: string[]): bigint[] {
  return stdout.filter((l) => l.startsWith("DATA - ")).map((l) => {
    const block = template.parse(
      l.replace(/^DATA - [^ ]+ - /, "").replaceAll("\\n", "\n"),
    );
    assert.ok(block !== undefined, `not a document: ${l.slice(0, 80)}`);
    return block;
  });
}

const sorted = (xs: bigint[]) =>
  xs.toSorted((a, b) => a < b ? -1 : a > b ? 1 : 0);

/** A held connection that notes when the server closes it. */
class Peer {
  closedByServer = false;
  readonly conn: Deno.Conn;
  readonly done: Promise<void>;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(conn: Deno.Conn, trickle?: Uint8Array) {
    this.conn = conn;
    if (trickle) {
      // One byte of a real frame every 250 ms: never a whole frame in time.
      let at = 0;
      this.#timer = setInterval(() => {
        if (at < trickle.length) {
          conn.write(trickle.subarray(at, ++at)).catch(() => {});
        }
      }, 250);
    }
    this.done = this.#readUntilClosed().finally(() =>
      clearInterval(this.#timer)
    );
  }

  /** What the server answered before closing (an `err` for a bad frame). */
  answered = "";

  async #readUntilClosed() {
    const buffer = new Uint8Array(64);
    try {
      for (;;) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.answered += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch {
      // A reset is a close by the server too.
    }
    this.closedByServer = true;
  }

  async close() {
    clearInterval(this.#timer);
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.done;
  }
}

async function openPeers(port: number, count: number, trickle?: Uint8Array) {
  const peers: Peer[] = [];
  // Connect in waves, so the listen backlog is not the thing under test.
  for (let i = 0; i < count; i += 100) {
    const wave = await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    peers.push(...wave.map((c) => new Peer(c, trickle)));
  }
  return peers;
}

Deno.test("2,000 idle and byte-a-tick peers are timed out while valid clients are served", async () => {
  await using server = await startServer([
    "--no-store",
    "--idle-timeout",
    "2",
    "-v",
  ]);
  const peers = [
    ...await openPeers(server.port, IDLE),
    ...await openPeers(
      server.port,
      TRICKLE,
      encodeNetstring(template.render(1n)),
    ),
  ];
  try {
    // While all of them are held, valid documents go through.
    const blocks = Array.from({ length: VALID }, (_, i) => 5000n + BigInt(i));
    let next = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < blocks.length) {
        const b = blocks[next++];
        await sendDocument(
          { host: "127.0.0.1", port: server.port },
          template.render(b),
          { timeoutMs: 5000 },
        );
      }
    }));
    await waitFor(() => printedBlocks(server.child.stdout).length >= VALID, {
      what: `${VALID} documents`,
    });
    const open = peers.filter((p) => !p.closedByServer).length;

    // Every slow peer is closed by the server, none by us.
    await waitFor(() => peers.every((p) => p.closedByServer), {
      timeoutMs: 60_000,
      what: "the server to close every slow peer",
    });
    await waitFor(
      () =>
        server.child.stderr.filter((l) =>
          /no complete frame within 2000 ms/.test(l)
        )
          .length >= IDLE + TRICKLE,
      { what: "one idle-timeout line per slow peer" },
    );
    assert.deepEqual(sorted(printedBlocks(server.child.stdout)), blocks);
    assert.equal(server.child.status, undefined);
    console.log(
      `slow peers: ${IDLE} idle + ${TRICKLE} trickling held (${open} still ` +
        `open after ${VALID} valid documents were served), all timed out`,
    );
  } finally {
    await Promise.all(peers.map((p) => p.close()));
  }
});

Deno.test("--max-connections: with every slot mid-frame the excess waits and nothing is lost", async () => {
  const max = 100;
  await using server = await startServer([
    "--no-store",
    "--max-connections",
    String(max),
    "--idle-timeout",
    "60",
  ]);
  const holders = await openPeers(server.port, max);
  // Each holder is in the middle of a frame: none may be closed to make
  // room (only connections between frames yield to waiting peers).
  await Promise.all(
    holders.map((p) => p.conn.write(enc.encode("453:<!doctype"))),
  );
  try {
    await server.child.waitForLine(
      /connections are open \(--max-connections\)/,
      {
        stream: "stderr",
      },
    );
    // Sends while full: the connection is made by the kernel's backlog and
    // the frame waits there; the short send timeout expires first.
    const blocks = Array.from({ length: 20 }, (_, i) => 900n + BigInt(i));
    const results = await Promise.allSettled(blocks.map((b) =>
      sendDocument(
        { host: "127.0.0.1", port: server.port },
        template.render(b),
        { timeoutMs: 300 },
      )
    ));
    assert.deepEqual(printedBlocks(server.child.stdout), []);
    assert.ok(holders.every((p) => !p.closedByServer), "no holder closed");

    // Capacity frees up: every waiting document is read, none was dropped.
    await Promise.all(holders.map((p) => p.close()));
    await waitFor(() => printedBlocks(server.child.stdout).length >= 20, {
      what: "the 20 waiting documents",
    });
    assert.deepEqual(sorted(printedBlocks(server.child.stdout)), blocks);
    console.log(
      `max-connections: ${max} held, 20 sent while full ` +
        `(${
          results.filter((r) => r.status === "rejected").length
        } send errors), ` +
        `all 20 printed once capacity freed`,
    );
  } finally {
    await Promise.all(holders.map((p) => p.close()));
  }
});

Deno.test("declared lengths over the limit are refused before the body", async () => {
  await using server = await startServer([
    "--no-store",
    "--max-frame-bytes",
    "1000",
    "--idle-timeout",
    "60",
  ]);
  for (const header of ["1001:", "99999999999:", "70000:", "10000"]) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    const peer = new Peer(conn);
    try {
      // Only the header: no body byte is ever sent, and the connection is
      // held open, yet the server closes it (long before the idle timeout).
      await conn.write(enc.encode(header));
      await peer.done;
      assert.ok(peer.closedByServer, header);
      assert.equal(peer.answered, "12:err too_long,", header);
    } finally {
      await peer.close();
    }
  }
  // The line is logged just after the close: wait for the last one.
  const refusals = await waitFor(() => {
    const lines = server.child.stderr.filter((l) =>
      /exceeds the limit of 1000 bytes/.test(l)
    );
    return lines.length >= 4 ? lines : undefined;
  }, { what: "4 refusals logged" });
  assert.equal(refusals.length, 4);
  // A document within the limit is still served.
  await sendDocument(
    { host: "127.0.0.1", port: server.port },
    template.render(42n),
  );
  await waitFor(() => printedBlocks(server.child.stdout).length === 1);
  assert.deepEqual(printedBlocks(server.child.stdout), [42n]);
});
