/**
 * Disk faults delay, never drop (SPEC part 3), injected for real: a full
 * tmpfs under the SQLite file, a full tmpfs under the spool, and a second
 * process holding an exclusive lock on the SQLite file. Throughout, every
 * `/livez` call answers within 100 ms (SQLite runs in a worker; the spool's
 * writes are asynchronous); during the fault `/readyz` is 503 naming the
 * cause; once it is fixed every acknowledged document is stored, without a
 * restart. A full spool acknowledges nothing it could not write.
 *
 * Needs root (it mounts tmpfs file systems); skipped otherwise.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { sendDocument } from "../../lib/client/sender.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { startServer } from "../_helpers/process.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { sendAllAcked } from "../_helpers/acked.ts";

const template = await BlockTemplate.load();
const isRoot = Deno.uid() === 0;

/** Mounts a tmpfs of `size` at a new directory; dispose unmounts it. */
async function tmpfs(size: string) {
  const dir = await Deno.makeTempDir({ prefix: "eth-tmpfs-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  }).output();
  assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
  return {
    dir,
    /** Fills what is left with one file; returns its path. */
    async fill(): Promise<string> {
      const path = `${dir}/filler`;
      using file = await Deno.open(path, { write: true, create: true });
      const chunk = new Uint8Array(16 * 1024).fill(0x55);
      try {
        while (true) await file.write(chunk);
      } catch (error) {
        // ENOSPC is the point; anything else is not.
        assert.match(String(error), /No space left/);
      }
      // What is left is smaller than a chunk: take it byte-wise too.
      try {
        while (true) await file.write(chunk.subarray(0, 512));
      } catch { /* full */ }
      return path;
    },
    async [Symbol.asyncDispose]() {
      await new Deno.Command("umount", { args: ["-l", dir] }).output();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Polls `/livez` every 20 ms until disposed, recording each call's latency;
 * `slowest()` is the worst seen, `failures` the calls that were not 200.
 */
async function watchLivez(port: number) {
  await waitFor(() => get(port, "/livez").then((r) => r.status === 200), {
    what: "the metrics port",
  });
  const latencies: number[] = [];
  const failures: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const began = performance.now();
      try {
        const response = await fetch(`http://127.0.0.1:${port}/livez`);
        await response.body?.cancel();
        latencies.push(performance.now() - began);
        if (response.status !== 200) failures.push(`HTTP ${response.status}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    latencies,
    failures,
    slowest: () => Math.max(0, ...latencies),
    async [Symbol.asyncDispose]() {
      stopped = true;
      await loop;
    },
  };
}

async function get(port: number, path: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** Hashes in `hashes` that the SQLite file at `path` does not hold. */
function missingFrom(path: string, hashes: string[]): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const stored = new Set(
      db.prepare("SELECT hash FROM ethereum_data").all().map((r) =>
        String(r.hash)
      ),
    );
    return hashes.filter((h) => !stored.has(h));
  } finally {
    db.close();
  }
}

/** Asserts every /livez answered 200 within 100 ms (the bound). */
function assertLively(livez: Awaited<ReturnType<typeof watchLivez>>) {
  assert.deepEqual(livez.failures, []);
  assert.ok(livez.latencies.length >= 10, `${livez.latencies.length} calls`);
  assert.ok(
    livez.slowest() < 100,
    `slowest /livez took ${livez.slowest().toFixed(1)} ms`,
  );
}

Deno.test({
  name:
    "a full disk under the SQLite file: documents wait in the spool, /readyz says disk full, all stored once space is freed",
  ignore: !isRoot,
  async fn() {
    await using disk = await tmpfs("2m");
    const spoolDir = await Deno.makeTempDir({ prefix: "eth-spool-" });
    const sqlite = `${disk.dir}/eth.sqlite`;
    const metricsPort = freePort();
    try {
      await using server = await startServer([
        "--sqlite-path",
        sqlite,
        "--spool-dir",
        spoolDir,
        "--metrics-port",
        String(metricsPort),
      ]);
      await using livez = await watchLivez(metricsPort);
      const before = await sendAllAcked(server.port, range(1000, 5));
      await waitFor(() => missingFrom(sqlite, before).length === 0, {
        what: "the first documents in SQLite",
      });
      const filler = await disk.fill();
      // Enough that the WAL must grow into the full disk.
      const during = await sendAllAcked(server.port, range(2000, 60));
      const ready = await waitFor(async () => {
        const r = await get(metricsPort, "/readyz");
        return r.status === 503 && /full/i.test(r.body) ? r : undefined;
      }, { what: "/readyz 503 naming the full disk", timeoutMs: 30_000 });
      assert.match(ready.body, /sqlite store failing/);
      // The fault is real: the store lacks documents that got `ok`.
      assert.ok(missingFrom(sqlite, during).length > 0);
      assert.match(
        (await get(metricsPort, "/metrics")).body,
        /eth_server_store_up\{store="sqlite"\} 0/,
      );
      // Still acknowledging: the spool is on another disk.
      const more = await sendAllAcked(server.port, range(3000, 5));
      await Deno.remove(filler);
      const all = [...before, ...during, ...more];
      await waitFor(() => missingFrom(sqlite, all).length === 0, {
        what: "every acknowledged document in SQLite after freeing space",
        timeoutMs: 30_000,
      });
      await waitFor(async () =>
        (await get(metricsPort, "/readyz")).status === 200
      );
      assert.equal(
        (await get(metricsPort, "/dead-letter")).body,
        "",
        "nothing dead-lettered",
      );
      await livez[Symbol.asyncDispose]();
      assertLively(livez);
      assert.equal((await server.child.stop("SIGTERM")).code, 0);
      assert.deepEqual(missingFrom(sqlite, all), []);
    } finally {
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "a full disk under the spool: no ok for what could not be written, /readyz says why, acknowledging resumes once space is freed",
  ignore: !isRoot,
  async fn() {
    await using disk = await tmpfs("2m");
    const dir = await Deno.makeTempDir({ prefix: "eth-store-" });
    const sqlite = `${dir}/eth.sqlite`;
    const metricsPort = freePort();
    try {
      await using server = await startServer([
        "--sqlite-path",
        sqlite,
        "--spool-dir",
        `${disk.dir}/spool`,
        "--metrics-port",
        String(metricsPort),
      ]);
      await using livez = await watchLivez(metricsPort);
      const before = await sendAllAcked(server.port, range(1000, 5));
      const filler = await disk.fill();
      // A document may still fit in the last page the segment holds; soon
      // none does, and from then on no `ok` comes back.
      const squeezed: string[] = [];
      const tryOne = async (block: number) => {
        const payload = template.render(BigInt(block));
        try {
          await sendDocument(
            { host: "127.0.0.1", port: server.port },
            payload,
            {
              ack: "required",
              timeoutMs: 3000,
            },
          );
          return sha256Hex(payload);
        } catch (error) {
          assert.match(
            String(error),
            /without an acknowledgement|no acknowledgement|reset|closed/i,
          );
          return undefined;
        }
      };
      let block = 2000;
      for (; block < 2100; block++) {
        const hash = await tryOne(block);
        if (hash === undefined) break;
        squeezed.push(hash);
      }
      assert.ok(block < 2100, "the full spool kept acknowledging");
      // Space comes back when the store passes a spool segment, which is
      // then deleted (and acknowledging rightly resumes): take that space
      // too, until three documents in a row find none. What was
      // acknowledged meanwhile is durable and must be stored like the rest.
      let refused = 0;
      for (let tries = 0; refused < 3; tries++) {
        assert.ok(tries < 30, "the spool never stayed full");
        const hash = await tryOne(2200 + tries);
        if (hash === undefined) refused++;
        else {
          squeezed.push(hash);
          refused = 0;
          await disk.fill();
        }
      }
      const ready = await waitFor(async () => {
        const r = await get(metricsPort, "/readyz");
        return r.status === 503 && /spool/.test(r.body) ? r : undefined;
      }, { what: "/readyz 503 naming the spool" });
      assert.match(ready.body, /No space left/);
      await Deno.remove(filler);
      await waitFor(
        async () => (await get(metricsPort, "/readyz")).status === 200,
        {
          what: "/readyz 200 once the spool is writable",
        },
      );
      const after = await sendAllAcked(server.port, range(3000, 5));
      const all = [...before, ...squeezed, ...after];
      await waitFor(() => missingFrom(sqlite, all).length === 0, {
        what: "every acknowledged document in SQLite",
      });
      await livez[Symbol.asyncDispose]();
      assertLively(livez);
      assert.equal((await server.child.stop("SIGTERM")).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test(
  "a second process holds an exclusive lock on the SQLite file: /livez stays fast, /readyz says locked, all stored once released",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "eth-lock-" });
    const sqlite = `${dir}/eth.sqlite`;
    const metricsPort = freePort();
    try {
      await using server = await startServer([
        "--sqlite-path",
        sqlite,
        "--spool-dir",
        `${dir}/spool`,
        "--metrics-port",
        String(metricsPort),
      ]);
      await using livez = await watchLivez(metricsPort);
      const before = await sendAllAcked(server.port, range(1000, 3));
      await waitFor(() => missingFrom(sqlite, before).length === 0, {
        what: "the first documents in SQLite",
      });
      // Another process: BEGIN EXCLUSIVE and hold it until told.
      const holder = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { DatabaseSync } from "node:sqlite";
           const db = new DatabaseSync(${JSON.stringify(sqlite)});
           db.exec("BEGIN EXCLUSIVE");
           console.log("locked");
           for await (const _ of Deno.stdin.readable) break;
           db.exec("COMMIT");
           db.close();`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const release = holder.stdin.getWriter();
      try {
        const reader = holder.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        assert.match((await reader.read()).value ?? "", /locked/);
        reader.releaseLock();
        const during = await sendAllAcked(server.port, range(2000, 10));
        await waitFor(async () => {
          const r = await get(metricsPort, "/readyz");
          return r.status === 503 && /locked/i.test(r.body);
        }, { what: "/readyz 503 naming the lock", timeoutMs: 30_000 });
        assert.equal(missingFrom(sqlite, during).length, during.length);
        await release.write(new TextEncoder().encode("release\n"));
        await release.close();
        assert.ok((await holder.status).success);
        const all = [...before, ...during];
        await waitFor(() => missingFrom(sqlite, all).length === 0, {
          what: "every acknowledged document after the lock is released",
          timeoutMs: 30_000,
        });
        await waitFor(async () =>
          (await get(metricsPort, "/readyz")).status === 200
        );
      } finally {
        try {
          holder.kill("SIGKILL");
        } catch { /* exited */ }
        await holder.status;
        await holder.stdout.cancel().catch(() => {});
      }
      await livez[Symbol.asyncDispose]();
      assertLively(livez);
      assert.equal((await server.child.stop("SIGTERM")).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
