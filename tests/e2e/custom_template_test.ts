import assert from "node:assert/strict";
import { Anvil } from "../_helpers/anvil.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { sendRaw, waitFor } from "../_helpers/net.ts";
import { encodeNetstring } from "../../lib/shared/netstring.ts";

Deno.test("--template on client and server: custom documents flow, others are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const template = `${dir}/mini.eta`;
    await Deno.writeTextFile(template, "<block>\n  <%= it.block %>\n</block>");
    await using anvil = await Anvil.start();
    await anvil.mine(7);
    await using server = await startServer([
      "--no-store",
      "--template",
      template,
    ]);
    // A default-template document is not a rendering of the custom template.
    await sendRaw(
      server.port,
      encodeNetstring((await Deno.readTextFile("templates/block.eta")).replace(
        "<%= it.block %>",
        "7",
      )),
    );
    await server.child.waitForLine(/not a block document/, {
      stream: "stderr",
    });
    await using client = runProgram("client.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--rpc-url",
      anvil.url,
      "--interval",
      "0.2",
      "--template",
      template,
    ]);
    const line = await server.child.waitForLine(/^DATA/);
    assert.match(
      line,
      /^DATA - 127\.0\.0\.1:\d+ - <block>\\n {2}7\\n<\/block>$/,
    );
    await waitFor(() => server.child.stdout.length === 1);
    assert.equal(
      server.child.stdout.filter((l) => l.startsWith("DATA")).length,
      1,
    );
    await client.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a template that cannot be read stops a program with a clear error", async () => {
  const child = runProgram("server.ts", [
    "--no-store",
    "--port",
    "0",
    "--template",
    "/nonexistent.eta",
  ]);
  const status = await child.exited();
  assert.notEqual(status.code, 0);
  assert.ok(
    child.stderr.some((l) => /Cannot read template \/nonexistent\.eta/.test(l)),
    child.stderr.join("\n"),
  );
});
