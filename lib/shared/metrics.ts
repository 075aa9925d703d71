/**
 * A minimal Prometheus registry: counters, gauges and histograms with
 * labels, rendered in the text exposition format (version 0.0.4).
 *
 * @module
 */
import process from "node:process";
import denoJson from "../../deno.json" with { type: "json" };

/** This build's version (deno.json's `version`). */
export const VERSION: string = denoJson.version;

/** Label names to values. */
export type Labels = Record<string, string>;

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  name: string;
  help: string;
  kind: Kind;
  buckets?: number[];
  series: Map<
    string,
    { labels: Labels; value: number; counts?: number[]; sum?: number }
  >;
  collect?: () => Iterable<[Labels, number]> | number;
}

/** Default latency buckets, in seconds. */
export const DEFAULT_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/** The content type of {@linkcode Registry.render}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A counter or gauge handle. */
export interface Metric {
  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels?: Labels, by?: number): void;
  /** Sets the series of `labels` (gauges). */
  set(value: number, labels?: Labels): void;
}

/** A histogram handle. */
export interface Histogram {
  /** Records one observation. */
  observe(value: number, labels?: Labels): void;
}

/**
 * Holds metric families and renders them. Families can also be computed at
 * scrape time from live counters with {@linkcode Registry.collect}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Registry } from "./metrics.ts";
 * const r = new Registry();
 * r.counter("eth_polls_total", "Polls made.").inc();
 * assert.equal(
 *   r.render(),
 *   "# HELP eth_polls_total Polls made.\n# TYPE eth_polls_total counter\neth_polls_total 1\n",
 * );
 * ```
 */
export class Registry {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, kind: Kind, buckets?: number[]) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
      throw new TypeError(`Invalid metric name ${JSON.stringify(name)}`);
    }
    let family = this.#families.get(name);
    if (!family) {
      family = { name, help, kind, buckets, series: new Map() };
      this.#families.set(name, family);
    }
    return family;
  }

  /** Registers (or returns) a counter. */
  counter(name: string, help: string): Metric {
    return this.#scalar(this.#family(name, help, "counter"));
  }

  /** Registers (or returns) a gauge. */
  gauge(name: string, help: string): Metric {
    return this.#scalar(this.#family(name, help, "gauge"));
  }

  /**
   * Registers a family whose series are read at render time: `read` returns
   * one value, or label/value pairs.
   */
  collect(
    name: string,
    help: string,
    kind: "counter" | "gauge",
    read: () => Iterable<[Labels, number]> | number,
  ): void {
    this.#family(name, help, kind).collect = read;
  }

  /** Registers (or returns) a histogram with `buckets` (seconds). */
  histogram(
    name: string,
    help: string,
    buckets: number[] = DEFAULT_BUCKETS,
  ): Histogram {
    const family = this.#family(name, help, "histogram", buckets);
    return {
      observe: (value, labels = {}) => {
        const s = series(family, labels);
        s.counts ??= family.buckets!.map(() => 0);
        s.sum = (s.sum ?? 0) + value;
        s.value++;
        family.buckets!.forEach((b, i) => {
          if (value <= b) s.counts![i]++;
        });
      },
    };
  }

  #scalar(family: Family): Metric {
    return {
      inc: (labels = {}, by = 1) => {
        series(family, labels).value += by;
      },
      set: (value, labels = {}) => {
        series(family, labels).value = value;
      },
    };
  }

  /** Renders every family in the Prometheus text format. */
  render(): string {
    const lines: string[] = [];
    for (const f of this.#families.values()) {
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
      lines.push(`# TYPE ${f.name} ${f.kind}`);
      if (f.collect) {
        const read = f.collect();
        const pairs = typeof read === "number" ? [[{}, read] as const] : read;
        for (const [labels, value] of pairs) {
          lines.push(`${f.name}${formatLabels(labels)} ${formatValue(value)}`);
        }
        continue;
      }
      for (const s of f.series.values()) {
        if (f.kind !== "histogram") {
          lines.push(
            `${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}`,
          );
          continue;
        }
        f.buckets!.forEach((b, i) => {
          lines.push(
            `${f.name}_bucket${formatLabels({ ...s.labels, le: String(b) })} ${
              s.counts![i]
            }`,
          );
        });
        lines.push(
          `${f.name}_bucket${
            formatLabels({ ...s.labels, le: "+Inf" })
          } ${s.value}`,
        );
        lines.push(
          `${f.name}_sum${formatLabels(s.labels)} ${formatValue(s.sum!)}`,
        );
        lines.push(`${f.name}_count${formatLabels(s.labels)} ${s.value}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

function series(family: Family, labels: Labels) {
  const key = seriesKey(labels);
  let s = family.series.get(key);
  if (!s) {
    s = { labels, value: 0 };
    family.series.set(key, s);
  }
  return s;
}

/**
 * Runs on every observation (twice per stats API request): a third of the
 * cost of JSON of the sorted entries, and as unambiguous, since values are
 * JSON-quoted after the `=`.
 */
function seriesKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = "";
  for (const name of names) key += `${name}=${JSON.stringify(labels[name])},`;
  return key;
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${
    entries.map(([k, v]) =>
      `${k}="${
        v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll(
          '"',
          '\\"',
        )
      }"`
    ).join(",")
  }}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function countOpenFds(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

function maxFds(): number {
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return m && m[1] !== "unlimited" ? Number(m[1]) : Infinity;
}

/** Whether `read` works here (Linux `/proc`, read permission). */
function works(read: () => number): boolean {
  try {
    read();
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds what every official Prometheus client exports by default:
 * `process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `process_start_time_seconds`, and where `/proc` can be read
 * `process_open_fds` and `process_max_fds`; plus
 * `eth_build_info{program,version,deno}` (always 1), so a dashboard can
 * tell which build each instance runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registerProcessMetrics, Registry } from "./metrics.ts";
 * const r = new Registry();
 * registerProcessMetrics(r, "stats");
 * assert.match(r.render(), /^process_resident_memory_bytes \d+$/m);
 * ```
 */
export function registerProcessMetrics(
  registry: Registry,
  program: string,
): void {
  registry.collect(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    "counter",
    () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    },
  );
  registry.collect(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    "gauge",
    () => Deno.memoryUsage().rss,
  );
  const started = Math.round(performance.timeOrigin) / 1000;
  registry.collect(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
    "gauge",
    () => started,
  );
  if (works(countOpenFds)) {
    registry.collect(
      "process_open_fds",
      "Number of open file descriptors.",
      "gauge",
      () => {
        try {
          return countOpenFds();
        } catch {
          return NaN;
        }
      },
    );
  }
  if (works(maxFds)) {
    const max = maxFds();
    registry.collect(
      "process_max_fds",
      "Maximum number of open file descriptors.",
      "gauge",
      () => max,
    );
  }
  const labels = { program, version: VERSION, deno: Deno.version.deno };
  registry.collect(
    "eth_build_info",
    "Which build runs: always 1, labelled by program, version and Deno.",
    "gauge",
    () => [[labels, 1]],
  );
}
