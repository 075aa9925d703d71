/**
 * `deno task devnet` (scripts/devnet.ts): the printed ETH_RPC_URL drives a
 * real client with no other setup, and Ctrl-C stops the chain.
 */
import assert from "node:assert/strict";
import { assertConsecutive, blocksPrinted } from "../_helpers/blocks.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";

Deno.test("devnet prints an ETH_RPC_URL the client follows, and stops on SIGINT", async () => {
  const port = freePort();
  await using devnet = runProgram("scripts/devnet.ts", [
    "--port",
    String(port),
    "--block-time",
    "0.25",
  ]);
  const line = await devnet.waitForLine(/^export ETH_RPC_URL=/, {
    timeoutMs: 120_000,
  });
  const url = line.slice("export ETH_RPC_URL=".length);
  assert.equal(url, `http://127.0.0.1:${port}`);
  // The next line may come in a later chunk of output: wait for it too.
  const ws = await devnet.waitForLine(/^# or, for a newHeads subscription/);
  assert.equal(
    ws,
    `# or, for a newHeads subscription: export ETH_RPC_URL=ws://127.0.0.1:${port}`,
  );
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    ["--host", "127.0.0.1", "--port", String(server.port), "--interval", "0.2"],
    { ETH_RPC_URL: url },
  );
  await waitFor(() => blocksPrinted(server.child.stdout).length >= 4, {
    timeoutMs: 30_000,
    what: "4 blocks from the devnet",
  });
  assertConsecutive(blocksPrinted(server.child.stdout));
  assert.equal((await client.stop("SIGTERM")).code, 0);
  assert.equal((await devnet.stop("SIGINT")).code, 0);
  await assert.rejects(
    fetch(url, { method: "POST", body: "{}" }),
    "anvil stopped with the devnet",
  );
});

Deno.test("devnet refuses a port that is already taken (exit 2)", async () => {
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using devnet = runProgram("scripts/devnet.ts", [
    "--port",
    String(busy.addr.port),
  ]);
  assert.equal((await devnet.exited()).code, 2);
  assert.match(devnet.stderr.join("\n"), /Cannot listen on 127\.0\.0\.1:\d+/);
  assert.deepEqual(devnet.stdout, []);
});
