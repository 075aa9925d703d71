/**
 * The bench's results table (`table` in bench/_report.ts): a ratio target
 * prints as the issue states it, not rounded to another bar.
 */
import assert from "node:assert/strict";
import { judge, type ScenarioResult, table } from "../../bench/_report.ts";

function result(ratio: number): ScenarioResult {
  return {
    id: "8-no-store",
    scenario: 8,
    name: "ours, --no-store",
    unit: "docs/s",
    rate: 13_976,
    p50Ms: 1.88,
    p99Ms: 6.53,
    peakRssBytes: null,
    errors: 0,
    baseline: { name: "ok-only sink", rate: 13_976 / ratio },
    ratio,
  };
}

Deno.test("table: a ratio target keeps its two decimals (0.95 is not 1.0)", () => {
  const met = result(0.99);
  judge(met, { on: "ratio", op: ">=", value: 0.95 });
  const missed = result(0.72);
  judge(missed, { on: "ratio", op: ">=", value: 0.8 });
  const text = table([met, missed]);
  assert.match(text, /\| 0\.99 \| 13,976 docs\/s \|.*\| met \(>= 0\.95\) \|/);
  assert.match(text, /\| 0\.72 \|.*\| MISSED \(>= 0\.80\) \|/);
});
