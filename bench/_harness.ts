/**
 * The pieces every scenario uses: run settings, the load generator as a
 * child process, and the processes under test (our server, our stats API,
 * the two baselines), each on a free port of 127.0.0.1.
 *
 * @module
 */
import type { LoadResult } from "./load.ts";
import {
  conntrackRoom,
  countLines,
  DATABASE_SERVERS,
  freePort,
  LOAD_MAX_CONNECTIONS_PER_SECOND,
  type MachineCpu,
  Proc,
  ProcessError,
  readMachineCpu,
  readProcessesCpu,
  type Usage,
  waitForPort,
} from "./_proc.ts";

/** How long and how hard the suite runs. */
export interface Settings {
  /** `--quick`: short runs, one round. */
  quick: boolean;
  /** Seconds of warmup before each measured window. */
  warmup: number;
  /** Seconds measured per run. */
  duration: number;
  /** Rounds of baseline/ours pairs; medians are reported. */
  rounds: number;
  /** Concurrent clients of the load generator. */
  concurrency: number;
  /** A temporary folder for stdout files and SQLite stores. */
  tmp: string;
  /** Progress lines (stderr). */
  log: (message: string) => void;
  /**
   * CPUs to pin to, when pinning: the load generator on one, the process
   * under test on the other, so neither takes cycles from the other.
   */
  pin?: { load: number; target: number };
  /**
   * How documents the server printed are counted: its
   * `eth_server_frames_accepted_total` on `--metrics-port` (stdout then goes
   * to /dev/null), or DATA lines in a stdout file where the server has no
   * metrics port.
   */
  countBy: "metrics" | "stdout";
}

/** Options of one load generator run, as its flags. */
export type LoadArgs = Record<string, string | number>;

/** A load generator run's report plus what the generator itself cost. */
export type LoadReport = LoadResult;

/**
 * Waits until the kernel's connection-tracking table has room for a load
 * run of `args` (see `conntrackRoom`), logging any wait.
 */
export async function roomForLoad(
  args: LoadArgs,
  settings: Settings,
): Promise<void> {
  const seconds = Number(args.warmup ?? settings.warmup) +
    Number(args.duration ?? settings.duration);
  const waited = await conntrackRoom(
    seconds * LOAD_MAX_CONNECTIONS_PER_SECOND,
  );
  if (waited > 0) {
    settings.log(
      `waited ${Math.round(waited / 1000)} s for the kernel's connection ` +
        `tracking table to drain (closed connections stay in it 2 min)`,
    );
  }
}

/** Runs `bench/load.ts` once against `port` and returns its report. */
export async function runLoad(
  port: number,
  args: LoadArgs,
  settings: Settings,
): Promise<LoadReport> {
  const flags = Object.entries({
    warmup: settings.warmup,
    duration: settings.duration,
    concurrency: settings.concurrency,
    ...args,
  }).flatMap(([k, v]) => [`--${k}`, String(v)]);
  await roomForLoad(args, settings);
  const proc = Proc.deno("load generator", "bench/load.ts", [
    "--port",
    String(port),
    ...flags,
  ], { stdout: "piped", cpu: settings.pin?.load });
  const budget = (settings.warmup + settings.duration) * 1000 + 60_000;
  const text = await proc.output(budget);
  return JSON.parse(text.trim().split("\n").at(-1)!) as LoadResult;
}

/** A load run and the CPU time it cost the process under test. */
export interface Measured {
  load: LoadReport;
  /** CPU seconds the process under test used during the run. */
  cpuSeconds: number;
  /**
   * The whole machine's busy and idle CPU seconds during the run (every
   * process: the load generator, the stores), where /proc/stat exists.
   */
  machine?: MachineCpu;
  /**
   * CPU seconds the database servers on this machine (MariaDB, Redis: see
   * `DATABASE_SERVERS`) used during the run, where /proc exists.
   */
  databasesCpuSeconds?: number;
}

