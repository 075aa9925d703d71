/**
 * Scenarios 1-3: documents into the real server process, against the bare
 * TCP sink under the same load.
 *
 * @module
 */
import {
  cpuPerOp,
  type LoadArgs,
  measure,
  type Measured,
  type Settings,
  startServer,
  startSink,
  type Stopped,
  withProcess,
} from "../_harness.ts";
import { judge, median, type ScenarioResult } from "../_report.ts";
import {
  type BenchStore,
  mysqlRedisStore,
  sqliteStore,
  type StoreCount,
  storeMissing,
} from "../_stores.ts";

/** One measured run of a process under a load. */
interface Run extends Measured {
  stopped: Stopped;
}

function sum(runs: Run[], pick: (r: Run) => number): number {
  return runs.reduce((n, r) => n + pick(r), 0);
}

function cpu(runs: Run[]) {
  return runs.map((r) => ({
    rate: Math.round(r.load.rate),
    serverCpuSeconds: round(r.cpuSeconds),
    serverCpuUsPerDoc: round(cpuPerOp(r)),
    loadCpuSeconds: r.load.cpuSeconds,
    wallSeconds: round(r.load.seconds),
  }));
}

function round(n: number | null): number | null {
  return n === null ? null : Math.round(n * 100) / 100;
}

function medianCpu(runs: Run[]): number | null {
  const values = runs.map(cpuPerOp).filter((n) => n !== null);
  return values.length ? round(median(values)) : null;
}

async function sinkRun(load: LoadArgs, settings: Settings): Promise<Run> {
  const { value, stopped } = await withProcess(
    startSink(settings),
    (s) => measure(s, load, settings),
  );
  return { ...value, stopped };
}

async function serverRun(
  args: string[],
  load: LoadArgs,
  settings: Settings,
): Promise<Run> {
  const { value, stopped } = await withProcess(
    startServer(args, settings),
    (s) => measure(s, load, settings),
  );
  return { ...value, stopped };
}

/** Summarises rounds of ours against rounds of the sink. */
function compare(
  base: {
    id: string;
    scenario: number;
    name: string;
    unit: string;
  },
  ours: Run[],
  sink: Run[],
): ScenarioResult {
  const rate = median(ours.map((r) => r.load.rate));
  const baseline = median(sink.map((r) => r.load.rate));
  const printed = sum(ours, (r) => r.stopped.printed ?? 0);
  const acknowledged = sum(ours, (r) => r.load.ok);
  return {
    ...base,
    rate,
    p50Ms: median(ours.map((r) => r.load.p50Ms ?? 0)) || null,
    p99Ms: median(ours.map((r) => r.load.p99Ms ?? 0)) || null,
    peakRssBytes: Math.max(
      ...ours.map((r) => r.stopped.usage?.peakRssBytes ?? 0),
    ),
    errors: sum(ours, (r) => r.load.errors),
    lost: Math.max(0, acknowledged - printed),
    cpuUsPerOp: medianCpu(ours),
    baselineCpuUsPerOp: medianCpu(sink),
    baseline: { name: "bare TCP sink", rate: baseline },
    ratio: baseline > 0 ? rate / baseline : 0,
    details: {
      acknowledged,
      printed,
      ours: cpu(ours),
      sink: cpu(sink),
      sinkP50Ms: median(sink.map((r) => r.load.p50Ms ?? 0)),
      sinkP99Ms: median(sink.map((r) => r.load.p99Ms ?? 0)),
      errorKinds: Object.assign({}, ...ours.map((r) => r.load.errorKinds)),
    },
  };
}

/** Scenario 1: a new connection per document, no store, vs the sink. */
export async function scenario1(settings: Settings): Promise<ScenarioResult> {
  const load = { mode: "conn" };
  const ours: Run[] = [];
  const sink: Run[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    settings.log(`scenario 1, round ${round + 1}: bare sink`);
    sink.push(await sinkRun(load, settings));
    settings.log(`scenario 1, round ${round + 1}: server --no-store`);
    ours.push(await serverRun(["--no-store"], load, settings));
  }
  const result = compare(
    {
      id: "1",
      scenario: 1,
      name:
        `ingest, connection per document, no store (${settings.concurrency} clients)`,
      unit: "docs/s",
    },
    ours,
    sink,
  );
  result.note = settings.countBy === "metrics"
    ? "stdout to /dev/null; documents counted by the server's eth_server_frames_accepted_total against those the load generator saw acknowledged"
    : "stdout to a file, whose DATA lines are counted against the documents the load generator saw acknowledged";
  judge(result, { on: "ratio", op: ">=", value: 0.9 });
  if (result.lost !== 0 && result.target) result.target.met = false;
  return result;
}

/**
 * Scenario 2: a connection per document, every document sent by 4 clients
 * at once, into SQLite and into MySQL + Redis; rows must be exactly the
 * distinct documents acknowledged.
 */
