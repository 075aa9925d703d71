import assert from "node:assert/strict";
import { IngestServer, sha256Hex } from "../../lib/server/ingest.ts";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { sendDocument } from "../../lib/client/sender.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";
import { sendRaw, waitFor } from "../_helpers/net.ts";

const template = await BlockTemplate.load();

function start(
  options: {
    hostname?: string;
    anyPayload?: boolean;
    idleTimeoutMs?: number;
    maxConnections?: number;
  } = {},
) {
  const lines: string[] = [];
  const docs: ReceivedDocument[] = [];
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: 0,
  });
  const server = new IngestServer(listener, {
    template: options.anyPayload ? undefined : template,
    idleTimeoutMs: options.idleTimeoutMs ?? 2000,
    maxConnections: options.maxConnections,
    print: (line) => lines.push(line),
    onDocument: (doc) => {
      docs.push(doc);
    },
    serverId: "test:1",
    now: () => 1_700_000_000_000,
  });
  const served = server.serve();
  return {
    server,
    lines,
    docs,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown(500);
      await served;
    },
  };
}

const expectedLine = (ip: string, port: number, doc: string) =>
  `DATA - ${ip}:${port} - ${doc.replaceAll("\n", "\\n")}`;

Deno.test("a frame sent as the originals send it is printed and handed on", async () => {
  await using s = start();
  const doc = template.render(5000000n);
  // The originals' client: connect, write one frame, close.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const localPort = (conn.localAddr as Deno.NetAddr).port;
  await conn.write(encodeNetstring(doc));
  conn.close();
  await waitFor(() => s.lines.length === 1, { what: "one DATA line" });
  assert.equal(s.lines[0], expectedLine("127.0.0.1", localPort, doc));
  assert.deepEqual(s.docs[0], {
    payload: doc,
    hash: "c222d52b79c72f5835d87cc2fe9f5f1a3ee995bea890bd22eb439b646bed4a68",
    block: 5000000n,
    ip: "127.0.0.1",
    port: localPort,
    receivedAt: 1_700_000_000_000,
    server: "test:1",
  });
  assert.equal(s.server.stats.accepted, 1);
});

Deno.test("several frames on one connection are all accepted in order", async () => {
  await using s = start();
  const docs = [1n, 2n, 3n].map((n) => template.render(n));
  const bytes = new Uint8Array(docs.flatMap((d) => [...encodeNetstring(d)]));
  await sendRaw(s.port, bytes);
  await waitFor(() => s.docs.length === 3, { what: "three documents" });
  assert.deepEqual(s.docs.map((d) => d.block), [1n, 2n, 3n]);
});

Deno.test("our sender's bytes are one netstring the server accepts", async () => {
  await using s = start();
  await sendDocument(
    { host: "127.0.0.1", port: s.port },
    template.render(21000000n),
  );
  await waitFor(() => s.docs.length === 1);
  assert.equal(s.docs[0].hash, sha256Hex(template.render(21000000n)));
});

const hasIpv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "IPv6 peers are printed in brackets",
  ignore: !hasIpv6,
}, async () => {
  await using s = start({ hostname: "::1" });
  const conn = await Deno.connect({ hostname: "::1", port: s.port });
  const localPort = (conn.localAddr as Deno.NetAddr).port;
  const doc = template.render(9n);
  await conn.write(encodeNetstring(doc));
  conn.close();
  await waitFor(() => s.lines.length === 1);
  assert.equal(s.lines[0], expectedLine("[::1]", localPort, doc));
  assert.equal(s.docs[0].ip, "::1");
});

Deno.test("bad frames close only their own connection", async () => {
  await using s = start();
  const good = template.render(42n);
  // Open a healthy connection and keep it open across the bad ones.
  const keep = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const bad: [string | Uint8Array, string][] = [
    ["abc", "bad_length"],
    ["05:hello,", "bad_length"],
    ["99999999999:", "too_long"],
    ["5:hello!", "missing_comma"],
    ["5:hel", "truncated"],
    [new Uint8Array([0x32, 0x3a, 0xff, 0xfe, 0x2c]), "bad_utf8"],
    ["12:<p>hello</p>,", "not_a_document"],
    [
      new TextDecoder().decode(encodeNetstring(good.replace("42", "-42"))),
      "not_a_document",
    ],
  ];
  for (const [bytes] of bad) await sendRaw(s.port, bytes);
  await keep.write(encodeNetstring(good));
  keep.close();
  await waitFor(() => s.docs.length === 1, { what: "the good document" });
  await waitFor(() => {
    const total = Object.values(s.server.stats.rejected).reduce(
      (a, b) => a + b!,
      0,
    );
    return total === bad.length;
  }, { what: "every rejection counted" });
  const expected: Record<string, number> = {};
  for (const [, reason] of bad) expected[reason] = (expected[reason] ?? 0) + 1;
  assert.deepEqual(s.server.stats.rejected, expected);
  assert.equal(s.lines.length, 1);
  assert.equal(s.docs[0].block, 42n);
});

