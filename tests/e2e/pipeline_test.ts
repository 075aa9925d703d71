import assert from "node:assert/strict";
import { BlockTemplate } from "../../lib/template.ts";
import { Anvil } from "../_helpers/anvil.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { waitFor } from "../_helpers/net.ts";

const template = await BlockTemplate.load();
const DATA = /^DATA - 127\.0\.0\.1:(\d+) - (.*)$/;

/** Block numbers of the server's DATA lines, checking each line exactly. */
function blocksPrinted(stdout: string[]): bigint[] {
  return stdout.filter((l) => l.startsWith("DATA")).map((line) => {
    const m = DATA.exec(line);
    assert.ok(m, `malformed line: ${line.slice(0, 80)}`);
    const payload = m[2].replaceAll("\\n", "\n");
    const block = template.parse(payload);
    assert.ok(
      block !== undefined,
      `not a block document: ${line.slice(0, 80)}`,
    );
    assert.equal(
      line,
      `DATA - 127.0.0.1:${m[1]} - ${
        template.render(block).replaceAll("\n", "\\n")
      }`,
    );
    return block;
  });
}

function assertConsecutive(blocks: bigint[]) {
  for (let i = 1; i < blocks.length; i++) {
    assert.equal(
      blocks[i],
      blocks[i - 1] + 1n,
      `gap or repeat in ${blocks.join(",")}`,
    );
  }
}

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
