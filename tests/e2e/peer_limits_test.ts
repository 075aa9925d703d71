/**
 * Peers that try to hold the server, against a real server process on
 * 127.0.0.0/8: stalled TLS handshakes, one address taking every slot, and
 * slots kept by trickling one document every second. Legitimate senders
 * get through each time. Bounded: at most 300 sockets, and every holder
 * stops when its case ends.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { makeCerts } from "../_helpers/certs.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { startServer } from "../_helpers/process.ts";
import { makeDocument } from "../_helpers/db.ts";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
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
