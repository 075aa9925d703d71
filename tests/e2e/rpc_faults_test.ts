/**
 * RPC faults: a local endpoint answers every bad shape in turn, then good
 * answers. The poll loop (in-process, over real HTTP, with a fake clock so
 * backoff is checked exactly) and the real client process must never crash,
 * never send a bogus block, back off with jitter honouring Retry-After, fail
 * over to the next --rpc-url and resume within one interval once healed.
 */
import assert from "node:assert/strict";
import { BlockFollower } from "../../lib/client/follower.ts";
import { HeadGuard } from "../../lib/client/head_guard.ts";
import { newPollerStats, pollHeads } from "../../lib/client/poller.ts";
import { RpcClient } from "../../lib/shared/rpc.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { type RpcFault, RpcStub } from "../_helpers/rpc_stub.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { waitFor } from "../_helpers/net.ts";

const template = await BlockTemplate.load();

/** Every bad answer, with the error kind the poller must record for it. */
const FAULTS: [RpcFault, string][] = [
  [{ kind: "hang" }, "timeout"],
  [{ kind: "drop" }, "transport"],
  [{ kind: "refuse" }, "transport"],
  [{ kind: "truncated" }, "transport"],
  [{ kind: "http", status: 429, headers: { "retry-after": "1" } }, "http"],
  [{ kind: "http", status: 503, headers: { "retry-after": "junk" } }, "http"],
  [{
    kind: "http",
    status: 500,
    headers: { "content-type": "text/html" },
    body: "<html><body>Internal error</body></html>",
  }, "http"],
  [{
    kind: "http",
    status: 200,
    headers: { "content-type": "text/html" },
    body: "<!doctype html><html><p>Cloudflare says hi</p></html>",
  }, "json"],
  [{ kind: "http", status: 200, body: "" }, "json"],
  [{ kind: "http", status: 200, body: "[1,2,3]" }, "json"],
  [{ kind: "http", status: 200, body: "null" }, "json"],
  [{ kind: "rpc_error", code: -32000, message: "header not found" }, "rpc"],
  [{
    kind: "http",
    status: 200,
    body: '{"jsonrpc":"2.0","id":1,"error":"boom"}',
  }, "rpc"],
  [{ kind: "no_result" }, "result"],
  [{ kind: "result", result: null }, "result"],
  [{ kind: "result", result: "0xzz" }, "result"],
  [{ kind: "result", result: "0x" }, "result"],
  [{ kind: "result", result: "1234" }, "result"],
  [{ kind: "result", result: 1234 }, "result"],
  [{ kind: "result", result: { head: "0x10" } }, "result"],
  [{ kind: "result", result: `0x${"f".repeat(64)}` }, "result"],
  [{ kind: "result", result: "-0x1" }, "result"],
];
/** Heads that are well-formed but must not be followed. */
const LIES: RpcFault[] = [
  { kind: "head", head: 50n },
  { kind: "head", head: 0n },
  { kind: "head", head: 10n ** 12n },
  { kind: "head", head: 2n ** 64n - 1n },
];
const RETRY_AFTER_MS = 1000;