/** Runs the load generator against `running`, timing its CPU use. */
export async function measure(
  running: Running,
  load: LoadArgs,
  settings: Settings,
): Promise<Measured> {
  // Waited for first, so an idle machine's wait counts in neither figure.
  await roomForLoad(load, settings);
  const before = running.proc.usage()?.cpuSeconds ?? 0;
  const machineBefore = readMachineCpu();
  const databasesBefore = readProcessesCpu(DATABASE_SERVERS);
  const report = await runLoad(running.port, load, settings);
  const databasesAfter = readProcessesCpu(DATABASE_SERVERS);
  const machineAfter = readMachineCpu();
  const after = running.proc.usage()?.cpuSeconds ?? before;
  const machine = machineBefore && machineAfter
    ? {
      busySeconds: machineAfter.busySeconds - machineBefore.busySeconds,
      idleSeconds: machineAfter.idleSeconds - machineBefore.idleSeconds,
    }
    : undefined;
  const databasesCpuSeconds =
    databasesBefore !== undefined && databasesAfter !== undefined
      ? databasesAfter - databasesBefore
      : undefined;
  return {
    load: report,
    cpuSeconds: after - before,
    machine,
    ...(databasesCpuSeconds !== undefined ? { databasesCpuSeconds } : {}),
  };
}

/** CPU microseconds per successful operation. */
export function cpuPerOp(m: Measured): number | null {
  return m.load.ok > 0 ? (m.cpuSeconds * 1e6) / m.load.ok : null;
}

/**
 * The whole machine's busy CPU microseconds per successful operation, and
 * how busy it was (the share of all CPUs' time); null without /proc/stat.
 */
export function machinePerOp(
  m: Measured,
): { usPerOp: number; busy: number } | null {
  const c = m.machine;
  if (!c || m.load.ok <= 0 || c.busySeconds + c.idleSeconds <= 0) return null;
  return {
    usPerOp: (c.busySeconds * 1e6) / m.load.ok,
    busy: c.busySeconds / (c.busySeconds + c.idleSeconds),
  };
}

/** Where a run's busy CPU went, in microseconds per successful operation. */
export interface MachineSplit {
  /** The process under test. */
  server: number;
  /** The load generator. */
  load: number;
  /** The database servers on this machine (`DATABASE_SERVERS`). */
  databases: number;
  /** Everything else: the kernel's threads, other programs. */
  other: number;
}

/**
 * Splits {@linkcode machinePerOp}'s figure by process; null without
 * /proc or without the database servers' figure.
 */
export function machineSplit(m: Measured): MachineSplit | null {
  const whole = machinePerOp(m);
  if (!whole || m.databasesCpuSeconds === undefined) return null;
  const perOp = (seconds: number) => (seconds * 1e6) / m.load.ok;
  const server = perOp(m.cpuSeconds);
  const load = perOp(m.load.cpuSeconds);
  const databases = perOp(m.databasesCpuSeconds);
  return {
    server,
    load,
    databases,
    other: whole.usPerOp - server - load - databases,
  };
}

/** A process under test, listening on `port`. */
export interface Running {
  name: string;
  proc: Proc;
  port: number;
  /** Where its stdout goes, when kept. */
  stdoutFile?: string;
  /** Its metrics port, when it serves one. */
  metricsPort?: number;
  /** How long {@linkcode stop} waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}

/** What a stopped process left: its usage and its stdout line count. */
export interface Stopped {
  usage: Usage | undefined;
  /**
   * Documents our server printed: DATA lines in its stdout file, or its
   * accepted-frames counter (read just before the stop).
   */
  printed?: number;
  /** Its stderr tail. */
  stderr: string;
  /** Its stdout, when piped. */
  stdout: string;
}

async function started(
  name: string,
  spawn: (port: number, metricsPort: number) => Proc,
  extra: { stdoutFile?: string; metrics?: boolean } = {},
): Promise<Running> {
  // A port found free can be taken before the child binds it (other
  // programs share this machine): try another one then.
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const metricsPort = freePort();
    const proc = spawn(port, metricsPort);
    try {
      await waitForPort(port, proc);
      if (extra.metrics) await waitForPort(metricsPort, proc);
      return {
        name,
        proc,
        port,
        stdoutFile: extra.stdoutFile,
        metricsPort: extra.metrics ? metricsPort : undefined,
      };
    } catch (error) {
      await proc[Symbol.asyncDispose]();
      if (attempt < 3 && /AddrInUse|in use/i.test(proc.stderrTail)) continue;
      throw new ProcessError(`${name} did not start`, { cause: error });
    }
  }
}

