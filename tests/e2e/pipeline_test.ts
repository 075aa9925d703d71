import assert from "node:assert/strict";
import { assertConsecutive, blocksPrinted } from "../_helpers/blocks.ts";
import { Anvil } from "../_helpers/anvil.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { waitFor } from "../_helpers/net.ts";

Deno.test("anvil → client → server: blocks arrive, survive an anvil restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using anvil = await Anvil.start({
      blockTime: 1,
      state: `${dir}/chain.json`,
    });
    await using server = await startServer(["--no-store"]);
    await using client = runProgram("client.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--rpc-url",
      anvil.url,
      "--interval",
      "0.3",
      "--rpc-timeout",
      "0.5",
    ]);
    await waitFor(() => blocksPrinted(server.child.stdout).length >= 3, {
      timeoutMs: 30_000,
      what: "3 blocks",
    });
    const before = blocksPrinted(server.child.stdout);
    assertConsecutive(before);

    // The node goes away: the client keeps running and logs the errors.
    await anvil.stop();
    await waitFor(
      () => client.stderr.some((l) => /Poll failed \(transport\)/.test(l)),
      {
        what: "a logged poll failure",
      },
    );
    assert.equal(client.status, undefined, "client must survive the outage");
    const seen = blocksPrinted(server.child.stdout).length;

    // It comes back with its chain: the client resumes sending.
    await anvil.restart();
    await waitFor(() => blocksPrinted(server.child.stdout).length >= seen + 2, {
      timeoutMs: 30_000,
      what: "blocks after the restart",
    });
    assert.equal(client.status, undefined);
    assert.ok(client.stderr.some((l) => /RPC healthy again/.test(l)));
    const all = blocksPrinted(server.child.stdout);
    assertConsecutive(all);
    assert.equal(new Set(all).size, all.length, "no block printed twice");

    // SIGTERM stops both promptly with status 0.
    assert.equal((await client.stop("SIGTERM")).code, 0);
    assert.equal((await server.child.stop("SIGTERM")).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
