/**
 * Endpoint failover of the real client process: a dead first endpoint, its
 * recovery, a stale endpoint answering lower numbers, a stuck one left for
 * another, a WebSocket that drops with HTTP as fallback, and /readyz
 * failing while the head does not move.
 */
import assert from "node:assert/strict";
import { Anvil } from "../_helpers/anvil.ts";
import { assertConsecutive, blocksPrinted, range } from "../_helpers/blocks.ts";
import { FaultProxy } from "../_helpers/fault_proxy.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { RpcStub } from "../_helpers/rpc_stub.ts";

function clientArgs(port: number, rpcUrls: string[], extra: string[] = []) {
  return [
    "--host",
    `127.0.0.1:${port}`,
    "--rpc-url",
    rpcUrls.join(","),
    "--interval",
    "0.2",
    "--rpc-timeout",
    "1",
    "--rpc-cooldown",
    "1",
    "-v",
    ...extra,
  ];
}

const escape = (s: string) => s.replace(/[/.?*+()[\]]/g, "\\$&");
/** The endpoint as the client logs it: scheme://host:port only (issue 13). */
const logged = (url: string) => {
  const u = new URL(url);
  return escape(`${u.protocol}//${u.host}`);
};

function anvilThrough(proxy: FaultProxy, scheme = "http") {
  return `${scheme}://127.0.0.1:${proxy.port}`;
}

Deno.test("first --rpc-url dead, second good; the first is used again once it recovers", async () => {
  await using anvil = await Anvil.start();
  await using proxy = FaultProxy.start({ port: anvil.port });
  proxy.cut();
  const first = anvilThrough(proxy);
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [first, anvil.url]),
  );
  const printed = () => blocksPrinted(server.child.stdout);
  await waitFor(() => printed().length === 1, { what: "the first block" });
  await anvil.mine(3);
  await waitFor(() => printed().length === 4, {
    what: "3 more via the second",
  });
  assert.match(
    client.stderr.join("\n"),
    new RegExp(`Using RPC endpoint ${logged(anvil.url)}`),
  );
  proxy.restore();
  await client.waitForLine(
    new RegExp(
      `WARN .*Using RPC endpoint ${logged(first)} \\(was ${
        logged(anvil.url)
      }\\)`,
    ),
    { stream: "stderr" },
  );
  await anvil.mine(3);
  await waitFor(() => printed().length === 7, { what: "3 more via the first" });
  assert.deepEqual(printed(), range(0n, 6n));
  assert.ok(proxy.stats.forwarded > 0 && proxy.stats.refused > 0);
  assert.equal((await client.stop("SIGTERM")).code, 0);
});

Deno.test("a stale endpoint answering lower numbers never triggers a send", async () => {
  await using anvil = await Anvil.start();
  await anvil.mine(10);
  await using proxy = FaultProxy.start({ port: anvil.port });
  const first = anvilThrough(proxy);
  // A lagging load-balanced node, stuck at block 2.
  await using stale = new RpcStub({ chain: { head: 2n, step: 0n } });
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [first, stale.url]),
  );
  const printed = () => blocksPrinted(server.child.stdout);
  await waitFor(() => printed().length === 1, { what: "block 10" });
  proxy.cut();
  await anvil.mine(5);
  const answered = stale.goodAnswers;
  await waitFor(() => stale.goodAnswers >= answered + 10, {
    what: "10 answers from the stale endpoint",
  });
  assert.deepEqual(printed(), [10n], "nothing sent from the stale answers");
  assert.match(
    client.stderr.join("\n"),
    new RegExp(
      `Using RPC endpoint ${logged(stale.url)} \\(was ${logged(first)}\\)`,
    ),
  );
  proxy.restore();
  await waitFor(() => printed().length === 6, { what: "blocks 11-15" });
  assert.deepEqual(printed(), range(10n, 15n));
  assert.equal((await client.stop("SIGTERM")).code, 0);
  assert.deepEqual(printed(), range(10n, 15n));
});

