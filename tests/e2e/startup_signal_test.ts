/**
 * A SIGTERM that arrives as soon as the server starts replaying its spool
 * stops it like any other: exit 0, "Stopped", the rest kept in the spool.
 * (A SIGTERM in that window was once lost, found by ack_crash_test.ts; the
 * window itself is covered deterministically by tests/server/ingest_test.ts.)
 */
import assert from "node:assert/strict";
import { sendDocument } from "../../lib/client/sender.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";

const template = await BlockTemplate.load();

Deno.test("a SIGTERM during start-up stops the server cleanly", async () => {
  const spool = await Deno.makeTempDir({ prefix: "eth-spool-" });
  // MySQL is down (nothing listens there), so what is acknowledged stays in
  // the spool, and the next start has it to replay.
  const down = ["--use-mysql", "--mysql-host", "127.0.0.1", "--mysql-port"];
  const args = [...down, String(freePort()), "--mysql-user", "eth"];
  args.push("--mysql-db", "eth", "--store-flush-timeout", "0.5");
  const env = { ETH_SERVER_SPOOL_DIR: spool };
  try {
    {
      await using first = await startServer(args, env);
      for (let block = 1n; block <= 20n; block++) {
        const delivery = await sendDocument(
          { host: "127.0.0.1", port: first.port },
          template.render(block),
          { ack: "required", timeoutMs: 2000 },
        );
        assert.equal(delivery, "ok");
      }
      await first.child.stop("SIGKILL");
    }
    const port = freePort();
    const second = runProgram("server.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...args,
    ], env);
    // The replay line comes from inside start-up, before the listener.
    await second.waitForLine(/20 documents from the spool to write/, {
      stream: "stderr",
    });
    const status = await second.stop("SIGTERM");
    assert.equal(status.code, 0, second.stderr.join("\n"));
    assert.ok(second.stderr.some((l) => /Stopped/.test(l)));
    await waitFor(() => second.status !== undefined);
  } finally {
    await Deno.remove(spool, { recursive: true });
  }
});
