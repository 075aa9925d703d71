/**
 * Scenario 8 (issue 21): the acknowledged path against the durable limit.
 *
 * The load of the issue: `--concurrency` senders (32), one document per new
 * connection, each waiting for `2:ok,` before the next; the subjects run in
 * alternating rounds, each after the load generator's warm-up. Subjects: the
 * ok-only sink, the durable sink (`bench/durable_sink.ts`), our server with
 * `--no-store`, on SQLite and on MySQL + Redis. Rates are divided by the
 * durable sink's of the same run (`--no-store` by the ok-only sink's), and
 * every document answered `ok` must be found in the store: rows are counted
 * before and after each run.
 *
 * Then the same cost under more work: one pipelined connection (on SQLite,
 * target 250k acknowledged documents/s), 1,000 senders instead of 32, and a
 * store already holding 1M documents (20k in `--quick`), each of the last
 * two within 10% of the plain rate (32 senders, an empty store) measured in
 * the same rounds, alternating with it: the machine's pace drifts by more
 * than 10% over the minutes a full run takes, so a plain rate from earlier
 * in the run is no baseline. `--quick` runs each load for one second and the
 * last three on SQLite only.
 *
 * @module
 */
import {
  cpuPerOp,
  type LoadArgs,
  machinePerOp,
  type MachineSplit,
  machineSplit,
  measure,
  type Measured,
  randomSuffix,
  type Running,
  type Settings,
  startDurableSink,
  startServer,
  withProcess,
} from "../_harness.ts";
import { judge, median, type ScenarioResult } from "../_report.ts";
import {
  type BenchStore,
  mysqlRedisStore,
  sqliteStore,
  storeMissing,
} from "../_stores.ts";

/** Documents already stored in the prefilled variant. */
export const PREFILL_DOCUMENTS = 1_000_000;
/** Prefilled documents in `--quick`: enough to exercise the path. */
export const PREFILL_DOCUMENTS_QUICK = 20_000;
/** Senders of the many-senders variant. */
export const MANY_SENDERS = 1000;

/** One measured run: the load, what it cost, and what the store gained. */
interface Run extends Measured {
  /** Rows the store gained during the run, when there is a store. */
  stored?: number;
  /** Why the subject could not run. */
  skipped?: string;
}

/** Something the load runs against, started afresh for each run. */
interface Subject {
  id: string;
  name: string;
  /** Starts it; `store` is set for the store subjects. */
  start(store?: BenchStore): Promise<Running>;
  /** Makes a fresh store, for the store subjects. */
  store?: () => Promise<BenchStore>;
}

let nextFirstBlock = 20_000_000;

/** Block numbers no earlier run used, so every run's documents are new. */
function freshBlocks(): number {
  nextFirstBlock += 10_000_000;
  return nextFirstBlock;
}

/**
 * Seconds a stopping server may take to write what its stores still lack:
 * every document answered `ok` must be in the store when rows are counted,
 * not only in the spool (a pipelined run leaves a backlog).
 */
const STORE_FLUSH_SECONDS = 120;

function subjects(settings: Settings): Subject[] {
  const server = (args: string[]) => async (store?: BenchStore) => {
    if (!store) return await startServer(args, settings);
    const running = await startServer([
      ...args,
      ...store.args,
      "--store-flush-timeout",
      String(STORE_FLUSH_SECONDS),
    ], settings);
    running.stopGraceMs = (STORE_FLUSH_SECONDS + 10) * 1000;
    return running;
  };
  return [
    {
      id: "ok-only",
      name: "ok-only sink",
      start: () => startDurableSink(settings),
    },
    {
      id: "durable",
      name: "durable sink",
      start: () =>
        startDurableSink(
          settings,
          `${settings.tmp}/durable-${randomSuffix()}.log`,
        ),
    },
    { id: "no-store", name: "ours, --no-store", start: server(["--no-store"]) },
    {
      id: "sqlite",
      name: "ours, SQLite",
      start: server([]),
      store: () => Promise.resolve(sqliteStore(settings)),
    },
    {
      id: "mysql-redis",
      name: "ours, MySQL + Redis",
      start: server([]),
      store: () => mysqlRedisStore(),
    },
  ];
}

