/**
 * The server's stdout writer: lines printed in one turn of the event loop
 * share one write, a lone line is written by itself, `flush` waits for what
 * is queued, and a closed stdout stops nothing. The sink is a real file; the
 * test counts the writes made to it.
 */
import assert from "node:assert/strict";
import { LineWriter } from "../../lib/server/output.ts";

/** Longer than the turn of the event loop a writer waits for. */
const SETTLE_MS = 50;

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
  assert.equal(sink.writes, 0, "nothing written within the turn");
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  assert.equal(sink.writes, 1);
  assert.equal(await sink.text(), lines.join("\n") + "\n");
});

Deno.test("output: a lone line is written by itself, and later lines after it", async () => {
  await using sink = await fileSink();
  const out = new LineWriter(sink);
  out.writeLine("first");
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  assert.equal(await sink.text(), "first\n");
  out.writeLine("second");
  out.writeLine("third");
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  assert.equal(await sink.text(), "first\nsecond\nthird\n");
  assert.equal(sink.writes, 2);
});

Deno.test("output: flush resolves once what is queued is written", async () => {
  await using sink = await fileSink();
  const out = new LineWriter(sink);
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
