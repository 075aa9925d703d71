/**
 * The server's stdout writer: lines printed close together share one write,
 * a lone line is still written within a moment, `flush` writes at once, and
 * a closed stdout stops nothing. The sink is a real file; the test counts the
 * writes made to it.
 */
import assert from "node:assert/strict";
import { LINE_DELAY_MS, LineWriter } from "../../lib/server/output.ts";

async function fileSink() {
  const path = await Deno.makeTempFile();
  const file = await Deno.open(path, { write: true });
  const sink = {
    writes: 0,
    write(bytes: Uint8Array) {
      sink.writes++;
      return file.write(bytes);
    },
    text: () => Deno.readTextFile(path),
    async [Symbol.asyncDispose]() {
      file.close();
      await Deno.remove(path);
    },
  };
  return sink;
}

Deno.test("output: 1,000 lines printed at once share a write, in order", async () => {
  await using sink = await fileSink();
  const out = new LineWriter(sink);
  const lines = Array.from({ length: 1000 }, (_, i) => `DATA - line ${i}`);
  for (const line of lines) out.writeLine(line);
  assert.equal(sink.writes, 0, "nothing written before the delay");
  await new Promise((resolve) => setTimeout(resolve, LINE_DELAY_MS + 50));
  assert.equal(sink.writes, 1);
  assert.equal(await sink.text(), lines.join("\n") + "\n");
});

Deno.test("output: lines from several turns of the event loop share a write", async () => {
  await using sink = await fileSink();
  // Longer than the turns take on any machine, so the test cannot race.
  const out = new LineWriter(sink, { delayMs: 300 });
  for (let i = 0; i < 5; i++) {
    out.writeLine(`turn ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(sink.writes, 1);
  assert.equal(
    await sink.text(),
    "turn 0\nturn 1\nturn 2\nturn 3\nturn 4\n",
  );
});

Deno.test("output: a lone line is written by itself, and later lines after it", async () => {
  await using sink = await fileSink();
  const out = new LineWriter(sink);
  out.writeLine("first");
  await new Promise((resolve) => setTimeout(resolve, LINE_DELAY_MS + 50));
  assert.equal(await sink.text(), "first\n");
  out.writeLine("second");
  out.writeLine("third");
  await new Promise((resolve) => setTimeout(resolve, LINE_DELAY_MS + 50));
  assert.equal(await sink.text(), "first\nsecond\nthird\n");
  assert.equal(sink.writes, 2);
});

Deno.test("output: flush writes what is queued without waiting for the delay", async () => {
  await using sink = await fileSink();
  // A delay no test would sit through: only flush can write in time.
  const out = new LineWriter(sink, { delayMs: 60_000 });
  out.writeLine("a");
  out.writeLine("b");
  await out.flush();
  assert.equal(await sink.text(), "a\nb\n");
  await out.flush(); // nothing queued: resolves at once
});

Deno.test("output: a sink that fails drops its lines and the writer goes on", async () => {
  let calls = 0;
  const out = new LineWriter({
    write() {
      calls++;
      return Promise.reject(new Deno.errors.BrokenPipe("closed"));
    },
  });
  out.writeLine("lost");
  await out.flush();
  out.writeLine("also lost");
  await out.flush();
  assert.equal(calls, 2);
});
