/**
 * The bench's wait for room in the kernel's connection-tracking table
 * (`conntrackRoom` in bench/_proc.ts), driven by an injected table, and its
 * reading of the whole machine's CPU time (`readMachineCpu`), from a given
 * /proc/stat and from the real one while this process spins, and of the
 * database servers' CPU time (`readProcessesCpu`), from a made-up /proc and
 * the real one.
 */
import assert from "node:assert/strict";
import {
  conntrackRoom,
  readMachineCpu,
  readProcessesCpu,
} from "../../bench/_proc.ts";
import {
  machinePerOp,
  machineSplit,
  type Measured,
} from "../../bench/_harness.ts";

/** A table of `max` entries whose count reads as `counts`, then its last. */
function table(max: number, counts: number[]) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    read: (name: "count" | "max") =>
      name === "max" ? max : counts[Math.min(reads++, counts.length - 1)],
  };
}

Deno.test("conntrackRoom: waits while the table lacks room for the load, not once it has it", async () => {
  // 1,000 entries; a load of 300 needs the count at or below 600.
  const draining = table(1000, [900, 750, 601, 600]);
  const waited = await conntrackRoom(300, { pollMs: 5, read: draining.read });
  assert.equal(draining.reads, 4);
  assert.ok(waited >= 10, `waited ${waited} ms`);
  const roomy = table(1000, [600]);
  assert.equal(await conntrackRoom(300, { pollMs: 5, read: roomy.read }), 0);
  assert.equal(roomy.reads, 1);
});

Deno.test("conntrackRoom: a load larger than half the table waits for half; a full table only until the limit", async () => {
  // A load of 10,000 needs at most half of 1,000: a count of 400 is room.
  const half = table(1000, [401, 400]);
  await conntrackRoom(10_000, { pollMs: 1, read: half.read });
  assert.equal(half.reads, 2);
  const stuck = table(1000, [1000]);
  const waited = await conntrackRoom(100, {
    pollMs: 5,
    limitMs: 50,
    read: stuck.read,
  });
  assert.ok(waited >= 50 && waited < 1000, `waited ${waited} ms`);
});

Deno.test("conntrackRoom: no table (no netfilter) is no wait", async () => {
  assert.equal(await conntrackRoom(1e9, { read: () => NaN }), 0);
});

Deno.test("readMachineCpu: sums busy and idle ticks of /proc/stat's cpu line", () => {
  const stat = [
    // user nice system idle iowait irq softirq steal guest guest_nice
    "cpu  1000 20 300 5000 80 4 96 100 0 0",
    "cpu0 500 10 150 2500 40 2 48 50 0 0",
    "intr 123",
  ].join("\n");
  assert.deepEqual(readMachineCpu(() => stat), {
    busySeconds: (1000 + 20 + 300 + 4 + 96 + 100) / 100,
    idleSeconds: (5000 + 80) / 100,
  });
  assert.equal(readMachineCpu(() => "intr 1"), undefined);
  assert.equal(
    readMachineCpu(() => {
      throw new Deno.errors.NotFound("no /proc");
    }),
    undefined,
  );
});

Deno.test("readMachineCpu: the real /proc/stat counts this process's spinning as busy", () => {
  const before = readMachineCpu();
  assert.ok(before, "no /proc/stat on this machine");
  const until = performance.now() + 300;
  let spins = 0;
  while (performance.now() < until) spins++;
  const after = readMachineCpu()!;
  const busy = after.busySeconds - before.busySeconds;
  const idle = after.idleSeconds - before.idleSeconds;
  // At least most of one CPU for the 0.3 s spun (ticks are 10 ms).
  assert.ok(busy >= 0.2, `busy ${busy} s over ${spins} spins`);
  assert.ok(idle >= 0, `idle ${idle} s`);
});

Deno.test("machinePerOp: the machine's busy CPU per operation, and the busy share", () => {
  const measured = (ok: number, machine?: Measured["machine"]) =>
    ({ load: { ok }, cpuSeconds: 0, machine }) as unknown as Measured;
  const m = machinePerOp(
    measured(10_000, { busySeconds: 1.8, idleSeconds: 0.2 }),
  );
  assert.deepEqual(m, { usPerOp: 180, busy: 0.9 });
  assert.equal(machinePerOp(measured(10_000)), null);
  assert.equal(
    machinePerOp(measured(0, { busySeconds: 1, idleSeconds: 1 })),
    null,
  );
});

/** A `/proc/<pid>/stat` line with these user and system ticks. */
function statLine(pid: number, comm: string, utime: number, stime: number) {
  // Fields 3-13 (state to cmajflt) before utime and stime, then the rest.
  return `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 ` +
    `${utime} ${stime} 0 0 20 0 1 0 100 1000 10`;
}

Deno.test("readProcessesCpu: sums the CPU of the processes with those names, no others", () => {
  const root = Deno.makeTempDirSync({ prefix: "proc-test-" });
  try {
    const proc = (pid: string, comm: string, stat?: string) => {
      Deno.mkdirSync(`${root}/${pid}`);
      Deno.writeTextFileSync(`${root}/${pid}/comm`, `${comm}\n`);
      if (stat) Deno.writeTextFileSync(`${root}/${pid}/stat`, stat);
    };
    proc("100", "mariadbd", statLine(100, "mariadbd", 150, 50));
    // A name with a space and a parenthesis: fields follow the last ')'.
    proc(
      "200",
      "redis-server",
      statLine(200, "redis-server *:6379) x", 30, 20),
    );
    proc("300", "deno", statLine(300, "deno", 9000, 9000));
    // Gone between listing and reading: skipped.
    proc("400", "mariadbd");
    // Not a process.
    proc("self", "mariadbd", statLine(1, "mariadbd", 7000, 7000));
    assert.equal(readProcessesCpu(["mariadbd", "redis-server"], root), 2.5);
    assert.equal(readProcessesCpu(["mysqld"], root), 0);
    assert.equal(readProcessesCpu(["mariadbd"], `${root}/none`), undefined);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("readProcessesCpu: the real /proc counts this process's spinning under its name", () => {
  const name = Deno.readTextFileSync("/proc/self/comm").trim();
  const before = readProcessesCpu([name]);
  assert.ok(before !== undefined, "no /proc on this machine");
  const until = performance.now() + 300;
  while (performance.now() < until) {
    // Spin.
  }
  const spent = readProcessesCpu([name])! - before;
  assert.ok(spent >= 0.2, `${name} processes spent ${spent} s`);
});

Deno.test("machineSplit: the machine's CPU per operation by process, the rest as other", () => {
  const measured = (databasesCpuSeconds?: number) =>
    ({
      load: { ok: 10_000, cpuSeconds: 0.6 },
      cpuSeconds: 0.8,
      machine: { busySeconds: 2, idleSeconds: 0.4 },
      databasesCpuSeconds,
    }) as unknown as Measured;
  const split = machineSplit(measured(0.3))!;
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(split).map(([k, v]) => [k, Math.round(v * 1000) / 1000]),
    ),
    { server: 80, load: 60, databases: 30, other: 30 },
  );
  assert.equal(machineSplit(measured()), null);
});
