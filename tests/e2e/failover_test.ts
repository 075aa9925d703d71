/**
 * Server failover: two client processes send to two server processes through
 * their --host lists; one server is SIGKILLed mid-run. The clients carry on
 * with the other, and no block is lost fleet-wide: every block each client
 * reports as sent is printed by the server it names, and the blocks printed
 * by both servers together have no gap.
 */
import assert from "node:assert/strict";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { RpcStub } from "../_helpers/rpc_stub.ts";

const template = await BlockTemplate.load();

/** Blocks a server printed, by block. */
function printed(stdout: string[]): Set<bigint> {
  const out = new Set<bigint>();
  for (const line of stdout) {
    const m = /^DATA - 127\.0\.0\.1:\d+ - (.*)$/.exec(line);
    assert.ok(m, `unexpected stdout line: ${line.slice(0, 80)}`);
    const block = template.parse(m[1].replaceAll("\\n", "\n"));
    assert.ok(block !== undefined, `not a document: ${line.slice(0, 80)}`);
    assert.ok(!out.has(block), `block ${block} printed twice by one server`);
    out.add(block);
  }
  return out;
}

/** `Block N sent to host:port` lines of a client's -v log. */
function reportedSent(stderr: string[]): [bigint, number][] {
  return stderr.flatMap((l) => {
    const m = / Block (\d+) sent to 127\.0\.0\.1:(\d+)$/.exec(l);
    return m ? [[BigInt(m[1]), Number(m[2])] as [bigint, number]] : [];
  });
}

Deno.test("SIGKILL of one of two servers loses no block fleet-wide", async () => {
  // Each client follows its own chain, one block per poll.
  await using rpc1 = new RpcStub({ chain: { head: 10_000n, step: 1n } });
  await using rpc2 = new RpcStub({ chain: { head: 90_000n, step: 1n } });
  await using a = await startServer(["--no-store"]);
  await using b = await startServer(["--no-store"]);
  const hosts = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
  const client = (url: string) =>
    runProgram("client.ts", [
      "--host",
      hosts,
      "--rpc-url",
      url,
      "--interval",
      "0.1",
      "--timeout",
      "0.5",
      "-v",
    ]);
  await using c1 = client(rpc1.url);
  await using c2 = client(rpc2.url);
  const ranges: [bigint, bigint][] = [[10_000n, 90_000n], [90_000n, 200_000n]];
  const count = (set: Set<bigint>, [lo, hi]: [bigint, bigint]) =>
    [...set].filter((x) => x >= lo && x < hi).length;

  // Both servers get documents from both clients (the list rotates).
  await waitFor(
    () => {
      const pa = printed(a.child.stdout);
      const pb = printed(b.child.stdout);
      return ranges.every((r) => count(pa, r) >= 5 && count(pb, r) >= 5);
    },
    { what: "both servers serving both clients", timeoutMs: 30_000 },
  );

  await a.child.stop("SIGKILL");
  const onA = printed(a.child.stdout);
  const onBAtKill = printed(b.child.stdout);

  // The clients carry on with the survivor alone.
  await waitFor(
    () => {
      const pb = printed(b.child.stdout);
      return ranges.every((r) => count(pb, r) >= count(onBAtKill, r) + 30);
    },
    { what: "30 more blocks per client on the survivor", timeoutMs: 30_000 },
  );
  for (const c of [c1, c2]) {
    assert.equal((await c.stop("SIGTERM")).code, 0);
  }
  const onB = printed(b.child.stdout);

  for (const [i, c] of [c1, c2].entries()) {
    // Every block the client counted as delivered is on the server it named.
    const sent = reportedSent(c.stderr);
    assert.ok(sent.length >= 40);
    for (const [block, port] of sent) {
      const on = port === a.port ? onA : onB;
      assert.ok(
        on.has(block),
        `block ${block} reported sent to ${port}, not printed`,
      );
    }
    // Together the servers hold every block from the first to the last.
    const all = [...onA, ...onB].filter((x) =>
      x >= ranges[i][0] && x < ranges[i][1]
    )
      .sort((x, y) => x < y ? -1 : 1);
    for (let k = 1; k < all.length; k++) {
      assert.ok(all[k] - all[k - 1] <= 1n, `gap after block ${all[k - 1]}`);
    }
    const last = sent.at(-1)![0];
    assert.equal(all.at(-1), last);
    assert.match(c.stderr.join("\n"), /trying the next server/);
  }
  console.log(
    `failover: ${onA.size} blocks on the killed server, ${onB.size} on the ` +
      `survivor, ${
        reportedSent(c1.stderr).length + reportedSent(c2.stderr).length
      } reported sent, none missing`,
  );
});
