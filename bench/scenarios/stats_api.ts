/**
 * Scenario 5: the stats API (`stats.ts` on the embedded store) under
 * concurrent keep-alive requests, against a bare `Deno.serve` answering a
 * constant under the same load.
 *
 * @module
 */
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { ROOT } from "../_proc.ts";
import {
  cpuPerOp,
  measure,
  type Measured,
  randomSuffix,
  type Settings,
  startHttpConstant,
  startStats,
  type Stopped,
  withProcess,
} from "../_harness.ts";
import { judge, median, type ScenarioResult } from "../_report.ts";

const PATHS = ["/api/summary", "/_cat/hashes"];
const DOCUMENTS = 2000;

/** Fills a SQLite store with `DOCUMENTS` documents from a few clients. */
async function seed(path: string): Promise<void> {
  const writer = SqliteWriter.open(path);
  try {
    const template = await BlockTemplate.load();
    const now = Date.now();
    const docs: ReceivedDocument[] = [];
    for (let i = 0; i < DOCUMENTS; i++) {
      const block = 21_000_000n + BigInt(i);
      const payload = template.render(block);
      docs.push({
        payload,
        hash: sha256Hex(payload),
        block,
        ip: `127.0.0.${1 + (i % 8)}`,
        port: 40000 + i,
        receivedAt: now - (DOCUMENTS - i) * 12_000,
        server: "bench",
      });
    }
    for (let i = 0; i < docs.length; i += 500) {
      await writer.save(docs.slice(i, i + 500));
    }
  } finally {
    await writer.close();
  }
}

function skipped(path: string, reason: string): ScenarioResult {
  return {
    id: `5-${path.replace(/[^a-z]+/g, "-").replace(/^-|-$/g, "")}`,
    scenario: 5,
    name: `stats API GET ${path}`,
    unit: "req/s",
    rate: null,
    p50Ms: null,
    p99Ms: null,
    peakRssBytes: null,
    errors: 0,
    skipped: reason,
  };
}

/** Why the stats API cannot be measured in this checkout, if it cannot. */
async function missing(): Promise<string | undefined> {
  try {
    await Deno.stat(`${ROOT}stats.ts`);
  } catch {
    return "stats.ts is not in this checkout";
  }
  return undefined;
}

/** Scenario 5: each stats route vs the bare Deno.serve. */
export async function scenario5(settings: Settings): Promise<ScenarioResult[]> {
  const why = await missing();
  if (why) return PATHS.map((p) => skipped(p, why));
  const store = `${settings.tmp}/stats-${randomSuffix()}.sqlite`;
  try {
    await seed(store);
  } catch (error) {
    const reason = `cannot seed the store: ${(error as Error).message}`;
    return PATHS.map((p) => skipped(p, reason));
  }
  try {
    const base: Measured[] = [];
    const ours = new Map<string, (Measured & { stopped: Stopped })[]>();
    const reasons = new Map<string, string>();
    for (let round = 0; round < settings.rounds; round++) {
      settings.log(`scenario 5, round ${round + 1}: bare Deno.serve`);
      const b = await withProcess(
        startHttpConstant(settings),
        (s) => measure(s, { mode: "http", path: "/" }, settings),
      );
      base.push(b.value);
      for (const path of PATHS) {
        if (reasons.has(path)) continue;
        settings.log(`scenario 5, round ${round + 1}: stats ${path}`);
        const run = await withProcess(
          startStats(["--sqlite-path", store], settings),
          async (s) => {
            const probe = await fetch(`http://127.0.0.1:${s.port}${path}`);
            await probe.body?.cancel();
            if (probe.status !== 200) {
              return `GET ${path} answers ${probe.status}`;
            }
            return await measure(s, { mode: "http", path }, settings);
          },
        );
        if (typeof run.value === "string") {
          reasons.set(path, run.value);
          continue;
        }
        ours.set(path, [...ours.get(path) ?? [], {
          ...run.value,
          stopped: run.stopped,
        }]);
      }
    }
    const baseline = median(base.map((b) => b.load.rate));
    const perRequest = (runs: Measured[]) => {
      const values = runs.map(cpuPerOp).filter((n) => n !== null);
      return values.length ? Math.round(median(values) * 100) / 100 : null;
    };
    return PATHS.map((path) => {
      const runs = ours.get(path) ?? [];
      const reason = reasons.get(path);
      if (reason || runs.length === 0) {
        return skipped(path, reason ?? "no run completed");
      }
      const rate = median(runs.map((r) => r.load.rate));
      const result: ScenarioResult = {
        ...skipped(path, ""),
        skipped: undefined,
        name:
          `stats API GET ${path} (${settings.concurrency} keep-alive clients, SQLite)`,
        rate,
        p50Ms: median(runs.map((r) => r.load.p50Ms ?? 0)),
        p99Ms: median(runs.map((r) => r.load.p99Ms ?? 0)),
        peakRssBytes: Math.max(
          ...runs.map((r) => r.stopped.usage?.peakRssBytes ?? 0),
        ),
        errors: runs.reduce((n, r) => n + r.load.errors, 0),
        cpuUsPerOp: perRequest(runs),
        baselineCpuUsPerOp: perRequest(base),
        baseline: { name: "bare Deno.serve", rate: baseline },
        ratio: baseline > 0 ? rate / baseline : 0,
        details: {
          documentsInStore: DOCUMENTS,
          ours: runs.map((r) => ({
            rate: Math.round(r.load.rate),
            serverCpuSeconds: r.cpuSeconds,
            loadCpuSeconds: r.load.cpuSeconds,
            bytesPerAnswer: Math.round(r.load.bytesIn / Math.max(1, r.load.ok)),
          })),
          baseline: base.map((b) => ({
            rate: Math.round(b.load.rate),
            serverCpuSeconds: b.cpuSeconds,
            loadCpuSeconds: b.load.cpuSeconds,
          })),
          errorKinds: Object.assign({}, ...runs.map((r) => r.load.errorKinds)),
        },
      };
      delete result.skipped;
      judge(result, { on: "ratio", op: ">=", value: 0.5 });
      return result;
    });
  } finally {
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(store + suffix).catch(() => {});
    }
  }
}