/** Starts the bare TCP sink baseline. */
export function startSink(settings: Settings): Promise<Running> {
  return started(
    "bare TCP sink",
    (port) =>
      Proc.deno("sink", "bench/sink.ts", ["--port", String(port)], {
        stdout: "piped",
        cpu: settings.pin?.target,
      }),
  );
}

/**
 * Starts a baseline of the acknowledged path (`bench/durable_sink.ts`):
 * durable when `path` is given (append, then `fdatasync`, then `ok`), else
 * ok-only (answers `ok` at the end of input and writes nothing).
 */
export function startDurableSink(
  settings: Settings,
  path?: string,
): Promise<Running> {
  return started(
    path === undefined ? "ok-only sink" : "durable sink",
    (port) =>
      Proc.deno("durable sink", "bench/durable_sink.ts", [
        "--port",
        String(port),
        ...(path === undefined ? [] : ["--path", path]),
      ], { stdout: "piped", cpu: settings.pin?.target }),
  );
}

/** Starts the bare Deno.serve baseline. */
export function startHttpConstant(settings: Settings): Promise<Running> {
  return started(
    "bare Deno.serve",
    (port) =>
      Proc.deno("http constant", "bench/http_constant.ts", [
        "--port",
        String(port),
      ], { cpu: settings.pin?.target }),
  );
}

/**
 * Starts `server.ts` on 127.0.0.1 with `args`, counting what it prints as
 * {@linkcode Settings.countBy} says.
 */
export function startServer(
  args: string[],
  settings: Settings,
): Promise<Running> {
  const metrics = settings.countBy === "metrics";
  const stdoutFile = metrics
    ? undefined
    : `${settings.tmp}/stdout-${randomSuffix()}.txt`;
  return started(
    "server",
    (port, metricsPort) =>
      Proc.deno(
        "server",
        "server.ts",
        [
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          ...(metrics ? ["--metrics-port", String(metricsPort)] : []),
          // A spool of its own in the run's temporary folder, never the
          // default `eth.spool/<port>` in the working directory.
          "--spool-dir",
          `${settings.tmp}/spool-${randomSuffix()}`,
          ...args,
        ],
        {
          stdout: stdoutFile ? { file: stdoutFile } : "null",
          cpu: settings.pin?.target,
        },
      ),
    { stdoutFile, metrics },
  );
}

/** Reads one unlabelled sample from a Prometheus text page. */
async function scrape(port: number, name: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  if (!m) throw new ProcessError(`No ${name} on the metrics port`);
  return Number(m[1]);
}

/** Starts `stats.ts` on 127.0.0.1 with `args`. */
export function startStats(
  args: string[],
  settings: Settings,
): Promise<Running> {
  return started(
    "stats API",
    (port) =>
      Proc.deno("stats", "stats.ts", [
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        ...args,
      ], { cpu: settings.pin?.target }),
  );
}

/**
 * Stops a process with SIGTERM (so our server drains and flushes), then
 * counts its stdout lines when they were kept.
 */
export async function stop(running: Running): Promise<Stopped> {
  let printed: number | undefined;
  if (running.metricsPort !== undefined) {
    try {
      printed = await scrape(
        running.metricsPort,
        "eth_server_frames_accepted_total",
      );
    } catch (error) {
      await running.proc[Symbol.asyncDispose]();
      throw new ProcessError(
        `Cannot read ${running.name}'s metrics (${
          (error as Error).message
        }); its stderr ends:\n${running.proc.stderrTail}`,
        { cause: error },
      );
    }
  }
  const usage = await running.proc.stop(running.stopGraceMs);
  if (running.stdoutFile) {
    printed = await countLines(running.stdoutFile);
    await Deno.remove(running.stdoutFile).catch(() => {});
  }
  return {
    usage,
    printed,
    stderr: running.proc.stderrTail,
    stdout: await running.proc.stdoutText(),
  };
}

/** Runs `body` with a started process and always stops it. */
export async function withProcess<T>(
  start: Promise<Running>,
  body: (running: Running) => Promise<T>,
): Promise<{ value: T; stopped: Stopped }> {
  const running = await start;
  let value: T;
  try {
    value = await body(running);
  } catch (error) {
    await running.proc[Symbol.asyncDispose]();
    throw error;
  }
  return { value, stopped: await stop(running) };
}

/** A short random suffix for database names and key prefixes. */
export function randomSuffix(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 10);
}
