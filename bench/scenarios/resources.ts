/**
 * Scenario 6: what the programs cost in memory and CPU. The server idle
 * and holding 2,000 open connections; the client polling a JSON-RPC
 * endpoint that has a new block on every poll and sending each document.
 *
 * @module
 */
import { freePort, Proc, type Usage } from "../_proc.ts";
import { abortableSleep as sleep } from "../../lib/shared/async.ts";
import {
  randomSuffix,
  runLoad,
  type Settings,
  startServer,
  startSink,
  stop,
  withProcess,
} from "../_harness.ts";
import { judge, type ScenarioResult } from "../_report.ts";

const HELD = 2000;

function result(
  id: string,
  name: string,
  usage: Usage | undefined,
): ScenarioResult {
  return {
    id,
    scenario: 6,
    name,
    unit: "",
    rate: null,
    p50Ms: null,
    p99Ms: null,
    peakRssBytes: usage?.rssBytes ?? null,
    errors: 0,
  };
}

/** Samples a process's RSS every 100 ms until `done` settles; the max. */
async function sampleWhile(proc: Proc, done: Promise<unknown>) {
  let max: Usage | undefined;
  let finished = false;
  done.finally(() => finished = true).catch(() => {});
  while (!finished) {
    const u = proc.usage();
    if (u && (!max || u.rssBytes > max.rssBytes)) max = u;
    await sleep(100);
  }
  return max;
}

/** The server idle, then with `HELD` open connections each mid-frame. */
async function serverMemory(settings: Settings): Promise<ScenarioResult[]> {
  const store = `${settings.tmp}/rss-${randomSuffix()}.sqlite`;
  const ready = `${settings.tmp}/ready-${randomSuffix()}`;
  const server = await startServer([
    "--sqlite-path",
    store,
    "--idle-timeout",
    "120",
  ], settings);
  try {
    await sleep(1000);
    const idle = server.proc.usage();
    settings.log(`scenario 6: holding ${HELD} connections`);
    const load = runLoad(server.port, {
      mode: "hold",
      connections: HELD,
      duration: Math.max(2, settings.duration),
      warmup: 0,
      "ready-file": ready,
    }, settings);
    // Sample only once every connection is open and has sent its bytes.
    while (!(await Deno.stat(ready).then(() => true, () => false))) {
      if (await Promise.race([load.then(() => true), sleep(50)])) break;
    }
    await sleep(300);
    const held = await sampleWhile(server.proc, load);
    const report = await load;
    const stopped = await stop(server);
    const idleResult = result(
      "6-server-idle",
      "server RSS, idle (SQLite store)",
      idle,
    );
    const heldResult = result(
      "6-server-2000-conns",
      `server RSS with ${report.ok} open connections`,
      held,
    );
    heldResult.errors = report.errors;
    heldResult.details = {
      opened: report.ok,
      peakRssBytes: stopped.usage?.peakRssBytes,
      serverCpuSeconds: stopped.usage?.cpuSeconds,
      errorKinds: report.errorKinds,
    };
    if (report.ok < HELD) {
      heldResult.note = `only ${report.ok} of ${HELD} connections opened`;
    }
    judge(heldResult, { on: "peakRssMB", op: "<=", value: 150 });
    if (report.ok < HELD) heldResult.target!.met = false;
    return [idleResult, heldResult];
  } finally {
    await server.proc[Symbol.asyncDispose]();
    for (const f of [ready, store, `${store}-wal`, `${store}-shm`]) {
      await Deno.remove(f).catch(() => {});
    }
  }
}

/** A JSON-RPC endpoint whose block number advances on every call. */
function fakeRpc(port: number, signal: AbortSignal) {
  let block = 21_000_000;
  let calls = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    signal,
    onListen: () => {},
  }, async (request) => {
    const body = await request.json().catch(() => ({}));
    calls++;
    const result = body.method === "eth_blockNumber"
      ? `0x${(block++).toString(16)}`
      : body.method === "eth_chainId"
      ? "0x1"
      : null;
    return Response.json({ jsonrpc: "2.0", id: body.id ?? 1, result });
  });
  return { server, calls: () => calls };
}

/** The client polling every 100 ms, each poll a new block to send. */
async function clientUsage(settings: Settings): Promise<ScenarioResult> {
  const rpcPort = freePort();
  const controller = new AbortController();
  const rpc = fakeRpc(rpcPort, controller.signal);
  try {
    const { value, stopped } = await withProcess(
      startSink(settings),
      async (sink) => {
        const client = Proc.deno("client", "client.ts", [
          "--host",
          "127.0.0.1",
          "--port",
          String(sink.port),
          "--rpc-url",
          `http://127.0.0.1:${rpcPort}`,
          "--interval",
          "0.1",
        ]);
        try {
          const seconds = settings.warmup + settings.duration;
          settings.log(`scenario 6: client polling for ${seconds} s`);
          await sleep(settings.warmup * 1000);
          const before = client.usage();
          const peak = await sampleWhile(
            client,
            sleep(settings.duration * 1000),
          );
          const after = client.usage();
          return {
            before,
            peak,
            after,
            exited: client.exited,
            stderr: client.stderrTail,
          };
        } finally {
          await client.stop();
        }
      },
    );
    const sinkCounts = JSON.parse(stopped.stdout.trim() || "{}");
    const r = result(
      "6-client",
      "client RSS and CPU, polling every 100 ms",
      value.peak,
    );
    if (value.exited || !value.before || !value.after) {
      r.errors = 1;
      r.note = `the client exited early: ${value.stderr.split("\n").at(-1)}`;
      return r;
    }
    const cpu = (value.after.cpuSeconds - value.before.cpuSeconds) /
      settings.duration;
    r.unit = "% CPU";
    r.rate = Math.round(cpu * 1000) / 10;
    r.details = {
      polls: rpc.calls(),
      peakRssBytes: value.after.peakRssBytes,
      cpuSeconds: value.after.cpuSeconds - value.before.cpuSeconds,
      documentsSent: sinkCounts.connections ?? null,
    };
    r.note =
      `rate column is the client's CPU use while polling (${rpc.calls()} polls)`;
    judge(r, { on: "peakRssMB", op: "<=", value: 80 });
    return r;
  } finally {
    controller.abort();
    await rpc.server.finished;
  }
}

/** Scenario 6: memory and CPU of the server and the client. */
export async function scenario6(settings: Settings): Promise<ScenarioResult[]> {
  return [...await serverMemory(settings), await clientUsage(settings)];
}
