/**
 * The benchmark suite: `deno task bench [--quick] [--only 1,3]`.
 *
 * Runs each scenario against real processes on 127.0.0.1 (the load
 * generator, the server or stats API under test, and the baselines are all
 * separate processes), prints a Markdown table and writes
 * bench/results.json. `--quick` runs each load for about two seconds and
 * one round, as a smoke test; the full run does three rounds of five
 * seconds and reports medians.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BENCH_DIR, canPin, Proc } from "./_proc.ts";
import type { Settings } from "./_harness.ts";
import {
  loadAverage,
  machineInfo,
  type RunInfo,
  type ScenarioResult,
  table,
} from "./_report.ts";
import { scenario1, scenario2, scenario3 } from "./scenarios/ingest.ts";
import { scenario4 } from "./scenarios/micro.ts";
import { scenario5 } from "./scenarios/stats_api.ts";
import { scenario6 } from "./scenarios/resources.ts";
import { scenario7 } from "./scenarios/stats_scale.ts";
import { scenario8 } from "./scenarios/durable.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string", default: `${BENCH_DIR}results.json` },
    rounds: { type: "string" },
    duration: { type: "string" },
    concurrency: { type: "string", default: "32" },
    "no-pin": { type: "boolean", default: false },
    table: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(`Usage: deno task bench [options]

  --quick            about 2 s per load and one round (smoke test)
  --only LIST        scenarios to run, e.g. 1,3 (default: 1-8; 8 is the
                     acknowledged path against the durable sink)
  --rounds N         baseline/ours pairs per comparison (default 3; quick 1)
  --duration S       seconds measured per load (default 5; quick 2)
  --concurrency N    clients of the load generator (default 32)
  --no-pin           let the scheduler place processes (default: the load
                     generator on CPU 0, the process under test on CPU 1)
  --out FILE         results file (default bench/results.json)
  --table FILE       print the table of an earlier results file and exit`);
  Deno.exit(0);
}

if (values.table) {
  const saved = JSON.parse(await Deno.readTextFile(values.table)) as {
    scenarios: ScenarioResult[];
  };
  console.log(table(saved.scenarios));
  Deno.exit(0);
}

const quick = values.quick!;
const only = new Set(
  (values.only ?? "1,2,3,4,5,6,7,8").split(",").map((s) => Number(s.trim())),
);
const tmp = await Deno.makeTempDir({ prefix: "eth-bench-" });
// Counting by the metrics port lets stdout go to /dev/null, as deployed.
const serverHelp = await Proc.deno("server --help", "server.ts", ["--help"], {
  stdout: "piped",
}).output();
const settings: Settings = {
  quick,
  warmup: quick ? 0.5 : 1,
  duration: Number(values.duration ?? (quick ? 2 : 5)),
  rounds: Number(values.rounds ?? (quick ? 1 : 3)),
  concurrency: Number(values.concurrency),
  tmp,
  log: (message) => console.error(`bench: ${message}`),
  pin: !values["no-pin"] && await canPin() ? { load: 0, target: 1 } : undefined,
  countBy: serverHelp.includes("--metrics-port") ? "metrics" : "stdout",
};

const scenarios: [
  number,
  (s: Settings) => Promise<ScenarioResult | ScenarioResult[]>,
][] = [
  [1, scenario1],
  [2, scenario2],
  [3, scenario3],
  [4, scenario4],
  [5, scenario5],
  [6, scenario6],
  [7, scenario7],
  [8, scenario8],
];

const started = Date.now();
const loadBefore = loadAverage();
const results: ScenarioResult[] = [];
let failed = 0;
try {
  for (const [n, run] of scenarios) {
    if (!only.has(n)) continue;
    try {
      results.push(...[await run(settings)].flat());
    } catch (error) {
      failed++;
      settings.log(`scenario ${n} failed: ${(error as Error).stack}`);
      results.push({
        id: String(n),
        scenario: n,
        name: `scenario ${n}`,
        unit: "",
        rate: null,
        p50Ms: null,
        p99Ms: null,
        peakRssBytes: null,
        errors: 1,
        note: `failed: ${(error as Error).message.split("\n")[0]}`,
      });
    }
  }
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}

const run: RunInfo = {
  date: new Date(started).toISOString(),
  quick,
  ...machineInfo(),
  loadAverageBefore: loadBefore,
  loadAverageAfter: loadAverage(),
  durationSeconds: settings.duration,
  rounds: settings.rounds,
  concurrency: settings.concurrency,
  countedBy: settings.countBy === "metrics"
    ? "server metrics (eth_server_frames_accepted_total), stdout to /dev/null"
    : "DATA lines in a stdout file",
  pinned: settings.pin
    ? `load generator on CPU ${settings.pin.load}, process under test on CPU ${settings.pin.target}`
    : "no",
};
await Deno.writeTextFile(
  values.out!,
  JSON.stringify({ run, scenarios: results }, null, 2) + "\n",
);

const errors = results.reduce((n, r) => n + r.errors + (r.lost ?? 0), 0);
console.log(
  `${run.nproc} x ${run.cpuModel}, ${
    Math.round(run.memTotalBytes / 2 ** 30)
  } GiB, Deno ${run.deno}; load average ${run.loadAverageBefore[0]} before, ${
    run.loadAverageAfter[0]
  } after; ${
    quick ? "quick" : "full"
  } run, ${settings.rounds} round(s) of ${settings.duration} s, ${settings.concurrency} clients; ${
    Math.round((Date.now() - started) / 1000)
  } s\n`,
);
console.log(table(results));
console.log(`\nWrote ${values.out}`);
// The smoke test fails on broken scenarios, errors and lost documents, not
// on missed targets: numbers on a shared machine are for people to judge.
if (failed > 0 || errors > 0) {
  console.error(
    `bench: ${failed} scenario(s) failed, ${errors} error(s) or lost document(s)`,
  );
  Deno.exit(1);
}