Deno.test("an endpoint whose head stops moving is left for the next (--stale-after)", async () => {
  await using anvil = await Anvil.start();
  await anvil.mine(5);
  // Answers, but is stuck at the head it had when the test began.
  await using stuck = new RpcStub({ chain: { head: 5n, step: 0n } });
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [stuck.url, anvil.url], ["--stale-after", "1"]),
  );
  const printed = () => blocksPrinted(server.child.stdout);
  await waitFor(() => printed().length === 1, { what: "block 5" });
  await anvil.mine(3);
  await waitFor(() => printed().length === 4, {
    timeoutMs: 30_000,
    what: "blocks 6-8 from the second endpoint",
  });
  assert.deepEqual(printed(), range(5n, 8n));
  const log = client.stderr.join("\n");
  assert.match(log, /WARN .*No new block for 1 s \(head 5\)/);
  assert.match(log, new RegExp(`WARN .*Leaving ${logged(stuck.url)} for 1 s`));
  assert.match(log, /Head moving again at 8/);
  assert.equal((await client.stop("SIGTERM")).code, 0);
});

Deno.test("ws:// first with HTTP fallback: the socket drops, HTTP polls, the socket returns", async () => {
  await using anvil = await Anvil.start();
  await using proxy = FaultProxy.start({ port: anvil.port });
  const ws = anvilThrough(proxy, "ws");
  await using server = await startServer(["--no-store"]);
  // HTTP listed first: WebSocket endpoints still come first for heads.
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [anvil.url, ws], ["--interval", "0.3"]),
  );
  const printed = () => blocksPrinted(server.child.stdout);
  await client.waitForLine(/Subscribed to newHeads on ws:/, {
    stream: "stderr",
  });
  await anvil.mine(3);
  await waitFor(() => printed().includes(3n), { what: "blocks 1-3" });
  proxy.cut();
  await client.waitForLine(/WebSocket ws:.* closed/, { stream: "stderr" });
  await anvil.mine(3);
  await waitFor(() => printed().includes(6n), { what: "blocks 4-6 by HTTP" });
  await client.waitForLine(
    new RegExp(
      `Using RPC endpoint ${logged(anvil.url)} \\(was ${logged(ws)}\\)`,
    ),
    { stream: "stderr" },
  );
  proxy.restore();
  await waitFor(
    () =>
      client.stderr.filter((l) => /Subscribed to newHeads/.test(l)).length >= 2,
    { timeoutMs: 30_000, what: "the subscription again" },
  );
  await anvil.mine(3);
  await waitFor(() => printed().includes(9n), { what: "blocks 7-9" });
  assertConsecutive(printed());
  assert.equal(printed().at(-1), 9n);
  assert.equal((await client.stop("SIGTERM")).code, 0);
});

Deno.test("--metrics-port: /livez, /readyz failing while stale, and the counters", async () => {
  await using node = new RpcStub({ chain: { head: 40n, step: 0n } });
  await using server = await startServer(["--no-store"]);
  const port = freePort();
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [node.url], [
      "--stale-after",
      "1",
      "--metrics-port",
      String(port),
    ]),
  );
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, text: await response.text() };
  };
  const printed = () => blocksPrinted(server.child.stdout);
  await waitFor(() => printed().length === 1, { what: "block 40" });
  assert.deepEqual(await get("/livez"), { status: 200, text: "ok\n" });
  // The head does not move: after --stale-after the client is not ready.
  await waitFor(async () => (await get("/readyz")).status === 503, {
    what: "/readyz to fail",
  });
  assert.match(
    (await get("/readyz")).text,
    /^not ready: no new block for \d+ s \(head 40\)/,
  );
  node.chain.head = 43n;
  await waitFor(() => printed().length === 4, { what: "blocks 41-43" });
  await waitFor(async () => (await get("/readyz")).status === 200, {
    what: "/readyz to pass again",
  });
  const metrics = (await get("/metrics")).text;
  const value = (name: string) => {
    const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
    assert.ok(line, `no ${name}:\n${metrics}`);
    return Number(line.split(" ")[1]);
  };
  assert.equal(value("eth_client_blocks_sent_total"), 4);
  assert.equal(value("eth_client_blocks_backfilled_total"), 2);
  assert.equal(value("eth_client_blocks_skipped_total"), 0);
  assert.equal(value("eth_client_send_failures_total"), 0);
  assert.equal(value("eth_client_head_block"), 43);
  assert.equal(value("eth_client_last_sent_block"), 43);
  assert.equal(value("eth_client_stale"), 0);
  assert.ok(value("eth_client_polls_total") >= 5);
  assert.match(metrics, /# TYPE eth_client_rpc_errors_total counter/);
  assert.match(metrics, /^process_cpu_seconds_total \d/m);
  assert.match(metrics, /^process_resident_memory_bytes \d+$/m);
  assert.match(
    metrics,
    /^eth_build_info\{program="client",version="[^"]+",deno="[^"]+"\} 1$/m,
  );
  assert.equal((await client.stop("SIGTERM")).code, 0);
});