/** Runs `load` once against `subject`, on `store` when given. */
async function runOnce(
  subject: Subject,
  load: LoadArgs,
  settings: Settings,
  store?: BenchStore,
  fresh = false,
): Promise<Run> {
  // A fresh store has no schema until the server starts: nothing to count.
  const before = store && !fresh ? (await store.count()).rows : 0;
  const { value, stopped } = await withProcess(
    subject.start(store),
    (running) =>
      measure(running, { ...load, "first-block": freshBlocks() }, settings),
  );
  const missing = storeMissing(stopped.stderr);
  if (missing) return { ...value, skipped: missing };
  if (!store) return value;
  return { ...value, stored: (await store.count()).rows - before };
}

/** Runs `load` against `subject` on a fresh store (if it has one). */
async function runFresh(
  subject: Subject,
  load: LoadArgs,
  settings: Settings,
): Promise<Run> {
  if (!subject.store) return await runOnce(subject, load, settings);
  const store = await subject.store();
  try {
    return await runOnce(subject, load, settings, store, true);
  } finally {
    await store.dispose().catch(() => {});
  }
}

/** The durable-path figures of runs of one subject. */
function summary(
  id: string,
  name: string,
  runs: Run[],
  baseline?: { name: string; runs: Run[] },
): ScenarioResult {
  const skipped = runs.find((r) => r.skipped)?.skipped;
  const rate = median(runs.map((r) => r.load.rate));
  const base = baseline ? median(baseline.runs.map((r) => r.load.rate)) : 0;
  const delivered = runs.reduce((n, r) => n + r.load.delivered, 0);
  const stored = runs.every((r) => r.stored !== undefined)
    ? runs.reduce((n, r) => n + r.stored!, 0)
    : undefined;
  const cpu = runs.map(cpuPerOp).filter((n) => n !== null);
  const machine = runs.map(machinePerOp).filter((m) => m !== null);
  const split = runs.map(machineSplit).filter((m) => m !== null);
  const part = (key: keyof MachineSplit) =>
    Math.round(median(split.map((m) => m[key])));
  const result: ScenarioResult = {
    id: `8-${id}`,
    scenario: 8,
    name,
    unit: "docs/s",
    rate: skipped ? null : rate,
    p50Ms: median(runs.map((r) => r.load.p50Ms ?? 0)) || null,
    p99Ms: median(runs.map((r) => r.load.p99Ms ?? 0)) || null,
    cpuUsPerOp: cpu.length ? Math.round(median(cpu)) : null,
    peakRssBytes: null,
    errors: runs.reduce((n, r) => n + r.load.errors, 0),
    lost: stored === undefined ? undefined : Math.max(0, delivered - stored),
    ...(skipped ? { skipped } : {}),
    ...(baseline && base > 0
      ? { baseline: { name: baseline.name, rate: base }, ratio: rate / base }
      : {}),
    details: {
      rounds: runs.map((r) => Math.round(r.load.rate)),
      delivered,
      stored,
      errorKinds: Object.assign({}, ...runs.map((r) => r.load.errorKinds)),
      // Every process's CPU (load generator, stores included): see
      // `readMachineCpu` in bench/_proc.ts.
      ...(machine.length
        ? {
          machineUsPerDoc: Math.round(median(machine.map((m) => m.usPerOp))),
          machineBusy: Number(median(machine.map((m) => m.busy)).toFixed(2)),
        }
        : {}),
      // The same, by process (medians of each part, so they need not add
      // up to the whole's median exactly).
      ...(split.length
        ? {
          machineSplit: {
            server: part("server"),
            load: part("load"),
            databases: part("databases"),
            other: part("other"),
          },
        }
        : {}),
    },
  };
  if (stored !== undefined) {
    result.note = `${stored} rows stored for ${delivered} documents ` +
      `answered ok${stored >= delivered ? "" : ": DOCUMENTS MISSING"}`;
  }
  return result;
}

