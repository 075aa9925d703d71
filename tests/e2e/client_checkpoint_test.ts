/**
 * --state-file across client restarts on a live anvil chain: a stopped and
 * restarted client neither skips nor repeats blocks; a bad state file stops
 * it at start with a clear message.
 */
import assert from "node:assert/strict";
import { readCheckpoint } from "../../lib/client/checkpoint.ts";
import { Anvil } from "../_helpers/anvil.ts";
import { assertConsecutive, blocksPrinted } from "../_helpers/blocks.ts";
import { waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "eth_client_state_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function clientArgs(port: number, rpcUrl: string, stateFile: string) {
  return [
    "--host",
    `127.0.0.1:${port}`,
    "--rpc-url",
    rpcUrl,
    "--interval",
    "0.1",
    "--rpc-timeout",
    "2",
    "--state-file",
    stateFile,
    "-v",
  ];
}

Deno.test("SIGTERM and restart with --state-file: no block skipped, none repeated", async () => {
  await withDir(async (dir) => {
    const state = `${dir}/client.json`;
    await using anvil = await Anvil.start({ blockTime: 0.25 });
    await using server = await startServer(["--no-store"]);
    const printed = () => blocksPrinted(server.child.stdout);
    {
      await using client = runProgram(
        "client.ts",
        clientArgs(server.port, anvil.url, state),
      );
      await waitFor(() => printed().length >= 5, {
        timeoutMs: 30_000,
        what: "5 blocks",
      });
      assert.equal((await client.stop("SIGTERM")).code, 0);
    }
    const last = await readCheckpoint(state);
    await waitFor(() => printed().at(-1) === last, {
      what: "the checkpoint to match the last block printed",
    });
    const before = printed().length;
    // The chain moves on while the client is down.
    await waitFor(async () => await anvil.blockNumber() >= last! + 4n, {
      what: "4 blocks mined while stopped",
    });
    await using client = runProgram(
      "client.ts",
      clientArgs(server.port, anvil.url, state),
    );
    await waitFor(() => printed().length >= before + 8, {
      timeoutMs: 30_000,
      what: "8 more blocks",
    });
    assert.match(
      client.stderr.join("\n"),
      new RegExp(`Resuming after block ${last}`),
    );
    assertConsecutive(printed());
    assert.equal((await client.stop("SIGTERM")).code, 0);
    assertConsecutive(printed());
    assert.equal(await readCheckpoint(state), printed().at(-1));
  });
});

Deno.test("SIGKILL and restart: no block skipped; at most the one in flight repeated", async () => {
  await withDir(async (dir) => {
    const state = `${dir}/client.json`;
    await using anvil = await Anvil.start({ blockTime: 0.25 });
    await using server = await startServer(["--no-store"]);
    const printed = () => blocksPrinted(server.child.stdout);
    {
      await using client = runProgram(
        "client.ts",
        clientArgs(server.port, anvil.url, state),
      );
      await waitFor(() => printed().length >= 5, {
        timeoutMs: 30_000,
        what: "5 blocks",
      });
      await client.stop("SIGKILL");
    }
    const before = printed().length;
    await using client = runProgram(
      "client.ts",
      clientArgs(server.port, anvil.url, state),
    );
    await waitFor(() => printed().length >= before + 8, {
      timeoutMs: 30_000,
      what: "8 more blocks",
    });
    const blocks = printed();
    const unique = [...new Set(blocks)];
    assertConsecutive(unique);
    // The send and the checkpoint cannot be one atomic step: a kill between
    // them repeats that one block (the servers store it once).
    assert.ok(
      blocks.length - unique.length <= 1,
      `repeats: ${blocks.join(",")}`,
    );
    assert.equal((await client.stop("SIGTERM")).code, 0);
  });
});

Deno.test("a corrupt or unwritable --state-file stops the client at start (exit 2)", async () => {
  await withDir(async (dir) => {
    const corrupt = `${dir}/corrupt.json`;
    await Deno.writeTextFile(corrupt, "not json");
    const cases: [string, RegExp][] = [
      [
        corrupt,
        /Checkpoint .*corrupt\.json is corrupt .*fix the file or remove it/,
      ],
      [
        `${dir}/missing/state.json`,
        /Cannot write checkpoint .*missing\/state\.json/,
      ],
    ];
    for (const [path, message] of cases) {
      await using client = runProgram("client.ts", [
        "--host",
        "127.0.0.1:9",
        "--rpc-url",
        "http://127.0.0.1:9",
        "--state-file",
        path,
      ]);
      const status = await client.exited();
      assert.equal(status.code, 2, client.stderr.join("\n"));
      assert.match(client.stderr.join("\n"), message);
    }
    assert.equal(
      await Deno.readTextFile(corrupt),
      "not json",
      "left as it was",
    );
  });
});
