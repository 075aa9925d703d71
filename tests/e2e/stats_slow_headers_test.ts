/**
 * What Deno.serve does with slow-header connections, measured: it has no
 * header-read timeout (README, security), so 1,000 connections that send
 * part of a request header and stall stay open. This test records how many
 * the stats process holds (its file descriptors, from /proc) and asserts it
 * still answers a normal request meanwhile. 127.0.0.1 only; every socket is
 * closed by the test.
 */
import assert from "node:assert/strict";
import { freePort, waitFor, waitForPort } from "../_helpers/net.ts";
import { runProgram } from "../_helpers/process.ts";

const STALLED = 1000;

const fds = (pid: number) => [...Deno.readDirSync(`/proc/${pid}/fd`)].length;

Deno.test("stats: 1,000 stalled partial headers are held open, and a normal request is still answered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_t_slow_headers_" });
  const port = freePort();
  await using stats = runProgram("stats.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--sqlite-path",
    `${dir}/eth.sqlite`,
  ]);
  const conns: Deno.TcpConn[] = [];
  try {
    await waitForPort(port);
    assert.equal((await fetch(`http://127.0.0.1:${port}/livez`)).status, 200);
    const before = fds(stats.pid);
    const partial = new TextEncoder().encode(
      "GET /_cat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    );
    for (let i = 0; i < STALLED; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      await conn.write(partial);
    }
    // A normal request, while all of them stall.
    const answer = await fetch(`http://127.0.0.1:${port}/livez`, {
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), "ok\n");
    // Once accepted, every stalled connection is one descriptor, held:
    // there is no header-read timeout to close it.
    const held = await waitFor(() => {
      const n = fds(stats.pid) - before;
      return n >= STALLED ? n : undefined;
    }, { timeoutMs: 10_000, what: `${STALLED} connections held` });
    console.log(
      `stats holds ${held} more file descriptors with ${STALLED} stalled ` +
        `partial headers (${before} before)`,
    );
    // Still held after the normal request was answered.
    assert.ok(fds(stats.pid) - before >= STALLED);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed by the peer */ }
    }
    await stats.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