/** The main comparison: five subjects, alternating rounds. */
async function main(settings: Settings): Promise<ScenarioResult[]> {
  const load = { mode: "conn" };
  const all = subjects(settings);
  const runs = new Map<string, Run[]>(all.map((s) => [s.id, []]));
  const skipped = new Map<string, string>();
  for (let round = 0; round < settings.rounds; round++) {
    for (const subject of all) {
      if (skipped.has(subject.id)) continue;
      settings.log(`scenario 8, round ${round + 1}: ${subject.name}`);
      try {
        runs.get(subject.id)!.push(await runFresh(subject, load, settings));
      } catch (error) {
        settings.log(`scenario 8, ${subject.name}: ${(error as Error).stack}`);
        skipped.set(subject.id, (error as Error).message.split("\n")[0]);
      }
    }
  }
  const durable = { name: "durable sink", runs: runs.get("durable")! };
  const okOnly = { name: "ok-only sink", runs: runs.get("ok-only")! };
  const name = (s: Subject) =>
    `acknowledged path, ${s.name} (${settings.concurrency} senders, ` +
    `a connection per document)`;
  const results = all.map((s) => {
    const done = runs.get(s.id)!;
    if (done.length === 0) {
      return {
        ...summary(s.id, name(s), []),
        rate: null,
        skipped: skipped.get(s.id) ?? "no run completed",
      };
    }
    const result = summary(
      s.id,
      name(s),
      done,
      s.id === "durable" ? undefined : s.id === "no-store" ? okOnly : durable,
    );
    if (s.id === "no-store") {
      judge(result, { on: "ratio", op: ">=", value: 0.95 });
    }
    if (s.store) {
      judge(result, { on: "ratio", op: ">=", value: 0.8 });
      if (result.lost !== 0) result.target!.met = false;
    }
    return result;
  });
  // Each round's pair, so one run shows how far the machine moved the ratio.
  const pairs = all.filter((s) => s.store || s.id === "no-store").map((s) => {
    const base = runs.get(s.id === "no-store" ? "ok-only" : "durable")!;
    const ratios = runs.get(s.id)!.map((r, k) =>
      base[k] ? (r.load.rate / base[k].load.rate).toFixed(2) : "-"
    );
    return `${s.id} ${ratios.join(" ")}`;
  });
  settings.log(`scenario 8, each round's ratio: ${pairs.join(", ")}`);
  const costs = results.flatMap((r) => {
    const d = r.details ?? {};
    if (typeof d.machineUsPerDoc !== "number") return [];
    const s = d.machineSplit as MachineSplit | undefined;
    const parts = s
      ? `; the process ${s.server}, load generator ${s.load}, ` +
        `database servers ${s.databases}, other ${s.other}`
      : "";
    return [`${r.id} ${d.machineUsPerDoc} us (${d.machineBusy} busy${parts})`];
  });
  if (costs.length) {
    settings.log(
      `scenario 8, the machine's CPU per document (all processes): ${
        costs.join(", ")
      }`,
    );
  }
  return results;
}

/** One pipelined connection into SQLite: acknowledged documents/s. */
async function pipelined(settings: Settings): Promise<ScenarioResult> {
  const sqlite = subjects(settings).find((s) => s.id === "sqlite")!;
  const runs: Run[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    settings.log(`scenario 8, round ${round + 1}: one pipelined connection`);
    runs.push(
      await runFresh(
        sqlite,
        { mode: "stream", concurrency: 1, batch: 64 },
        settings,
      ),
    );
  }
  const result = summary(
    "pipelined-sqlite",
    "acknowledged path, one pipelined connection, ours on SQLite",
    runs,
  );
  result.p50Ms = result.p99Ms = null;
  judge(result, { on: "rate", op: ">=", value: 250_000 });
  if (result.lost !== 0) result.target!.met = false;
  return result;
}

/**
 * The cost must not grow with the work: `variant` runs of ours on each
 * store (only SQLite in `--quick`) and, with many senders, of the durable
 * sink (not in `--quick`), each round a plain run of ours (fresh store, the
 * usual senders) and then the `variant` run.
 */
