import assert from "node:assert/strict";
import {
  formatServer,
  sendDocument,
  SendError,
} from "../../lib/client/sender.ts";
import { createRotatingSender } from "../../lib/client/run_client.ts";
import { freePort } from "../_helpers/net.ts";

/** A TCP sink that records what each connection sent until EOF. */
function sink() {
  const received: string[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    for await (const conn of listener) {
      const chunks: number[] = [];
      const buf = new Uint8Array(1024);
      let n;
      while ((n = await conn.read(buf)) !== null) {
        chunks.push(...buf.subarray(0, n));
      }
      // Record before closing: the sender returns once it sees our close.
      received.push(new TextDecoder().decode(new Uint8Array(chunks)));
      conn.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
    },
  };
}

Deno.test("sendDocument writes exactly one netstring and closes", async () => {
  await using s = sink();
  await sendDocument({ host: "127.0.0.1", port: s.port }, "héllo");
  await sendDocument({ host: "127.0.0.1", port: s.port }, "");
  assert.deepEqual(s.received, ["6:héllo,", "0:,"]);
});

Deno.test("a refused connection is a SendError naming the server", async () => {
  const port = freePort();
  const error = await sendDocument({ host: "127.0.0.1", port }, "x").catch((
    e,
  ) => e);
  assert.ok(error instanceof SendError);
  assert.match(
    error.message,
    new RegExp(`^Cannot send to 127\\.0\\.0\\.1:${port}: `),
  );
});

Deno.test("a server that never closes its side still counts as delivered", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    await sendDocument(
      { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
      "x",
      { timeoutMs: 200 },
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("formatServer brackets IPv6 hosts", () => {
  assert.equal(formatServer({ host: "::1", port: 1 }), "[::1]:1");
  assert.equal(formatServer({ host: "a.b", port: 2 }), "a.b:2");
});

Deno.test("the rotating sender spreads documents and skips a dead server", async () => {
  await using a = sink();
  await using b = sink();
  const dead = freePort();
  const send = createRotatingSender([
    { host: "127.0.0.1", port: a.port },
    { host: "127.0.0.1", port: dead },
    { host: "127.0.0.1", port: b.port },
  ], { timeoutMs: 500 });
  for (const doc of ["1", "2", "3", "4"]) await send(doc);
  // a, (dead→) b, a, (dead→) b
  assert.deepEqual(a.received, ["1:1,", "1:3,"]);
  assert.deepEqual(b.received, ["1:2,", "1:4,"]);
  const none = createRotatingSender([{ host: "127.0.0.1", port: dead }], {
    timeoutMs: 500,
  });
  await assert.rejects(none("5"), SendError);
});
