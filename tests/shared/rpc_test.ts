import assert from "node:assert/strict";
import { parseRetryAfter, RpcClient } from "../../lib/shared/rpc.ts";
import {
  parseQuantity,
  RpcError,
  type RpcErrorKind,
} from "../../lib/shared/jsonrpc.ts";
import { redactUrl } from "../../lib/shared/redact.ts";
import { Anvil } from "../_helpers/anvil.ts";

/** A local HTTP endpoint answering with whatever `answer` returns. */
function stub(answer: (body: unknown) => Response | Promise<Response>) {
  const requests: unknown[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const body = await req.json().catch(() => undefined);
      requests.push(body);
      return answer(body);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const json = (value: unknown, init?: ResponseInit) =>
  new Response(JSON.stringify(value), {
    ...init,
    headers: { "content-type": "application/json", ...init?.headers },
  });

async function expectKind(url: string, kind: RpcErrorKind, timeoutMs = 2000) {
  const rpc = new RpcClient([url], { timeoutMs });
  const error = await rpc.blockNumber().then(
    () => assert.fail("expected an error"),
    (e) => e,
  );
  assert.ok(error instanceof RpcError, String(error));
  assert.equal(error.kind, kind, error.message);
  assert.equal(error.endpoint, url);
  return error;
}

Deno.test("blockNumber reads a real anvil node", async () => {
  await using anvil = await Anvil.start();
  const rpc = new RpcClient([anvil.url]);
  assert.equal(await rpc.blockNumber(), 0n);
  await anvil.mine(3);
  assert.equal(await rpc.blockNumber(), 3n);
  assert.equal(rpc.current, anvil.url);
});

Deno.test("each error shape is a typed RpcError", async (t) => {
  await t.step("HTTP 500", async () => {
    await using s = stub(() => new Response("oops", { status: 500 }));
    const e = await expectKind(s.url, "http");
    assert.equal(e.status, 500);
  });
  await t.step("HTTP 429 with Retry-After", async () => {
    await using s = stub(() =>
      new Response("slow down", {
        status: 429,
        headers: { "retry-after": "7" },
      })
    );
    const e = await expectKind(s.url, "http");
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterMs, 7000);
  });
  await t.step("HTML body", async () => {
    await using s = stub(() =>
      new Response("<html><body>Bad gateway</body></html>", {
        headers: { "content-type": "text/html" },
      })
    );
    const e = await expectKind(s.url, "json");
    assert.match(e.message, /malformed JSON/);
  });
  await t.step("JSON that is not an object", async () => {
    await using s = stub(() => json([1, 2]));
    await expectKind(s.url, "json");
  });
  await t.step("JSON-RPC error object", async () => {
    await using s = stub(() =>
      json({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32005, message: "limit exceeded" },
      })
    );
    const e = await expectKind(s.url, "rpc");
    assert.equal(e.code, -32005);
    assert.match(e.message, /limit exceeded/);
  });
  await t.step("missing result", async () => {
    await using s = stub(() => json({ jsonrpc: "2.0", id: 1 }));
    await expectKind(s.url, "result");
  });
  for (const bad of ["0xZZ", "12", "", "0x", null, 12, { n: 1 }]) {
    await t.step(`non-hex result ${JSON.stringify(bad)}`, async () => {
      await using s = stub(() => json({ jsonrpc: "2.0", id: 1, result: bad }));
      await expectKind(s.url, "result");
    });
  }
  await t.step("timeout", async () => {
    await using s = stub(async () => {
      await new Promise((r) => setTimeout(r, 500));
      return json({ jsonrpc: "2.0", id: 1, result: "0x1" });
    });
    const e = await expectKind(s.url, "timeout", 100);
    assert.match(e.message, /timed out after 100 ms/);
  });
  await t.step("connection refused", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await expectKind(`http://127.0.0.1:${port}`, "transport");
  });
});

Deno.test("requests are well-formed JSON-RPC 2.0", async () => {
  await using s = stub((body) =>
    json({ jsonrpc: "2.0", id: (body as { id: number }).id, result: "0x10" })
  );
  const rpc = new RpcClient([s.url]);
  assert.equal(await rpc.blockNumber(), 16n);
  assert.deepEqual(s.requests[0], {
    jsonrpc: "2.0",
    id: 1,
    method: "eth_blockNumber",
    params: [],
  });
});

Deno.test("failover moves to the next endpoint and returns after cooldown", async () => {
  let healthy = false;
  await using first = stub(() =>
    healthy
      ? json({ jsonrpc: "2.0", id: 1, result: "0x2" })
      : new Response("down", { status: 503 })
  );
  await using second = stub(() =>
    json({ jsonrpc: "2.0", id: 1, result: "0x1" })
  );
  let now = 1000;
  const switches: string[] = [];
  const rpc = new RpcClient([first.url, second.url], {
    cooldownMs: 10_000,
    now: () => now,
    onSwitch: (url) => switches.push(url),
  });
  assert.equal(await rpc.blockNumber(), 1n);
  assert.equal(rpc.current, second.url);
  // While cooling down, the failed endpoint is not asked again.
  healthy = true;
  const asked = first.requests.length;
  assert.equal(await rpc.blockNumber(), 1n);
  assert.equal(first.requests.length, asked);
  // After the cooldown the preferred endpoint is re-probed and used.
  now += 10_001;
  assert.equal(await rpc.blockNumber(), 2n);
  assert.deepEqual(switches, [second.url, first.url]);
});

Deno.test("when every endpoint fails, the last error is thrown", async () => {
  await using a = stub(() => new Response("x", { status: 502 }));
  await using b = stub(() => json({ jsonrpc: "2.0", id: 1, result: "nope" }));
  const rpc = new RpcClient([a.url, b.url]);
  const e = await rpc.blockNumber().catch((e) => e);
  assert.ok(e instanceof RpcError);
  assert.equal(e.kind, "result");
  assert.equal(e.endpoint, b.url);
  assert.equal(a.requests.length, 1);
});

Deno.test("an endpoint answering garbage fails over like a dead one", async () => {
  await using bad = stub(() => json({ jsonrpc: "2.0", id: 1, result: "0xZZ" }));
  await using good = stub(() => json({ jsonrpc: "2.0", id: 1, result: "0x5" }));
  const rpc = new RpcClient([bad.url, good.url]);
  assert.equal(await rpc.blockNumber(), 5n);
  assert.equal(rpc.current, good.url);
});

Deno.test("helpers: quantities, Retry-After and URL redaction", () => {
  assert.equal(parseQuantity("0x0"), 0n);
  assert.equal(parseQuantity("0x1406f40"), 21000000n);
  assert.throws(() => parseQuantity("1406f40"), RpcError);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(new Date(61_000).toUTCString(), 1_000), 60_000);
  assert.equal(parseRetryAfter("soon"), undefined);
  // Issue 13: only scheme://host[:port] is ever logged.
  assert.equal(
    redactUrl("https://user:secret@node.example/v3/key?apikey=abc"),
    "https://node.example",
  );
  assert.equal(redactUrl("not a url"), "<not a URL>");
});

Deno.test("a transport error says why, without the URL's secrets", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const url =
    `http://user:s3cret@127.0.0.1:${port}/v3/0123456789abcdef0123456789abcdef?key=s3cret`;
  const e = await new RpcClient([url]).blockNumber().catch((e) => e);
  assert.ok(e instanceof RpcError);
  assert.equal(e.kind, "transport");
  assert.match(e.message, /refused/i);
  assert.doesNotMatch(e.message, /s3cret|0123456789abcdef/);
});
