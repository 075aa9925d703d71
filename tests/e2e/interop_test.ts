import assert from "node:assert/strict";
import { Anvil } from "../_helpers/anvil.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { waitFor } from "../_helpers/net.ts";

// SPEC 1.1, as the 2017 originals render block 5000000.
const DOC_5000000 = [
  "<!doctype html>",
  '<html class="no-js" lang="">',
  "    <head>",
  '        <meta charset="utf-8">',
  '        <meta http-equiv="x-ua-compatible" content="ie=edge">',
  "        <title>Ethereum Current Block Number</title>",
  '        <meta name="description" content="eth current block">',
  '        <meta name="viewport" content="width=device-width, initial-scale=1">',
  "    </head>",
  "    <body>",
  "        <h2>Current Ethereum Block Number</h2>",
  "        <p>5000000</p>",
  "    </body>",
  "</html>",
].join("\n");

Deno.test("a frame written by hand as the originals write it is printed", async () => {
  await using server = await startServer(["--no-store"]);
  // The Go/Python client: connect, write `<len>:<doc>,`, close; 1 s timeout.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const port = (conn.localAddr as Deno.NetAddr).port;
  const bytes = new TextEncoder().encode(`453:${DOC_5000000},`);
  assert.equal(bytes.length, 4 + 453 + 1);
  await conn.write(bytes);
  conn.close();
  const line = await server.child.waitForLine(/^DATA/);
  assert.equal(
    line,
    `DATA - 127.0.0.1:${port} - ${DOC_5000000.replaceAll("\n", "\\n")}`,
  );
});

/**
 * Reads connections the way the original servers do: the decimal length up to
 * ':', exactly that many bytes, then ','; then nothing more until EOF.
 */
async function originalStyleServer(listener: Deno.Listener, docs: string[]) {
  for await (const conn of listener) {
    const data: number[] = [];
    const buf = new Uint8Array(4096);
    let n;
    while ((n = await conn.read(buf)) !== null) {
      data.push(...buf.subarray(0, n));
    }
    conn.close();
    const colon = data.indexOf(0x3a);
    const header = new TextDecoder().decode(
      new Uint8Array(data.slice(0, colon)),
    );
    assert.match(header, /^[1-9][0-9]*$/);
    const length = Number(header);
    assert.equal(data.length, colon + 1 + length + 1, "exactly one frame");
    assert.equal(data[data.length - 1], 0x2c);
    docs.push(
      new TextDecoder().decode(
        new Uint8Array(data.slice(colon + 1, colon + 1 + length)),
      ),
    );
  }
}

Deno.test("our client's bytes parse as the originals expect", async () => {
  await using anvil = await Anvil.start();
  await anvil.mine(21);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const docs: string[] = [];
  const serving = originalStyleServer(listener, docs);
  try {
    await using client = runProgram("client.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      String((listener.addr as Deno.NetAddr).port),
      "--rpc-url",
      anvil.url,
      "--interval",
      "0.2",
    ]);
    await waitFor(() => docs.length >= 1, {
      what: "a document",
      timeoutMs: 30_000,
    });
    assert.equal(docs[0], DOC_5000000.replace("5000000", "21"));
    assert.equal(new TextEncoder().encode(docs[0]).length, 453 - 5);
    await client.stop();
  } finally {
    listener.close();
    await serving;
  }
});
