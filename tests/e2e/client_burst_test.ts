/**
 * Bursts mined at once with anvil_mine: every block of a burst reaches the
 * server in order, over polling and over a subscription; a burst larger
 * than --max-backfill sends exactly the newest blocks and logs the rest.
 */
import assert from "node:assert/strict";
import { Anvil } from "../_helpers/anvil.ts";
import { blocksPrinted, range } from "../_helpers/blocks.ts";
import { waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";

function clientArgs(port: number, rpcUrl: string, extra: string[] = []) {
  return [
    "--host",
    `127.0.0.1:${port}`,
    "--rpc-url",
    rpcUrl,
    "--rpc-timeout",
    "2",
    "-v",
    ...extra,
  ];
}

/**
 * An HTTP JSON-RPC forwarder to `target` whose eth_blockNumber answer can be
 * frozen, so a burst is seen by the client in one jump, never half-mined.
 */
function freezableProxy(target: string) {
  const state = { frozen: undefined as bigint | undefined, frozenAnswers: 0 };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.text();
      const call = JSON.parse(body);
      if (call.method === "eth_blockNumber" && state.frozen !== undefined) {
        state.frozenAnswers++;
        return Response.json({
          jsonrpc: "2.0",
          id: call.id,
          result: `0x${state.frozen.toString(16)}`,
        });
      }
      const answer = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      return new Response(await answer.text(), {
        status: answer.status,
        headers: { "content-type": "application/json" },
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

for (const transport of ["http", "ws"] as const) {
  Deno.test(`a burst of 50 blocks yields 50 documents in order (${transport})`, async () => {
    await using anvil = await Anvil.start();
    await anvil.mine(5);
    await using server = await startServer(["--no-store"]);
    await using client = runProgram(
      "client.ts",
      clientArgs(
        server.port,
        transport === "ws" ? anvil.wsUrl : anvil.url,
        ["--interval", transport === "ws" ? "60" : "0.2"],
      ),
    );
    await waitFor(() => blocksPrinted(server.child.stdout).length === 1, {
      what: "the current head",
    });
    await anvil.mine(50);
    await waitFor(() => blocksPrinted(server.child.stdout).length >= 51, {
      timeoutMs: 30_000,
      what: "51 blocks",
    });
    assert.deepEqual(blocksPrinted(server.child.stdout), range(5n, 55n));
    assert.equal((await client.stop("SIGTERM")).code, 0);
    assert.deepEqual(blocksPrinted(server.child.stdout), range(5n, 55n));
  });
}

Deno.test("a burst of 500 with --max-backfill 128 sends the newest 128 and logs the gap", async () => {
  await using anvil = await Anvil.start();
  await anvil.mine(3);
  await using proxy = freezableProxy(anvil.url);
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, proxy.url, [
      "--interval",
      "0.2",
      "--max-backfill",
      "128",
    ]),
  );
  await waitFor(() => blocksPrinted(server.child.stdout).length === 1, {
    what: "block 3",
  });
  proxy.state.frozen = 3n;
  await anvil.mine(500);
  assert.equal(await anvil.blockNumber(), 503n);
  const seen = proxy.state.frozenAnswers;
  await waitFor(() => proxy.state.frozenAnswers > seen, { what: "a poll" });
  proxy.state.frozen = undefined;
  await waitFor(() => blocksPrinted(server.child.stdout).includes(503n), {
    timeoutMs: 30_000,
    what: "block 503",
  });
  assert.equal((await client.stop("SIGTERM")).code, 0);
  assert.deepEqual(
    blocksPrinted(server.child.stdout),
    [3n, ...range(376n, 503n)],
  );
  assert.match(
    client.stderr.join("\n"),
    /Gap of 500 blocks exceeds --max-backfill 128: skipping 4\.\.375, sending 376\.\.503/,
  );
});