/** A clock that only moves when the loop sleeps, and recorded sleeps. */
function fakeTime(onSleep: (ms: number) => void) {
  let t = 1_000_000;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      onSleep(ms);
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

type Outcome = "error" | "held" | "passed";

/**
 * Runs the client's poll wiring (RpcClient → HeadGuard → BlockFollower) on a
 * fake clock until `enough` says so. Returns what was sent, each poll's
 * outcome and sleep, and the poller's stats.
 */
async function runLoop(
  rpc: RpcClient,
  { interval, enough, now, randoms = [0.5] }: {
    interval: number;
    enough: () => boolean;
    now?: () => number;
    randoms?: number[];
  },
) {
  const controller = new AbortController();
  const sleeps: number[] = [];
  const time = fakeTime((ms) => {
    sleeps.push(ms);
    if (enough()) controller.abort();
  });
  const clock = now ?? time.now;
  const outcomes: Outcome[] = [];
  const sent: bigint[] = [];
  const guard = new HeadGuard();
  const follower = new BlockFollower({
    send: (block) => {
      // What would go on the wire must be a document the server accepts.
      assert.equal(template.parse(template.render(block)), block);
      sent.push(block);
      return Promise.resolve();
    },
  });
  const stats = newPollerStats(clock());
  let r = 0;
  await pollHeads({
    fetchHead: async (s) => {
      try {
        return await rpc.blockNumber(s);
      } catch (error) {
        outcomes.push("error");
        throw error;
      }
    },
    onHead: (head) => {
      const believed = guard.check(head);
      outcomes.push(believed === undefined ? "held" : "passed");
      return believed === undefined
        ? Promise.resolve(false)
        : follower.advance(believed);
    },
    intervalMs: interval,
    signal: controller.signal,
    stats,
    now: time.now,
    sleep: time.sleep,
    random: () => randoms[r++ % randoms.length],
  });
  return { sent, outcomes, sleeps, stats, guard };
}

function range(from: bigint, to: bigint): bigint[] {
  const out = [];
  for (let b = from; b <= to; b++) out.push(b);
  return out;
}

Deno.test("poll loop over real HTTP: every fault survived, backoff exact, no bogus block", async () => {
  const interval = 2000;
  await using stub = new RpcStub({
    script: [
      { kind: "head", head: 100n },
      { kind: "head", head: 101n },
      ...FAULTS.map(([f]) => f),
      ...LIES,
    ],
    chain: { head: 102n, step: 1n },
  });
  const randoms = [0, 0.25, 0.5, 0.75, 0.999];
  const rpc = new RpcClient([stub.url], { timeoutMs: 300 });
  const { sent, outcomes, sleeps, stats, guard } = await runLoop(rpc, {
    interval,
    randoms,
    enough: () => stub.goodAnswers >= 5,
  });

  // The real chain only, in order, once each: the first head waits for a
  // second answer, lower heads send nothing, far-ahead heads are dropped.
  assert.deepEqual(sent, range(101n, 106n));
  assert.deepEqual(guard.stats, { held: 3, discarded: 2 });

  const expected: Record<string, number> = {};
  for (const [, kind] of FAULTS) expected[kind] = (expected[kind] ?? 0) + 1;
  assert.deepEqual(stats.errors, expected);
  assert.equal(stub.requests.length, outcomes.length);
  for (let i = 0; i < FAULTS.length; i++) {
    assert.equal(outcomes[2 + i], "error", `fault ${i} must be an error`);
  }

  // Backoff doubles from 250 ms up to the interval, jittered to
  // [base/2, base) by the injected random; Retry-After wins when longer; a
  // held head is re-polled after the first backoff step.
  let failures = 0;
  let rand = 0;
  for (let i = 0; i < outcomes.length; i++) {
    let want = interval;
    if (outcomes[i] === "error") {
      failures++;
      const base = Math.min(interval, 250 * 2 ** (failures - 1));
      want = base / 2 + randoms[rand++ % randoms.length] * base / 2;
      const fault = FAULTS[i - 2]?.[0];
      if (fault?.kind === "http" && fault.headers?.["retry-after"] === "1") {
        want = Math.max(want, RETRY_AFTER_MS);
      }
    } else {
      failures = 0;
      if (outcomes[i] === "held") {
        want = 125 + randoms[rand++ % randoms.length] * 125;
      }
    }
    assert.equal(sleeps[i], want, `sleep after poll ${i} (${outcomes[i]})`);
  }
  assert.ok(new Set(sleeps).size > 5, "jitter must vary the delays");
  // Healing is noticed within one interval: only Retry-After waits longer.
  assert.ok(sleeps.every((ms) => ms <= interval || ms === RETRY_AFTER_MS));
});

Deno.test("poll loop fails over to the next endpoint and returns when it heals", async () => {
  const chain = { head: 100n, step: 1n };
  await using a = new RpcStub({ script: FAULTS.map(([f]) => f), chain });
  await using b = new RpcStub({ chain });
  const switches: string[] = [];
  const rpc = new RpcClient([a.url, b.url], {
    timeoutMs: 300,
    // Retry the preferred endpoint on every poll, to walk through its faults.
    cooldownMs: 0,
    onSwitch: (url) => switches.push(url),
  });
  const { sent, sleeps, stats } = await runLoop(rpc, {
    interval: 1000,
    enough: () => a.goodAnswers >= 3,
  });
  // Every fault of A was answered by B: the loop never saw an error.
  assert.deepEqual(stats.errors, {});
  assert.equal(
    a.requests.filter((q) => q.answer !== "good").length,
    FAULTS.length,
  );
  assert.equal(b.goodAnswers, FAULTS.length);
  assert.deepEqual(switches, [b.url, a.url]);
  assert.deepEqual(sent, range(sent[0], chain.head - 1n));
  assert.equal(sent.length, FAULTS.length + 2);
  assert.ok(sleeps.slice(1).every((ms) => ms === 1000));
});

const DATA = /^DATA - 127\.0\.0\.1:\d+ - (.*)$/;

/** Block numbers of the server's DATA lines; each must be a whole document. */
function printedBlocks(stdout: string[]): bigint[] {
  return stdout.filter((l) => l.startsWith("DATA")).map((line) => {
    const payload = DATA.exec(line)?.[1]?.replaceAll("\\n", "\n") ?? "";
    const block = template.parse(payload);
    assert.ok(block !== undefined, `bogus document: ${line.slice(0, 80)}`);
    return block;
  });
}

function clientArgs(port: number, urls: string[]): string[] {
  return [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--rpc-url",
    urls.join(","),
    "--interval",
    "0.3",
    "--rpc-timeout",
    "0.3",
    "-v",
  ];
}

Deno.test("client process: survives every fault, sends nothing bogus, resumes", async () => {
  await using stub = new RpcStub({
    script: [
      { kind: "head", head: 100n },
      { kind: "head", head: 101n },
      ...FAULTS.map(([f]) => f),
      ...LIES,
    ],
    chain: { head: 102n, step: 1n },
  });
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [stub.url]),
  );
  // Healed: good answers keep coming, and each new block reaches the server.
  await waitFor(() => printedBlocks(server.child.stdout).length >= 5, {
    timeoutMs: 30_000,
    what: "5 blocks after the faults",
  });
  assert.equal(client.status, undefined, "the client must still run");
  const blocks = printedBlocks(server.child.stdout);
  assert.deepEqual(blocks, range(101n, 101n + BigInt(blocks.length) - 1n));
  assert.ok(stub.script.length === 0, "every fault was answered");

  // One clear line per failure kind, and the dropped lies named.
  const log = client.stderr.join("\n");
  for (const kind of new Set(FAULTS.map(([, k]) => k))) {
    assert.match(log, new RegExp(`Poll failed \\(${kind}\\)`));
  }
  assert.match(log, /Ignoring head 1000000000000: 999999999899 blocks ahead/);
  assert.match(log, /Ignoring head 18446744073709551615/);
  assert.doesNotMatch(log, /Uncaught|panic|TypeError|RangeError/);

  // Retry-After: 1 was honoured: a backoff step would be at most the 0.3 s
  // interval (measured from the start of the failed poll).
  const i = 2 +
    FAULTS.findIndex(([f]) => f.kind === "http" && f.status === 429);
  assert.equal(stub.requests[i].answer, "http");
  assert.ok(
    stub.requests[i + 1].at - stub.requests[i].at >= RETRY_AFTER_MS - 300,
    "the request after a 429 must wait for Retry-After",
  );
});

