/**
 * What the suite reports: one {@linkcode ScenarioResult} per scenario, the
 * machine it ran on, and the table printed and pasted into the README.
 *
 * @module
 */

/** A target a scenario is judged against. */
export interface Target {
  /** What is compared: the ratio to the baseline, or the rate itself. */
  on: "ratio" | "rate" | "peakRssMB" | "p99Ms";
  /** `>=` for rates and ratios, `<=` for memory. */
  op: ">=" | "<=";
  value: number;
}

/** One scenario's outcome, as written to results.json. */
export interface ScenarioResult {
  /** Stable id, e.g. `1`, `2-mysql-redis`, `4-netstring-decode`. */
  id: string;
  /** Scenario number of the issue (1-6). */
  scenario: number;
  /** What was measured, for the table. */
  name: string;
  /** Unit of `rate`, e.g. `docs/s`, `req/s`, `MB/s`, `ops/s`. */
  unit: string;
  /** Throughput (median over rounds), or null when not a rate. */
  rate: number | null;
  /** Latency percentiles of one operation, in ms, where measured. */
  p50Ms: number | null;
  p99Ms: number | null;
  /**
   * CPU time the process under test spent per operation, in microseconds
   * (median over rounds), and the baseline's under the same load: the cost
   * comparison, which a saturated load generator cannot hide.
   */
  cpuUsPerOp?: number | null;
  baselineCpuUsPerOp?: number | null;
  /** Peak RSS of the process under test, in bytes, where measured. */
  peakRssBytes: number | null;
  /** Failed operations seen by the load generator (all rounds). */
  errors: number;
  /** Documents acknowledged to the load generator but not printed/stored. */
  lost?: number;
  /** The baseline run under the same load, when one applies. */
  baseline?: { name: string; rate: number };
  /** rate / baseline.rate. */
  ratio?: number;
  /** What the issue asks for, and whether it was met. */
  target?: Target & { met: boolean };
  /** Why the scenario did not run; no numbers are given then. */
  skipped?: string;
  /** Anything a reader needs to interpret the numbers. */
  note?: string;
  /** Raw figures behind the summary (rounds, counts, CPU time). */
  details?: Record<string, unknown>;
}

/** The machine and conditions of a run. */
export interface RunInfo {
  date: string;
  quick: boolean;
  nproc: number;
  cpuModel: string;
  memTotalBytes: number;
  deno: string;
  /** 1-minute load average before and after the run. */
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  /** Seconds measured per round, and rounds per comparison. */
  durationSeconds: number;
  rounds: number;
  concurrency: number;
  /** Whether and how processes were pinned to CPUs. */
  pinned: string;
  /** How the server's printed documents were counted. */
  countedBy: string;
}

/** Reads the machine description from /proc. */
export function machineInfo(): Omit<
  RunInfo,
  | "date"
  | "quick"
  | "loadAverageBefore"
  | "loadAverageAfter"
  | "durationSeconds"
  | "rounds"
  | "concurrency"
  | "pinned"
  | "countedBy"
> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const meminfo = Deno.readTextFileSync("/proc/meminfo");
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    memTotalBytes: Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) *
      1024,
    deno: Deno.version.deno,
  };
}

/** The load averages (1, 5, 15 minutes). */
export function loadAverage(): number[] {
  return Deno.loadavg().map((n) => Math.round(n * 100) / 100);
}

/** Decides whether `result` meets `target`. */
export function judge(result: ScenarioResult, target: Target): void {
  const value = target.on === "ratio"
    ? result.ratio
    : target.on === "rate"
    ? result.rate
    : target.on === "p99Ms"
    ? result.p99Ms
    : result.peakRssBytes === null
    ? undefined
    : result.peakRssBytes / 1e6;
  const met = value !== undefined && value !== null &&
    (target.op === ">=" ? value >= target.value : value <= target.value);
  result.target = { ...target, met };
}

function fmtNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function fmtTarget(r: ScenarioResult): string {
  if (r.skipped) return "skipped";
  const t = r.target;
  if (!t) return "";
  const what = t.on === "ratio"
    ? ""
    : t.on === "rate"
    ? ` ${r.unit}`
    : t.on === "p99Ms"
    ? " ms p99"
    : " MB";
  return `${t.met ? "met" : "MISSED"} (${t.op} ${
    fmtNumber(t.value, t.on === "ratio" ? 2 : 0)
  }${what})`;
}

/**
 * Renders results as a Markdown table: comparisons with a baseline first,
 * then absolute figures, each group in scenario order.
 */
export function table(all: ScenarioResult[]): string {
  const results = [
    ...all.filter((r) => r.baseline !== undefined),
    ...all.filter((r) => r.baseline === undefined),
  ];
  const header = [
    "#",
    "scenario",
    "ratio",
    "rate",
    "baseline",
    "p50 / p99 ms",
    "CPU µs/op (baseline)",
    "peak RSS MB",
    "errors / lost",
    "target",
  ];
  const rows = results.map((r) => {
    if (r.skipped) {
      return [
        String(r.scenario),
        r.name,
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        `skipped: ${r.skipped}`,
      ];
    }
    return [
      String(r.scenario),
      r.name,
      r.ratio === undefined ? "-" : fmtNumber(r.ratio, 2),
      r.rate === null
        ? "-"
        : `${fmtNumber(r.rate, r.rate < 100 ? 1 : 0)} ${r.unit}`,
      r.baseline ? `${fmtNumber(r.baseline.rate)} (${r.baseline.name})` : "-",
      r.p50Ms === null
        ? "-"
        : `${fmtNumber(r.p50Ms, 2)} / ${fmtNumber(r.p99Ms, 2)}`,
      r.cpuUsPerOp === undefined || r.cpuUsPerOp === null
        ? "-"
        : `${fmtNumber(r.cpuUsPerOp, 1)}${
          r.baselineCpuUsPerOp ? ` (${fmtNumber(r.baselineCpuUsPerOp, 1)})` : ""
        }`,
      r.peakRssBytes === null ? "-" : fmtNumber(r.peakRssBytes / 1e6, 0),
      r.lost === undefined ? String(r.errors) : `${r.errors} / ${r.lost}`,
      fmtTarget(r),
    ];
  });
  const lines = [header, header.map(() => "---"), ...rows].map((cells) =>
    `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`
  );
  return lines.join("\n");
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