Deno.test("--accept-any-payload takes any UTF-8 text", async () => {
  await using s = start({ anyPayload: true });
  await sendRaw(s.port, encodeNetstring("hello\nworld"));
  await waitFor(() => s.docs.length === 1);
  assert.equal(s.docs[0].block, null);
  assert.match(s.lines[0], /^DATA - 127\.0\.0\.1:\d+ - hello\\nworld$/);
});

Deno.test("a connection that completes no frame is closed by the idle timeout", async () => {
  await using s = start({ idleTimeoutMs: 100 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(new TextEncoder().encode("453:<!doc"));
  // The server closes it: our read sees EOF or a reset.
  const buf = new Uint8Array(8);
  const result = await conn.read(buf).catch(() => null);
  assert.equal(result, null);
  conn.close();
  await waitFor(() => s.server.stats.rejected.idle_timeout === 1);
});

Deno.test("beyond --max-connections a peer waits unread while every slot is mid-frame", async () => {
  await using s = start({ maxConnections: 2, idleTimeoutMs: 10_000 });
  const a = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const b = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  // Both in the middle of a frame: neither may yield its slot.
  const partial = new TextEncoder().encode("453:<!doc");
  await a.write(partial);
  await b.write(partial);
  await waitFor(() => s.server.stats.active === 2);
  await waitFor(() => s.server.stats.refused === 1);
  // A third peer is accepted (the sign that one waits) but not read:
  // closing it unread would let its sender count it as delivered.
  const sending = sendDocument(
    { host: "127.0.0.1", port: s.port },
    template.render(1n),
    { timeoutMs: 10_000 },
  );
  await waitFor(() => s.server.stats.connections === 3);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(s.docs.length, 0);
  assert.equal(s.server.stats.yielded, 0);
  // Capacity frees up once a connection ends: it is taken, nothing lost.
  a.close();
  await sending;
  await waitFor(() => s.docs.length === 1);
  assert.equal(s.docs[0].block, 1n);
  b.close();
});

Deno.test("beyond --max-connections the longest-idle connection between frames yields to a waiting peer", async () => {
  await using s = start({ maxConnections: 2, idleTimeoutMs: 10_000 });
  const answered = async (conn: Deno.Conn, block: bigint) => {
    await conn.write(encodeNetstring(template.render(block)));
    const buf = new Uint8Array(5);
    assert.equal(await conn.read(buf), 5);
    assert.equal(new TextDecoder().decode(buf), "2:ok,");
  };
  const a = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await answered(a, 1n);
  await new Promise((r) => setTimeout(r, 50));
  const b = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await answered(b, 2n);
  // No peer waits: nobody yields, however long they idle.
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(s.server.stats.yielded, 0);
  // A peer waits: `a`, idle longest, is closed; `b` keeps its slot.
  await sendDocument(
    { host: "127.0.0.1", port: s.port },
    template.render(3n),
    { timeoutMs: 5000 },
  );
  assert.equal(await a.read(new Uint8Array(8)).catch(() => null), null);
  assert.equal(s.server.stats.yielded, 1);
  await answered(b, 4n);
  assert.deepEqual(s.docs.map((d) => d.block), [1n, 2n, 3n, 4n]);
  a.close();
  b.close();
});

Deno.test("shutdown lets a frame in flight finish", async () => {
  const s = start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const frame = encodeNetstring(template.render(77n));
  await conn.write(frame.subarray(0, 100));
  await waitFor(() => s.server.stats.active === 1);
  const stopping = s.server.shutdown(5000);
  await conn.write(frame.subarray(100));
  conn.close();
  await stopping;
  await s[Symbol.asyncDispose]();
  assert.deepEqual(s.docs.map((d) => d.block), [77n]);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: s.port }));
});