export async function scenario2(
  settings: Settings,
): Promise<ScenarioResult[]> {
  const dup = 4;
  const load = { mode: "conn", dup };
  const sink: Run[] = [];
  const variants = [
    { id: "2-sqlite", make: () => Promise.resolve(sqliteStore(settings)) },
    { id: "2-mysql-redis", make: () => mysqlRedisStore() },
  ];
  const runs = new Map<string, { run: Run; count: StoreCount }[]>();
  const skipped = new Map<string, string>();
  for (let round = 0; round < settings.rounds; round++) {
    settings.log(`scenario 2, round ${round + 1}: bare sink`);
    sink.push(await sinkRun(load, settings));
    for (const variant of variants) {
      if (skipped.has(variant.id)) continue;
      let store: BenchStore;
      try {
        store = await variant.make();
      } catch (error) {
        skipped.set(variant.id, `cannot set up: ${(error as Error).message}`);
        continue;
      }
      try {
        settings.log(`scenario 2, round ${round + 1}: server on ${store.name}`);
        const run = await serverRun(store.args, load, settings);
        const missing = storeMissing(run.stopped.stderr);
        if (missing) {
          skipped.set(variant.id, `the server cannot store yet (${missing})`);
          continue;
        }
        const count = await store.count();
        runs.set(variant.id, [...runs.get(variant.id) ?? [], { run, count }]);
      } catch (error) {
        const message = (error as Error).message.split("\n")[0];
        settings.log(
          `scenario 2 on ${store.name} failed: ${(error as Error).message}`,
        );
        skipped.set(variant.id, `failed: ${message}`);
      } finally {
        await store.dispose().catch(() => {});
      }
    }
  }
  const results: ScenarioResult[] = [];
  for (const variant of variants) {
    const name = {
      "2-sqlite": "ingest into SQLite, each document from 4 clients",
      "2-mysql-redis":
        "ingest into MySQL + Redis, each document from 4 clients",
    }[variant.id]!;
    const reason = skipped.get(variant.id);
    const done = runs.get(variant.id) ?? [];
    if (reason || done.length === 0) {
      results.push({
        id: variant.id,
        scenario: 2,
        name,
        unit: "docs/s",
        rate: null,
        p50Ms: null,
        p99Ms: null,
        peakRssBytes: null,
        errors: 0,
        skipped: reason ?? "no run completed",
      });
      continue;
    }
    const result = compare(
      { id: variant.id, scenario: 2, name, unit: "docs/s" },
      done.map((d) => d.run),
      sink,
    );
    const delivered = sum(done.map((d) => d.run), (r) => r.load.delivered);
    const attempted = sum(done.map((d) => d.run), (r) => r.load.attempted);
    const rows = done.reduce((n, d) => n + d.count.rows, 0);
    const copies = done.reduce((n, d) => n + (d.count.copies ?? 0), 0);
    const acknowledged = sum(done.map((d) => d.run), (r) => r.load.ok);
    const redis = done.every((d) => d.count.redisHashes !== undefined)
      ? done.reduce((n, d) => n + d.count.redisHashes!, 0)
      : undefined;
    // Every acknowledged document must be stored once; a copy whose
    // acknowledgement was lost may be stored too, never twice.
    const exactlyOnce = rows >= delivered && rows <= attempted &&
      (redis === undefined || redis === rows);
    result.lost = Math.max(0, delivered - rows) +
      Math.max(
        0,
        result.details!.acknowledged as number -
          (result.details!.printed as number),
      );
    result.details = {
      ...result.details,
      distinctDelivered: delivered,
      distinctAttempted: attempted,
      rows,
      redisHashes: redis,
      copiesCounted: copies,
      copiesAcknowledged: acknowledged,
      exactlyOnce,
    };
    result.note =
      `${rows} rows for ${delivered} distinct documents acknowledged (${acknowledged} copies)${
        redis === undefined ? "" : `, ${redis} Redis hashes`
      }: ${exactlyOnce ? "exactly once" : "NOT exactly once"}`;
    // `ok` means durable in the spool; the stores are written behind it.
    judge(result, {
      on: "ratio",
      op: ">=",
      value: variant.id === "2-sqlite" ? 0.8 : 0.7,
    });
    if (!exactlyOnce || result.lost !== 0) result.target!.met = false;
    results.push(result);
  }
  return results;
}

/** Scenario 3: many documents on one long-lived connection. */
export async function scenario3(settings: Settings): Promise<ScenarioResult> {
  const load = { mode: "stream", concurrency: 1, batch: 64 };
  const ours: Run[] = [];
  const sink: Run[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    settings.log(`scenario 3, round ${round + 1}: bare sink`);
    sink.push(await sinkRun(load, settings));
    settings.log(`scenario 3, round ${round + 1}: server --no-store`);
    ours.push(await serverRun(["--no-store"], load, settings));
  }
  const result = compare(
    {
      id: "3",
      scenario: 3,
      name:
        "ingest, many documents on one connection, pipelined answers, no store",
      unit: "docs/s",
    },
    ours,
    sink,
  );
  result.p50Ms = result.p99Ms = null;
  judge(result, { on: "rate", op: ">=", value: 250_000 });
  if (result.lost !== 0 && result.target) result.target.met = false;
  return result;
}
