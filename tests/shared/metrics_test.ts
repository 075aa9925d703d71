// Process metrics and build info: the families every official Prometheus
// client exports, valid in the text format, with plausible values.
import assert from "node:assert/strict";
import {
  registerProcessMetrics,
  Registry,
  VERSION,
} from "../../lib/shared/metrics.ts";
import { parseMetrics } from "../_helpers/stats.ts";

Deno.test("metrics: process_* and eth_build_info", () => {
  const registry = new Registry();
  registerProcessMetrics(registry, "server");
  const page = parseMetrics(registry.render());
  const value = (name: string) =>
    page.samples.find((s) => s.name === name)?.value;
  assert.equal(page.types.get("process_cpu_seconds_total"), "counter");
  assert.ok(value("process_cpu_seconds_total")! > 0);
  assert.ok(value("process_resident_memory_bytes")! > 10_000_000);
  const start = value("process_start_time_seconds")!;
  assert.ok(start <= Date.now() / 1000 && start > Date.now() / 1000 - 600);
  assert.ok(value("process_open_fds")! >= 3);
  assert.ok(value("process_max_fds")! >= value("process_open_fds")!);
  const info = page.samples.find((s) => s.name === "eth_build_info")!;
  assert.deepEqual(info.labels, {
    program: "server",
    version: VERSION,
    deno: Deno.version.deno,
  });
  assert.equal(info.value, 1);
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
});
