/**
 * Scenario 4: the `deno bench` micro-benchmarks (bench/*_bench.ts), run as
 * a subprocess with `--json` and turned into one result per benchmark.
 *
 * @module
 */
import { BENCH_BYTES } from "../_fixtures.ts";
import { BENCH_DIR, Proc } from "../_proc.ts";
import type { Settings } from "../_harness.ts";
import { judge, type ScenarioResult } from "../_report.ts";

interface BenchJson {
  benches: {
    origin: string;
    group: string | null;
    name: string;
    results: { ok?: { avg: number; p75: number; p99: number; n: number } }[];
  }[];
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Runs every micro-benchmark and reports ops/s, or MB/s where sized. */
export async function scenario4(settings: Settings): Promise<ScenarioResult[]> {
  settings.log("scenario 4: deno bench");
  const proc = Proc.start("deno bench", Deno.execPath(), [
    "bench",
    "-A",
    "--json",
    BENCH_DIR,
  ], { stdout: "piped" });
  const report = JSON.parse(await proc.output(300_000)) as BenchJson;
  const results: ScenarioResult[] = [];
  for (const bench of report.benches) {
    const ok = bench.results[0]?.ok;
    const name = `${bench.group ?? "micro"}: ${bench.name}`;
    const id = `4-${slug(name)}`;
    if (!ok) {
      results.push({
        id,
        scenario: 4,
        name,
        unit: "ops/s",
        rate: null,
        p50Ms: null,
        p99Ms: null,
        peakRssBytes: null,
        errors: 1,
        note: "the benchmark failed",
      });
      continue;
    }
    const bytes = BENCH_BYTES[bench.name];
    // deno bench times are in nanoseconds per iteration.
    const result: ScenarioResult = {
      id,
      scenario: 4,
      name,
      unit: bytes ? "MB/s" : "ops/s",
      rate: bytes ? (bytes / ok.avg) * 1000 : 1e9 / ok.avg,
      p50Ms: null,
      p99Ms: null,
      peakRssBytes: null,
      errors: 0,
      details: { avgNs: ok.avg, p75Ns: ok.p75, p99Ns: ok.p99, bytes },
    };
    if (bench.name === "decode 1 MiB of document frames") {
      judge(result, { on: "rate", op: ">=", value: 500 });
    }
    results.push(result);
  }
  return results;
}
