/**
 * Peers that try to hold the server, against a real server process on
 * 127.0.0.0/8: stalled TLS handshakes, one address taking every slot, and
 * slots kept by trickling one document every second. Legitimate senders
 * get through each time, and a burst larger than Deno's default listen
 * backlog waits for a slot instead of being dropped. Bounded: at most 1,500
 * sockets, and every holder stops when its case ends.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { DatabaseSync } from "node:sqlite";
import { makeCerts } from "../_helpers/certs.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { startServer } from "../_helpers/process.ts";
import { makeDocument } from "../_helpers/db.ts";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { settleWithin } from "../../lib/shared/async.ts";
import { sendDocument } from "../../lib/client/sender.ts";
import { parseMetrics } from "../_helpers/stats.ts";

const fdCount = (pid: number) =>
  [...Deno.readDirSync(`/proc/${pid}/fd`)].length;

/** DATA lines printed for documents from `ip`. */
const dataFrom = (stdout: readonly string[], ip: string) =>
  stdout.filter((l) => l.startsWith(`DATA - ${ip}:`));

/** Opens a TCP connection from `localAddress` and resolves once connected. */
function connectFrom(
  port: number,
  localAddress: string,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves once `socket` closed (by either side). */
function closed(socket: net.Socket): Promise<void> {
  return socket.destroyed || socket.closed
    ? Promise.resolve()
    : new Promise((resolve) => socket.once("close", () => resolve()));
}

/**
 * Holders from `addresses` (each address `perAddress` of them) that send a
 * valid document every `everyMs` and reconnect at once when closed, until
 * `stop()`; resolves when every socket is closed.
 */
function hold(
  port: number,
  addresses: string[],
  perAddress: number,
  frame: Uint8Array,
  everyMs: number,
) {
  let running = true;
  let opened = 0;
  const sockets = new Set<net.Socket>();
  const loops: Promise<void>[] = [];
  for (const address of addresses) {
    for (let i = 0; i < perAddress; i++) {
      loops.push((async () => {
        while (running) {
          let socket: net.Socket;
          try {
            socket = await connectFrom(port, address);
          } catch {
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          opened++;
          sockets.add(socket);
          socket.on("error", () => {});
          socket.on("data", () => {});
          const timer = setInterval(() => socket.write(frame), everyMs);
          socket.write(frame);
          await closed(socket);
          clearInterval(timer);
          sockets.delete(socket);
        }
      })());
    }
  }
  return {
    get opened() {
      return opened;
    },
    async stop() {
      running = false;
      for (const socket of sockets) socket.destroy();
      await Promise.all(loops);
    },
  };
}

/** Sends one document from `localAddress` and resolves once it closed. */
async function sendFrom(port: number, localAddress: string, frame: Uint8Array) {
  const socket = await connectFrom(port, localAddress);
  socket.on("error", () => {});
  socket.on("data", () => {});
  socket.end(frame);
  await closed(socket);
}

Deno.test("stalled TLS handshakes are closed by the idle timeout, inside --max-connections", async () => {
  await using certs = await makeCerts();
  const metricsPort = freePort();
  await using server = await startServer([
    "--no-store",
    "--tls-cert",
    certs.certFile,
    "--tls-key",
    certs.keyFile,
    "--idle-timeout",
    "1",
    "--max-connections",
    "200",
    // All from 127.0.0.1: this case is about the handshake, not the address.
    "--max-connections-per-ip",
    "0",
    "--metrics-port",
    String(metricsPort),
  ]);
  const pid = server.child.pid;
  const before = fdCount(pid);
  // 300 peers send 3 bytes of a ClientHello and stop.
  const stalled: Deno.Conn[] = [];
  for (let i = 0; i < 300; i++) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await conn.write(new Uint8Array([0x16, 0x03, 0x01]));
    stalled.push(conn);
  }
  try {
    // A legitimate TLS sender meanwhile: it waits for a slot, then is served.
    const doc = await makeDocument(7001);
    await sendDocument({ host: "127.0.0.1", port: server.port }, doc.payload, {
      tls: { caCerts: [certs.caPem] },
      timeoutMs: 20_000,
    });
    await waitFor(() => dataFrom(server.child.stdout, "127.0.0.1").length, {
      what: "the legitimate document",
    });
    // Every stalled peer sees its connection closed by the server.
    const ends = await Promise.all(stalled.map(async (conn) => {
      try {
        return await conn.read(new Uint8Array(64));
      } catch {
        return null;
      }
    }));
    assert.equal(ends.filter((n) => n === null).length, 300);
    // And the server holds no descriptor for them any more.
    const after = await waitFor(
      () => fdCount(pid) <= before + 5 ? fdCount(pid) : undefined,
      { what: `server descriptors back to about ${before}` },
    );
    const metrics = parseMetrics(
      await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    );
    const value = (name: string, reason?: string) =>
      metrics.samples.find((s) =>
        s.name === name && (reason === undefined || s.labels.reason === reason)
      )?.value;
    // Never more than 200 at once: accepting paused while they were open.
    assert.ok((value("eth_server_connections_refused_total") ?? 0) >= 1);
    assert.equal(
      value("eth_server_frames_rejected_total", "idle_timeout"),
      300,
    );
    console.log(
      `descriptors: ${before} before, ${after} after 300 stalled handshakes`,
    );
  } finally {
    for (const conn of stalled) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
});

Deno.test("--max-connections-per-ip: 200 holders from one address leave room for another", async () => {
  await using server = await startServer([
    "--no-store",
    "--max-connections",
    "200",
    "--max-connections-per-ip",
    "50",
    "--max-connection-age",
    "0",
    "--idle-timeout",
    "5",
  ]);
  const frame = encodeNetstring((await makeDocument(8001)).payload);
  const holders = hold(server.port, ["127.0.0.1"], 200, frame, 1000);
  try {
    await waitFor(() => holders.opened >= 400, {
      what: "holders hammering (refused ones reconnect)",
    });
    const legit = encodeNetstring((await makeDocument(8002)).payload);
    await sendFrom(server.port, "127.0.0.2", legit);
    await waitFor(() => dataFrom(server.child.stdout, "127.0.0.2").length, {
      what: "the document from 127.0.0.2",
    });
    assert.match(
      server.child.stderr.join("\n"),
      /WARN .*Refused a connection from 127\.0\.0\.1:\d+: 50 open from that address \(--max-connections-per-ip\)/,
    );
  } finally {
    await holders.stop();
  }
});

Deno.test("--max-connection-age: holders that trickle documents cannot keep every slot", async () => {
  await using server = await startServer([
    "--no-store",
    "--max-connections",
    "200",
    "--max-connections-per-ip",
    "50",
    "--max-connection-age",
    "2",
    "--idle-timeout",
    "5",
  ]);
  const frame = encodeNetstring((await makeDocument(9001)).payload);
  // Four addresses, 50 each: every slot taken, none refused per address.
  const holders = hold(
    server.port,
    ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"],
    50,
    frame,
    1000,
  );
  try {
    await waitFor(() => holders.opened >= 200, { what: "200 holders" });
    const legit = encodeNetstring((await makeDocument(9002)).payload);
    await sendFrom(server.port, "127.0.0.2", legit);
    await waitFor(() => dataFrom(server.child.stdout, "127.0.0.2").length, {
      what: "the document from 127.0.0.2",
    });
    // Holders were retired after a frame, not cut mid-frame.
    assert.ok(holders.opened > 200, `${holders.opened} holder connections`);
    assert.doesNotMatch(
      server.child.stderr.join("\n"),
      /truncated|WARN .*Closed/,
    );
  } finally {
    await holders.stop();
  }
});

/** A holder connection's count of frames written and `ok`s read. */
interface HolderConn {
  written: number;
  answered: number;
}

/**
 * `count` holders from `address`, each completing one valid frame every
 * `everyMs` on a kept-alive connection, counting the answers, and
 * reconnecting when closed (as a pooled client would), until `stop()`.
 */
function keepAlive(
  port: number,
  address: string,
  count: number,
  frame: Uint8Array,
  everyMs: number,
) {
  let running = true;
  const conns: HolderConn[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const loops = Array.from({ length: count }, async () => {
    while (running) {
      let socket: net.Socket;
      try {
        socket = await connectFrom(port, address);
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const counts: HolderConn = { written: 0, answered: 0 };
      conns.push(counts);
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("data", (data: Uint8Array) => {
        counts.answered += new TextDecoder().decode(data).split("2:ok,")
          .length - 1;
      });
      const send = () => {
        if (!running) return;
        counts.written++;
        socket.write(frame);
      };
      const timer = setInterval(send, everyMs);
      timers.add(timer);
      send();
      await closed(socket);
      clearInterval(timer);
      timers.delete(timer);
      sockets.delete(socket);
    }
  });
  return {
    conns,
    /** Stops writing, lets answers in flight arrive, then closes. */
    async stop() {
      running = false;
      for (const timer of timers) clearInterval(timer);
      await new Promise((r) => setTimeout(r, 1000));
      for (const socket of sockets) socket.destroy();
      await Promise.all(loops);
    },
  };
}

/** Sends `frame` from `localAddress`; resolves with the answer and the ms it took. */
async function sendTimed(
  port: number,
  localAddress: string,
  frame: Uint8Array,
): Promise<{ answer: string; ms: number }> {
  const started = performance.now();
  const socket = await connectFrom(port, localAddress);
  let answer = "";
  socket.on("error", () => {});
  socket.on("data", (d: Uint8Array) => answer += new TextDecoder().decode(d));
  socket.end(frame);
  await closed(socket);
  return { answer, ms: performance.now() - started };
}

/** Whether the SQLite file at `path` holds a document with `hash`. */
function storedIn(path: string, hash: string): boolean {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return db.prepare("SELECT 1 FROM ethereum_data WHERE hash = ?").get(
        hash,
      ) !== undefined;
    } finally {
      db.close();
    }
  } catch {
    return false; // Not created yet.
  }
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

Deno.test("every slot kept alive from the sender's own address: idle holders yield, the document is answered ok within 4 s and stored", async () => {
  const dir = await Deno.makeTempDir();
  const metricsPort = freePort();
  try {
    const sqlite = `${dir}/eth.sqlite`;
    await using server = await startServer([
      "--sqlite-path",
      sqlite,
      "--spool-dir",
      `${dir}/spool`,
      "--max-connections",
      "50",
      "--idle-timeout",
      "5",
      "--metrics-port",
      String(metricsPort),
    ]);
    const frame = encodeNetstring((await makeDocument(8101)).payload);
    const holders = keepAlive(server.port, "127.0.0.1", 50, frame, 4000);
    try {
      await server.child.waitForLine(/50 connections are open/, {
        stream: "stderr",
      });
      // Under no pressure (nobody waits) no holder is closed.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(holders.conns.length, 50);
      assert.equal(
        await metric(metricsPort, "eth_server_connections_yielded_total"),
        0,
      );
      const legit = await makeDocument(8102);
      const { answer, ms } = await sendTimed(
        server.port,
        "127.0.0.1",
        encodeNetstring(legit.payload),
      );
      assert.equal(answer, "2:ok,");
      assert.ok(ms < 4000, `answered after ${ms.toFixed(0)} ms`);
      await waitFor(() => storedIn(sqlite, legit.hash), {
        what: "the document in SQLite",
      });
      const yielded = await metric(
        metricsPort,
        "eth_server_connections_yielded_total",
      );
      assert.ok(yielded >= 1, `${yielded} yielded`);
      assert.match(
        server.child.stderr.join("\n"),
        /WARN .*50 connections are open \(--max-connections\) and peers wait: closing the longest-idle ones between frames/,
      );
      console.log(
        `50 holders: the document answered after ${ms.toFixed(0)} ms, ` +
          `${yielded} holders yielded`,
      );
    } finally {
      await holders.stop();
    }
    // At most the frame in flight at a holder's close goes unanswered.
    for (const c of holders.conns) {
      assert.ok(
        c.written - c.answered <= 1,
        `a holder wrote ${c.written} frames, got ${c.answered} ok`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idle connections from many addresses yield to a waiting sender, the longest-idle first", async () => {
  const metricsPort = freePort();
  await using server = await startServer([
    "--no-store",
    "--max-connections",
    "50",
    "--idle-timeout",
    "30",
    "--metrics-port",
    String(metricsPort),
  ]);
  // 50 peers from 127.0.0.2 ... 127.0.0.51 that connect and send nothing.
  const idle: net.Socket[] = [];
  const closedAt = new Map<number, number>();
  try {
    for (let i = 0; i < 50; i++) {
      const socket = await connectFrom(server.port, `127.0.0.${i + 2}`);
      socket.on("error", () => {});
      closed(socket).then(() => closedAt.set(i, performance.now()));
      idle.push(socket);
      // Spread out, so "longest idle" has a meaning.
      await new Promise((r) => setTimeout(r, 20));
    }
    await server.child.waitForLine(/50 connections are open/, {
      stream: "stderr",
    });
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(closedAt.size, 0, "nobody waits: nobody is closed");
    // Each sender keeps its connection (a pool would): the next one
    // finds every slot taken again.
    const senders = 3;
    for (let k = 0; k < senders; k++) {
      const doc = await makeDocument(8200 + k);
      const started = performance.now();
      const socket = await connectFrom(server.port, "127.0.0.1");
      socket.on("error", () => {});
      idle.push(socket);
      let answer = "";
      const ok = new Promise<void>((resolve) =>
        socket.on("data", (d: Uint8Array) => {
          answer += new TextDecoder().decode(d);
          if (answer === "2:ok,") resolve();
        })
      );
      socket.write(encodeNetstring(doc.payload));
      assert.equal(await settleWithin(ok, 4000), true, `sender ${k}: no ok`);
      const ms = performance.now() - started;
      assert.ok(ms < 4000, `answered after ${ms.toFixed(0)} ms`);
    }
    // The oldest connections went first, one per waiting sender.
    await waitFor(() => [0, 1, 2].every((i) => closedAt.has(i)), {
      what: "the three oldest peers closed",
    });
    assert.equal(closedAt.size, senders);
    assert.equal(
      await metric(metricsPort, "eth_server_connections_yielded_total"),
      senders,
    );
    // One warning naming the pressure, not one per peer.
    assert.equal(
      server.child.stderr.filter((l) => /WARN .*and peers wait:/.test(l))
        .length,
      1,
    );
  } finally {
    for (const socket of idle) socket.destroy();
  }
});

Deno.test("a burst of 1,500 peers while every slot is taken waits in the listen backlog, and each is served", async () => {
  await using server = await startServer([
    "--no-store",
    "--max-connections",
    "1",
    "--max-connections-per-ip",
    "0",
    "--max-connection-age",
    "0",
    "--idle-timeout",
    "60",
  ]);
  // One peer takes the only slot, part way through a frame (a connection
  // between frames would yield its slot to a waiting peer).
  const holder = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await holder.write(new TextEncoder().encode("900:<"));
  const docs = await Promise.all(
    Array.from({ length: 1500 }, (_, i) => makeDocument(9001 + i)),
  );
  const conns: Deno.Conn[] = [];
  try {
    // Each handshake is completed by the kernel and queued: past a backlog
    // of 511 (Deno's default), the rest would have their handshakes
    // dropped and retried for as long as the slot stays taken.
    const deadline = AbortSignal.timeout(10_000);
    const results = await Promise.allSettled(docs.map(async (doc) => {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
        signal: deadline,
      });
      conns.push(conn);
      await conn.write(encodeNetstring(doc.payload));
      await conn.closeWrite();
    }));
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(
      refused.length,
      0,
      `${refused.length} of 1500 peers not connected while the slot was ` +
        `taken: ${(refused[0] as PromiseRejectedResult | undefined)?.reason}`,
    );
    // The slot comes free: every queued peer is served in turn.
    holder.close();
    const answers = await Promise.all(conns.map(async (conn) => {
      const buffer = new Uint8Array(16);
      let got = 0;
      for (let n; (n = await conn.read(buffer.subarray(got))) !== null;) {
        got += n;
      }
      return new TextDecoder().decode(buffer.subarray(0, got));
    }));
    assert.equal(answers.filter((a) => a === "2:ok,").length, 1500);
    await waitFor(
      () => dataFrom(server.child.stdout, "127.0.0.1").length >= 1500,
      { what: "1,500 DATA lines" },
    );
  } finally {
    try {
      holder.close();
    } catch { /* closed */ }
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
});
