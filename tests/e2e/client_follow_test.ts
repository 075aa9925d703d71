/**
 * The real client process against a real anvil chain and real servers:
 * polling and newHeads subscription both deliver every block in order,
 * backfill fills the gaps between polls, and several --host rotate.
 */
import assert from "node:assert/strict";
import { Anvil } from "../_helpers/anvil.ts";
import { assertConsecutive, blocksPrinted, range } from "../_helpers/blocks.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";

function clientArgs(hosts: string[], rpcUrls: string[], extra: string[] = []) {
  return [
    ...hosts.flatMap((h) => ["--host", h]),
    "--rpc-url",
    rpcUrls.join(","),
    "--rpc-timeout",
    "2",
    "-v",
    ...extra,
  ];
}

/** Reads one counter or gauge from the client's /metrics. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no ${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

Deno.test("HTTP polling delivers every block of a live chain, in order", async () => {
  await using anvil = await Anvil.start({ blockTime: 0.25 });
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs([`127.0.0.1:${server.port}`], [anvil.url], [
      "--interval",
      "0.1",
    ]),
  );
  await waitFor(() => blocksPrinted(server.child.stdout).length >= 12, {
    timeoutMs: 30_000,
    what: "12 blocks",
  });
  const blocks = blocksPrinted(server.child.stdout);
  assertConsecutive(blocks);
  assert.ok(blocks.at(-1)! <= await anvil.blockNumber());
  assert.match(client.stderr.join("\n"), /Polling http:\/\/127\.0\.0\.1/);
  assert.equal((await client.stop("SIGTERM")).code, 0);
});

Deno.test("a ws:// endpoint: each head arrives by newHeads subscription, in order", async () => {
  await using anvil = await Anvil.start({ blockTime: 0.25 });
  await using server = await startServer(["--no-store"]);
  // Polls (heartbeats) every 60 s: the blocks can only come by subscription.
  await using client = runProgram(
    "client.ts",
    clientArgs([`127.0.0.1:${server.port}`], [anvil.wsUrl], [
      "--interval",
      "60",
    ]),
  );
  await waitFor(() => blocksPrinted(server.child.stdout).length >= 12, {
    timeoutMs: 30_000,
    what: "12 blocks",
  });
  assertConsecutive(blocksPrinted(server.child.stdout));
  const log = client.stderr.join("\n");
  assert.match(log, /Subscribed to newHeads on ws:\/\/127\.0\.0\.1/);
  assert.match(log, /Using RPC endpoint ws:\/\/127\.0\.0\.1/);
  assert.equal((await client.stop("SIGTERM")).code, 0);
});

Deno.test("--interval longer than the block time: backfill sends every block exactly once", async () => {
  await using anvil = await Anvil.start({ blockTime: 0.2 });
  await using server = await startServer(["--no-store"]);
  const metricsPort = freePort();
  await using client = runProgram(
    "client.ts",
    clientArgs([`127.0.0.1:${server.port}`], [anvil.url], [
      "--interval",
      "1.5",
      "--metrics-port",
      String(metricsPort),
    ]),
  );
  await waitFor(() => blocksPrinted(server.child.stdout).length >= 16, {
    timeoutMs: 30_000,
    what: "16 blocks",
  });
  const blocks = blocksPrinted(server.child.stdout);
  assertConsecutive(blocks);
  // Several blocks per poll: most of them came by backfill.
  const backfilled = await metric(
    metricsPort,
    "eth_client_blocks_backfilled_total",
  );
  const sent = await metric(metricsPort, "eth_client_blocks_sent_total");
  assert.ok(sent >= blocks.length, `sent ${sent} < ${blocks.length}`);
  assert.ok(backfilled >= sent / 2, `only ${backfilled} of ${sent} backfilled`);
  assert.equal(await metric(metricsPort, "eth_client_blocks_skipped_total"), 0);
  assert.equal((await client.stop("SIGTERM")).code, 0);
});

Deno.test("several --host: documents rotate, a refusing server is skipped for the next", async () => {
  await using anvil = await Anvil.start();
  await using first = await startServer(["--no-store"]);
  await using second = await startServer(["--no-store"]);
  const dead = freePort();
  await using client = runProgram(
    "client.ts",
    clientArgs(
      [`127.0.0.1:${first.port},127.0.0.1:${dead}`, `127.0.0.1:${second.port}`],
      [anvil.url],
      ["--interval", "0.2"],
    ),
  );
  const all = () => [
    ...blocksPrinted(first.child.stdout),
    ...blocksPrinted(second.child.stdout),
  ];
  await waitFor(() => all().length === 1, { what: "the first block" });
  await anvil.mine(9);
  await waitFor(() => all().length >= 10, { what: "10 blocks" });
  assert.deepEqual(all().sort((a, b) => Number(a - b)), range(0n, 9n));
  // first, (dead →) second, first, (dead →) second, ...
  assert.deepEqual(blocksPrinted(first.child.stdout), [0n, 2n, 4n, 6n, 8n]);
  assert.deepEqual(blocksPrinted(second.child.stdout), [1n, 3n, 5n, 7n, 9n]);
  assert.match(
    client.stderr.join("\n"),
    new RegExp(
      `Cannot send to 127\\.0\\.0\\.1:${dead}.*trying the next server`,
    ),
  );
  assert.equal((await client.stop("SIGTERM")).code, 0);
});