Deno.test("client process: a dead first --rpc-url fails over to the next", async () => {
  const chain = { head: 500n, step: 1n };
  // The first endpoint accepts and never answers, forever.
  await using dead = new RpcStub({
    script: Array.from({ length: 1000 }, () => ({ kind: "hang" as const })),
    chain,
  });
  await using good = new RpcStub({ chain });
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [dead.url, good.url]),
  );
  await waitFor(() => printedBlocks(server.child.stdout).length >= 4, {
    timeoutMs: 30_000,
    what: "4 blocks through the second endpoint",
  });
  const blocks = printedBlocks(server.child.stdout);
  assert.deepEqual(
    blocks,
    range(blocks[0], blocks[0] + BigInt(blocks.length) - 1n),
  );
  assert.ok(blocks.length >= 4);
  assert.equal(client.status, undefined);
  assert.ok(dead.requests.length >= 1, "the first endpoint was tried");
  // After one timeout the dead endpoint cools down: the next polls go on.
  assert.ok(good.goodAnswers >= 4);
  assert.match(
    client.stderr.join("\n"),
    // Logged as scheme://host:port only (issue 13): no trailing slash.
    new RegExp(
      `Using RPC endpoint ${
        good.url.replace(/\/$/, "").replace(/[/.]/g, "\\$&")
      }(?!/)`,
    ),
  );
});

Deno.test("client process: RPC credentials and keys never reach the log", async () => {
  const key = "9aa3d95b3bc440fa88ea12eaa4456161";
  await using stub = new RpcStub({
    script: [
      { kind: "drop" },
      { kind: "refuse" },
      { kind: "hang" },
      { kind: "http", status: 401, body: `bad key ${key}` },
      { kind: "rpc_error", code: -32001, message: "unauthorized" },
    ],
  });
  const port = new URL(stub.url).port;
  const url =
    `http://user:pw-${key}@127.0.0.1:${port}/v3/${key}?apikey=q-${key}`;
  await using server = await startServer(["--no-store"]);
  await using client = runProgram(
    "client.ts",
    clientArgs(server.port, [url]),
  );
  await waitFor(() => printedBlocks(server.child.stdout).length >= 2, {
    what: "2 blocks through the keyed URL",
  });
  await client.stop("SIGTERM");
  const log = client.stderr.join("\n");
  assert.match(log, /Poll failed \(transport\)/);
  // Issue 13: the endpoint is logged as scheme://host:port, nothing more.
  assert.match(
    log,
    new RegExp(`Poll failed .* to http://127\\.0\\.0\\.1:${port}[:;\\s]`),
  );
  assert.doesNotMatch(log, /\/v3\/|apikey|user:|pw-/);
  assert.ok(!log.includes(key), "a key reached the client's log");
});