Deno.test("a frame is answered ok only once its document is durable, then closed", async () => {
  const stored = Promise.withResolvers<void>();
  let storedYet = false;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = new IngestServer(listener, {
    template,
    print: () => {},
    onDocument: () => stored.promise,
    storeWaitMs: 10_000,
  });
  const served = server.serve();
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await conn.write(encodeNetstring(template.render(3n)));
    await conn.closeWrite();
    setTimeout(() => {
      storedYet = true;
      stored.resolve();
    }, 200);
    // SPEC part 3: `2:ok,` only once durable, then the close.
    const buf = new Uint8Array(8);
    const n = await conn.read(buf);
    assert.equal(storedYet, true);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "2:ok,");
    assert.equal(await conn.read(buf), null);
    conn.close();
  } finally {
    await server.shutdown(500);
    await served;
  }
});

Deno.test("a store that does not answer delays the close by storeWaitMs at most", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = new IngestServer(listener, {
    template,
    print: () => {},
    onDocument: () => new Promise(() => {}),
    storeWaitMs: 50,
  });
  const served = server.serve();
  try {
    await sendDocument(
      { host: "127.0.0.1", port: server.addr.port },
      template.render(4n),
      {
        timeoutMs: 5000,
      },
    );
    assert.equal(server.stats.accepted, 1);
  } finally {
    await server.shutdown(500);
    await served;
  }
});

Deno.test("storeWaitMs 0 closes at once, as the originals", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = new IngestServer(listener, {
    template,
    print: () => {},
    onDocument: () => new Promise(() => {}),
    storeWaitMs: 0,
  });
  const served = server.serve();
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await conn.write(encodeNetstring(template.render(5n)));
    await conn.closeWrite();
    // A never-settling store would hold the close for the default 1 s.
    let timer;
    const closed = await Promise.race([
      conn.read(new Uint8Array(8)).then(() => "closed"),
      new Promise((r) => timer = setTimeout(() => r("held"), 500)),
    ]);
    clearTimeout(timer);
    assert.equal(closed, "closed");
    conn.close();
  } finally {
    await server.shutdown(500);
    await served;
  }
});

/** Writes `bytes`, half-closes and returns everything the server answered. */
async function exchange(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    await conn.closeWrite();
    let out = "";
    const buf = new Uint8Array(1024);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("SPEC part 3: one answer per frame, in order; a refused frame gets err and the close", async () => {
  await using s = start();
  const frames = [
    encodeNetstring(template.render(1n)),
    encodeNetstring(template.render(2n)),
    encodeNetstring("<p>not a block</p>"),
    encodeNetstring(template.render(3n)),
  ];
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    all.set(f, at);
    at += f.length;
  }
  assert.equal(
    await exchange(s.port, all),
    "2:ok,2:ok,18:err not_a_document,",
  );
  assert.deepEqual(s.docs.map((d) => d.block), [1n, 2n]);
  assert.equal(
    await exchange(s.port, new TextEncoder().encode("12:abc")),
    "13:err truncated,",
  );
  assert.equal(
    await exchange(s.port, new TextEncoder().encode("x:abc,")),
    "14:err bad_length,",
  );
});

Deno.test("SPEC part 3: a peer refused by --allow-from gets no answer at all", async () => {
  const { AllowList } = await import("../../lib/server/cidr.ts");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const docs: ReceivedDocument[] = [];
  const server = new IngestServer(listener, {
    template,
    allowFrom: AllowList.parse(["10.0.0.0/8"]),
    // A refused peer is held unanswered (no orderly close) this long.
    idleTimeoutMs: 300,
    print: () => {},
    onDocument: (doc) => {
      docs.push(doc);
    },
  });
  const served = server.serve();
  try {
    assert.equal(
      await exchange(
        server.addr.port,
        encodeNetstring(template.render(1n)),
      ),
      "",
    );
    assert.equal(docs.length, 0);
  } finally {
    await server.shutdown(500);
    await served;
  }
});

Deno.test("a signal that fired before the server was built still stops it", async () => {
  // As when SIGTERM arrives while the program is still starting up.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const server = new IngestServer(listener, {
    print: () => {},
    signal: AbortSignal.abort(),
  });
  await server.serve();
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("a signal that fires while serving stops the server", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stop = new AbortController();
  const server = new IngestServer(listener, {
    print: () => {},
    signal: stop.signal,
  });
  const served = server.serve();
  stop.abort();
  await served;
});
