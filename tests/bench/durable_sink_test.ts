/**
 * The baselines of scenario 8 (bench/durable_sink.ts), run as the bench runs
 * them: a real process on a real socket. The durable sink answers `2:ok,`
 * with what it read already in its file; the ok-only sink answers and
 * writes nothing.
 */
import assert from "node:assert/strict";
import { freePort, waitForPort } from "../_helpers/net.ts";
import { encodeNetstring } from "../../lib/shared/mod.ts";

const SINK = new URL("../../bench/durable_sink.ts", import.meta.url).pathname;

/** Sends `payload` as one netstring, half-closes, returns the answer. */
async function send(port: number, payload: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const frame = encodeNetstring(payload);
  for (let at = 0; at < frame.length;) {
    at += await conn.write(frame.subarray(at));
  }
  await conn.closeWrite();
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64);
  let n;
  while ((n = await conn.read(buffer)) !== null) {
    chunks.push(buffer.slice(0, n));
  }
  return new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((c) => [...c])),
  );
}

/** Runs the sink with `args` for `body`, then stops it with SIGTERM. */
async function withSink(
  args: string[],
  body: (port: number) => Promise<void>,
): Promise<{ frames: number; syncs: number }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SINK, "--port", String(port), ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    await waitForPort(port);
    await body(port);
  } finally {
    child.kill("SIGTERM");
  }
  const { stdout } = await child.output();
  return JSON.parse(new TextDecoder().decode(stdout).trim());
}

Deno.test("durable sink: ok only after what it read is in its file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sink.log`;
    const report = await withSink(["--path", path], async (port) => {
      const answers = await Promise.all(
        ["a", "bb", "ccc"].map((p) => send(port, p)),
      );
      assert.deepEqual(answers, ["2:ok,", "2:ok,", "2:ok,"]);
      // Every answered frame is in the file by the time its ok arrived.
      const written = await Deno.readTextFile(path);
      for (const frame of ["1:a,", "2:bb,", "3:ccc,"]) {
        assert.ok(written.includes(frame), `${frame} in ${written}`);
      }
    });
    assert.equal(report.frames, 3);
    assert.ok(report.syncs >= 1 && report.syncs <= 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ok-only sink: answers and writes nothing", async () => {
  const report = await withSink([], async (port) => {
    assert.equal(await send(port, "hello"), "2:ok,");
  });
  assert.equal(report.frames, 1);
  assert.equal(report.syncs, 0);
});
