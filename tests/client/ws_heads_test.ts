import assert from "node:assert/strict";
import { abortableSleep } from "../../lib/shared/async.ts";
import { RpcError } from "../../lib/shared/jsonrpc.ts";
import { WsHeads } from "../../lib/client/ws_heads.ts";
import { waitFor } from "../_helpers/net.ts";

const SUBSCRIPTION = "0x9ce59a13059e417087c02d3236a0b1cc";
const hex = (n: bigint) => `0x${n.toString(16)}`;

/** A WebSocket JSON-RPC endpoint on 127.0.0.1 that tests steer. */
class WsStub implements AsyncDisposable {
  /** What eth_blockNumber answers. */
  head: bigint;
  /** Answer the upgrade with HTTP 503. */
  refuse = false;
  /** Answer eth_subscribe with a JSON-RPC error. */
  subscribeError = false;
  /** Never answer eth_blockNumber. */
  silent = false;
  /** Methods asked, in order. */
  readonly requests: string[] = [];
  readonly sockets = new Set<WebSocket>();
  readonly #subscribed = new Set<WebSocket>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  upgrades = 0;

  constructor(head = 100n) {
    this.head = head;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => {
        this.upgrades++;
        if (this.refuse) return new Response("busy", { status: 503 });
        const { socket, response } = Deno.upgradeWebSocket(request);
        this.sockets.add(socket);
        socket.onclose = () => {
          this.sockets.delete(socket);
          this.#subscribed.delete(socket);
        };
        socket.onmessage = (event) => this.#answer(socket, event.data);
        return response;
      },
    );
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Pushes a newHeads notification to every subscriber. */
  notify(head: bigint, subscription = SUBSCRIPTION) {
    this.raw(JSON.stringify({
      jsonrpc: "2.0",
      method: "eth_subscription",
      params: { subscription, result: { number: hex(head), hash: "0x00" } },
    }));
  }

  /** Sends a raw message on every open socket. */
  raw(data: string | Uint8Array) {
    for (const socket of this.sockets) {
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
    }
  }

  /** Closes every socket from the server side. */
  dropAll() {
    for (const socket of this.sockets) socket.close(1001, "going away");
  }

  #answer(socket: WebSocket, data: unknown) {
    const request = JSON.parse(String(data));
    this.requests.push(request.method);
    const reply = (body: Record<string, unknown>) =>
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: request.id, ...body }));
    if (request.method === "eth_subscribe") {
      if (this.subscribeError) {
        reply({
          error: { code: -32601, message: "subscriptions unsupported" },
        });
        return;
      }
      this.#subscribed.add(socket);
      reply({ result: SUBSCRIPTION });
    } else if (request.method === "eth_blockNumber") {
      if (!this.silent) reply({ result: hex(this.head) });
    }
  }

  async [Symbol.asyncDispose]() {
    this.dropAll();
    await waitFor(() => this.sockets.size === 0, {
      what: "stub sockets closed",
    });
    await this.#server.shutdown();
  }
}

/**
 * Runs a WsHeads on a fake clock that each sleep advances (after a real
 * 5 ms, so reconnect loops never spin), recording heads and connects.
 */
function follow(
  urls: string[],
  { timeoutMs = 2000, cooldownMs = 10_000 } = {},
) {
  let now = 1_000_000;
  const controller = new AbortController();
  const heads: bigint[] = [];
  const from: string[] = [];
  const connects: string[] = [];
  const slept: number[] = [];
  const ws = new WsHeads(urls, {
    signal: controller.signal,
    timeoutMs,
    cooldownMs,
    now: () => now,
    random: () => 1,
    sleep: (ms, signal) => {
      slept.push(ms);
      now += Number.isFinite(ms) ? ms : 0;
      return abortableSleep(5, signal);
    },
    onHead: (head, url) => {
      heads.push(head);
      from.push(url);
    },
    onConnect: (url) => connects.push(url),
  });
  const running = ws.run();
  return {
    ws,
    heads,
    from,
    connects,
    slept,
    [Symbol.asyncDispose]: async () => {
      controller.abort();
      await running;
    },
  };
}

Deno.test("subscribes first, catches up once, then delivers each notification", async () => {
  await using stub = new WsStub(100n);
  await using f = follow([stub.url]);
  await f.ws.firstAttempt;
  assert.equal(f.ws.connected, true);
  await waitFor(() => f.heads.length === 1, { what: "the catch-up head" });
  assert.deepEqual(stub.requests, ["eth_subscribe", "eth_blockNumber"]);
  for (const head of [101n, 102n, 103n]) stub.notify(head);
  await waitFor(() => f.heads.length === 4, { what: "3 notifications" });
  assert.deepEqual(f.heads, [100n, 101n, 102n, 103n]);
  assert.deepEqual(f.connects, [stub.url]);
  assert.equal(f.ws.connected, true);
  assert.equal(f.ws.current, stub.url);
  stub.head = 103n;
  assert.equal(await f.ws.blockNumber(), 103n);
  assert.deepEqual(f.ws.stats, {
    connects: 1,
    disconnects: 0,
    heads: 4,
    errors: {},
  });
});