async function heavier(
  settings: Settings,
  variant: "many" | "prefilled",
): Promise<ScenarioResult[]> {
  const all = subjects(settings);
  const durable = all.find((s) => s.id === "durable")!;
  const stores = all.filter((s) =>
    s.store && (!settings.quick || s.id === "sqlite")
  );
  // Every sender must have had an answer before the window opens: with
  // 1,000 of them that takes longer than the usual warm-up.
  const load: LoadArgs = variant === "many"
    ? {
      mode: "conn",
      concurrency: MANY_SENDERS,
      warmup: Math.max(settings.warmup, 2),
    }
    : { mode: "conn" };
  const prefill = settings.quick ? PREFILL_DOCUMENTS_QUICK : PREFILL_DOCUMENTS;
  const results: ScenarioResult[] = [];
  const sinkRuns: Run[] = [];
  if (variant === "many" && !settings.quick) {
    for (let round = 0; round < settings.rounds; round++) {
      settings.log(`scenario 8, round ${round + 1}: durable sink, ${variant}`);
      sinkRuns.push(await runFresh(durable, load, settings));
    }
  }
  for (const subject of stores) {
    const plain: Run[] = [];
    const heavy: Run[] = [];
    let reason: string | undefined;
    // A prefilled store is made once: filling it is the slow part, and a
    // run adds a few percent to it at most.
    let kept: BenchStore | undefined;
    try {
      if (variant === "prefilled") {
        kept = await subject.store!();
        // The server makes its schema at start: a short run creates it.
        const load = { mode: "conn", duration: 0.2, warmup: 0 };
        await runOnce(subject, load, settings, kept, true);
        const t0 = performance.now();
        await kept.prefill(prefill);
        // Prefilling leaves up to a GiB of dirty pages: written back during
        // the first round they would slow its spool syncs, not the store.
        await new Deno.Command("sync").output();
        settings.log(
          `scenario 8: prefilled ${subject.name} with ${prefill} documents ` +
            `in ${Math.round((performance.now() - t0) / 1000)} s`,
        );
      }
      for (let round = 0; round < settings.rounds; round++) {
        settings.log(
          `scenario 8, round ${
            round + 1
          }: ${subject.name}, plain and ${variant}`,
        );
        plain.push(await runFresh(subject, { mode: "conn" }, settings));
        heavy.push(
          kept
            ? await runOnce(subject, load, settings, kept)
            : await runFresh(subject, load, settings),
        );
      }
    } catch (error) {
      settings.log(`scenario 8, ${subject.name}: ${(error as Error).stack}`);
      reason = (error as Error).message.split("\n")[0];
    } finally {
      await kept?.dispose().catch(() => {});
    }
    const name = variant === "many"
      ? `acknowledged path, ${subject.name}, ${MANY_SENDERS} senders`
      : `acknowledged path, ${subject.name}, ${prefill} documents stored`;
    if (reason || heavy.length === 0 || plain.length === 0) {
      results.push({
        ...summary(`${variant}-${subject.id}`, name, []),
        rate: null,
        skipped: reason ?? "no run completed",
      });
      continue;
    }
    const result = summary(
      `${variant}-${subject.id}`,
      name,
      heavy,
      {
        name: `ours, ${settings.concurrency} senders, empty store, same rounds`,
        runs: plain,
      },
    );
    if (sinkRuns.length > 0) {
      const sink = median(sinkRuns.map((r) => r.load.rate));
      result.details = {
        ...result.details,
        durableSinkRate: Math.round(sink),
        ratioToDurableSink: sink > 0 ? (result.rate ?? 0) / sink : null,
      };
    }
    settings.log(
      `scenario 8, ${subject.name}, ${variant}: each round's ratio to its ` +
        `plain run: ${
          heavy.map((r, k) =>
            plain[k] ? (r.load.rate / plain[k].load.rate).toFixed(2) : "-"
          ).join(" ")
        }`,
    );
    // Within 10% of the plain rate.
    judge(result, { on: "ratio", op: ">=", value: 0.9 });
    if (result.lost !== 0) result.target!.met = false;
    results.push(result);
  }
  return results;
}

/** Scenario 8: the acknowledged path against the durable sink. */
export async function scenario8(
  settings: Settings,
): Promise<ScenarioResult[]> {
  // The smoke test keeps each load short: it checks the path, not the rate.
  const s = settings.quick
    ? { ...settings, warmup: 0.25, duration: 1 }
    : settings;
  return [
    ...await main(s),
    await pipelined(s),
    ...await heavier(s, "many"),
    ...await heavier(s, "prefilled"),
  ];
}