Deno.test("a dropped socket is reconnected with growing backoff, then caught up", async () => {
  await using stub = new WsStub(100n);
  await using f = follow([stub.url]);
  await waitFor(() => f.heads.length === 1, { what: "the first head" });
  stub.refuse = true;
  stub.dropAll();
  await waitFor(() => stub.upgrades >= 4, { what: "3 refused reconnects" });
  assert.equal(f.ws.connected, false);
  await assert.rejects(
    f.ws.blockNumber(),
    (e) => e instanceof RpcError && e.kind === "transport",
  );
  // Blocks mined while disconnected: the catch-up after reconnecting finds them.
  stub.head = 105n;
  stub.refuse = false;
  await waitFor(() => f.heads.includes(105n), { what: "the catch-up" });
  assert.deepEqual(f.slept.slice(0, 3), [250, 500, 1000]);
  assert.equal(f.ws.stats.connects, 2);
  assert.equal(f.ws.stats.disconnects, 1);
  assert.ok(
    (f.ws.stats.errors.transport ?? 0) >= 3,
    JSON.stringify(f.ws.stats),
  );
  stub.notify(106n);
  await waitFor(() => f.heads.includes(106n), { what: "notifications again" });
});

Deno.test("fails over down the ranking and returns to the first once it heals", async () => {
  await using first = new WsStub(200n);
  await using second = new WsStub(200n);
  first.refuse = true;
  await using f = follow([first.url, second.url]);
  await waitFor(() => f.connects.length === 1, { what: "a subscription" });
  assert.deepEqual(f.connects, [second.url]);
  first.refuse = false;
  await waitFor(() => f.connects.length === 2, { what: "the switch back" });
  assert.deepEqual(f.connects, [second.url, first.url]);
  await waitFor(() => second.sockets.size === 0, { what: "the second closed" });
  assert.equal(f.ws.current, first.url);
  first.notify(201n);
  await waitFor(() => f.heads.includes(201n), {
    what: "a head from the first",
  });
  assert.equal(f.from.at(-1), first.url);
  assert.equal(f.ws.stats.disconnects, 0, "a switch is not a disconnect");
});

Deno.test("an endpoint that refuses eth_subscribe is skipped", async () => {
  await using first = new WsStub(7n);
  await using second = new WsStub(7n);
  first.subscribeError = true;
  await using f = follow([first.url, second.url]);
  await waitFor(() => f.heads.length === 1, { what: "a head" });
  assert.deepEqual(f.connects, [second.url]);
  assert.ok((f.ws.stats.errors.rpc ?? 0) >= 1);
  // Closed by the client; the stub hears of it a moment later.
  await waitFor(() => first.sockets.size === 0, {
    what: "the refusing socket closed",
  });
});

Deno.test("malformed messages are counted and skipped; the socket stays", async () => {
  await using stub = new WsStub(100n);
  await using f = follow([stub.url]);
  await waitFor(() => f.heads.length === 1, { what: "the first head" });
  stub.raw("garbage");
  stub.raw("[1,2]");
  stub.raw(new Uint8Array([1, 2, 3]));
  stub.raw(JSON.stringify({ jsonrpc: "2.0", id: 999, result: "0x1" }));
  stub.raw(JSON.stringify({
    jsonrpc: "2.0",
    method: "eth_subscription",
    params: { subscription: SUBSCRIPTION, result: { number: "xyz" } },
  }));
  stub.raw(JSON.stringify({
    jsonrpc: "2.0",
    method: "eth_subscription",
    params: { subscription: SUBSCRIPTION, result: null },
  }));
  stub.notify(999n, "0xother"); // someone else's subscription: not ours
  stub.notify(101n);
  await waitFor(() => f.heads.length === 2, { what: "the good notification" });
  assert.deepEqual(f.heads, [100n, 101n]);
  assert.deepEqual(f.ws.stats.errors, { json: 4, result: 2 });
  assert.equal(f.ws.stats.disconnects, 0);
  assert.equal(f.ws.connected, true);
});

Deno.test("a heartbeat that times out drops the socket, which is reopened", async () => {
  await using stub = new WsStub(100n);
  await using f = follow([stub.url], { timeoutMs: 300 });
  await waitFor(() => f.heads.length === 1, { what: "the first head" });
  stub.silent = true;
  await assert.rejects(
    f.ws.blockNumber(),
    (e) => e instanceof RpcError && e.kind === "timeout",
  );
  await waitFor(() => f.ws.stats.disconnects === 1, { what: "the drop" });
  stub.silent = false;
  await waitFor(() => f.ws.stats.connects === 2 && f.ws.connected, {
    what: "the reconnect",
  });
  assert.equal(f.ws.stats.errors.timeout, 1);
});

Deno.test("a connect that hangs times out", async () => {
  // Accepts TCP and never answers the HTTP upgrade.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  try {
    await using f = follow([`ws://127.0.0.1:${listener.addr.port}`], {
      timeoutMs: 200,
    });
    await waitFor(() => (f.ws.stats.errors.timeout ?? 0) >= 2, {
      what: "two connect timeouts",
    });
    assert.equal(f.ws.connected, false);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of conns) conn.close();
  }
});

Deno.test("markDown leaves a working endpoint for the cool-down, then returns", async () => {
  await using first = new WsStub(50n);
  await using second = new WsStub(50n);
  await using f = follow([first.url, second.url], { cooldownMs: 10_000 });
  await waitFor(() => f.connects.length === 1, { what: "a subscription" });
  f.ws.markDown("no new block for 60 s");
  await waitFor(() => f.connects.length === 3, { what: "away and back" });
  assert.deepEqual(f.connects, [first.url, second.url, first.url]);
  assert.ok(f.slept.includes(10_000), `slept ${f.slept}`);
});

Deno.test("with no endpoint reachable, run() keeps trying and stops on abort", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${listener.addr.port}`;
  listener.close();
  await using f = follow([url]);
  await f.ws.firstAttempt; // resolves although the attempt failed
  assert.equal(f.ws.connected, false);
  await waitFor(() => (f.ws.stats.errors.transport ?? 0) >= 3, {
    what: "3 failed connects",
  });
  assert.equal(f.connects.length, 0);
});
