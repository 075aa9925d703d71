/**
 * Running the processes a benchmark measures, and reading what they cost
 * from /proc: resident memory (now and peak) and CPU time, theirs and the
 * whole machine's.
 *
 * @module
 */

import { abortableSleep } from "../lib/shared/async.ts";

/** The repository root, where `server.ts` and `stats.ts` live. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** The bench folder. */
export const BENCH_DIR: string = new URL("./", import.meta.url).pathname;

/** A process failed to start or exited badly. */
export class ProcessError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProcessError";
  }
}

/** Where a spawned process's stdout goes. */
export type StdoutTarget = "null" | "piped" | { file: string };

/** Options for {@linkcode Proc.start}. */
export interface ProcOptions {
  /** stdout: discarded (default), piped to us, or redirected to a file. */
  stdout?: StdoutTarget;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Run on this CPU only (`taskset -c`). */
  cpu?: number;
}

/** Memory and CPU a process used, read from /proc. */
export interface Usage {
  /** Resident set now, in bytes. */
  rssBytes: number;
  /** Peak resident set (VmHWM), in bytes. */
  peakRssBytes: number;
  /** User + system CPU time since start, in seconds. */
  cpuSeconds: number;
}

const TICKS_PER_SECOND = 100;

/** User + system CPU seconds from a `/proc/<pid>/stat` line. */
function statCpuSeconds(stat: string): number {
  // The command name may hold spaces; the fields we want follow its ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Reads a live process's memory and CPU time; undefined once it is gone. */
export function readUsage(pid: number): Usage | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const kb = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : 0;
    };
    const cpu = statCpuSeconds(stat);
    return {
      rssBytes: kb("VmRSS"),
      peakRssBytes: kb("VmHWM"),
      cpuSeconds: cpu,
    };
  } catch {
    return undefined;
  }
}

/** The whole machine's CPU time, read from /proc/stat, in seconds. */
export interface MachineCpu {
  /** Time the CPUs ran anything (user, nice, system, irq, softirq, steal). */
  busySeconds: number;
  /** Time they were idle or waiting for I/O. */
  idleSeconds: number;
}

/**
 * Reads the machine's CPU time from `/proc/stat`'s `cpu` line, summed over
 * all CPUs; undefined where there is none. Scenario 8 divides what a run
 * adds by its documents: on two cores the load generator, the server and
 * its stores share, that whole-machine cost per document, not the server's
 * own, is what sets a closed loop's rate once the machine is nearly busy.
 */
export function readMachineCpu(
  text: () => string = () => Deno.readTextFileSync("/proc/stat"),
): MachineCpu | undefined {
  let line: string | undefined;
  try {
    line = text().split("\n").find((l) => l.startsWith("cpu "));
  } catch {
    return undefined;
  }
  if (line === undefined) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is in user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim().split(/\s+/).slice(1, 9).map((n) => Number(n) || 0);
  return {
    busySeconds: (user + nice + system + irq + softirq + steal) /
      TICKS_PER_SECOND,
    idleSeconds: (idle + iowait) / TICKS_PER_SECOND,
  };
}

/**
 * The database servers a store may run on this machine, by their command
 * name in `/proc/<pid>/comm`: what {@linkcode readProcessesCpu} sums.
 */
export const DATABASE_SERVERS: readonly string[] = [
  "mariadbd",
  "mysqld",
  "redis-server",
];

/**
 * The CPU seconds (user + system, since each started) of every process
 * whose command name is in `names`, summed; undefined where there is no
 * /proc. Scenario 8 takes what a run adds for {@linkcode DATABASE_SERVERS}:
 * on a bench machine MariaDB and Redis share the two cores with the server,
 * whereas in a fleet they run on hosts of their own.
 */
export function readProcessesCpu(
  names: readonly string[],
  root = "/proc",
): number | undefined {
  let total = 0;
  try {
    for (const entry of Deno.readDirSync(root)) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const comm = Deno.readTextFileSync(`${root}/${entry.name}/comm`).trim();
        if (!names.includes(comm)) continue;
        total += statCpuSeconds(
          Deno.readTextFileSync(`${root}/${entry.name}/stat`),
        );
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    return undefined;
  }
  return total;
}

/**
 * A child process (a server under test, a baseline, a load generator),
 * spawned directly so its pid is the one /proc describes. stderr is kept
 * (the last lines) for error messages.
 */
export class Proc implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stderr: string[] = [];
  readonly #stdoutText: Promise<string>;
  readonly #done: Promise<Deno.CommandStatus>;
  readonly #name: string;
  #status: Deno.CommandStatus | undefined;

  private constructor(name: string, child: Deno.ChildProcess, piped: boolean) {
    this.#name = name;
    this.#child = child;
    this.#stdoutText = piped
      ? new Response(child.stdout).text()
      : Promise.resolve("");
    const stderr = collectTail(child.stderr, this.#stderr);
    this.#done = child.status.then(async (s) => {
      await stderr;
      this.#status = s;
      return s;
    });
  }

  /** Spawns `deno run -A <script> ...args` from the repository root. */
  static deno(
    name: string,
    script: string,
    args: string[],
    options: ProcOptions = {},
  ): Proc {
    return Proc.start(
      name,
      Deno.execPath(),
      ["run", "-A", "--quiet", script, ...args],
      options,
    );
  }

  /** Spawns `cmd` with `args` from the repository root. */
  static start(
    name: string,
    cmd: string,
    args: string[],
    options: ProcOptions = {},
  ): Proc {
    const target = options.stdout ?? "null";
    let command = cmd;
    let argv = args;
    if (options.cpu !== undefined) {
      // taskset execs the program: the pid stays the program's.
      command = "taskset";
      argv = ["-c", String(options.cpu), cmd, ...args];
    }
    if (typeof target === "object") {
      // exec keeps the pid: /proc then describes the program, not a shell.
      argv = [
        "-c",
        'out="$1"; shift; exec "$@" > "$out"',
        "sh",
        target.file,
        command,
        ...argv,
      ];
      command = "/bin/sh";
    }
    const child = new Deno.Command(command, {
      args: argv,
      cwd: ROOT,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
      stdin: "null",
      stdout: target === "piped" ? "piped" : "null",
      stderr: "piped",
    }).spawn();
    return new Proc(name, child, target === "piped");
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#status !== undefined;
  }

  /** The last lines it wrote to stderr. */
  get stderrTail(): string {
    return this.#stderr.join("\n");
  }

  /** Memory and CPU now; undefined once it exited. */
  usage(): Usage | undefined {
    return readUsage(this.pid);
  }

  /** Sends `signal` if it still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#status) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /**
   * Waits for it to exit by itself; after `timeoutMs` it is killed and a
   * {@linkcode ProcessError} thrown.
   */
  async wait(timeoutMs = 60_000): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    try {
      const status = await this.#done;
      if (status.signal === "SIGKILL") {
        throw new ProcessError(
          `${this.#name} did not finish within ${timeoutMs} ms`,
        );
      }
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Its stdout so far when piped, complete once it exited. */
  stdoutText(): Promise<string> {
    return this.#stdoutText.catch(() => "");
  }

  /** Its whole stdout, when piped, once it exited. */
  async output(timeoutMs = 60_000): Promise<string> {
    const status = await this.wait(timeoutMs);
    const text = await this.#stdoutText;
    if (!status.success) {
      throw new ProcessError(
        `${this.#name} exited with ${status.code}:\n${this.stderrTail}`,
      );
    }
    return text;
  }

  /**
   * Stops it with SIGTERM (SIGKILL after `graceMs`) and returns the usage
   * read just before the signal.
   */
  async stop(graceMs = 15_000): Promise<Usage | undefined> {
    const usage = this.usage();
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    try {
      await this.#done;
    } finally {
      clearTimeout(timer);
    }
    await this.#stdoutText.catch(() => "");
    return usage;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.#done;
    await this.#stdoutText.catch(() => "");
  }
}

async function collectTail(stream: ReadableStream<Uint8Array>, into: string[]) {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    into.push(...parts);
    if (into.length > 40) into.splice(0, into.length - 40);
  }
  if (rest) into.push(rest);
}

/**
 * Whether processes can be pinned to CPUs here: `taskset` exists and there
 * are at least two CPUs.
 */
export async function canPin(): Promise<boolean> {
  if (navigator.hardwareConcurrency < 2) return false;
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-c", "0", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Where Linux counts the connections it tracks (netfilter), and its limit. */
const CONNTRACK = "/proc/sys/net/netfilter/nf_conntrack";

/**
 * Connections per second a load may open at most, for
 * {@linkcode conntrackRoom}: above the fastest rate seen here (20,242).
 */
export const LOAD_MAX_CONNECTIONS_PER_SECOND = 25_000;

/**
 * Waits until the kernel's connection-tracking table has room for
 * `connections` more entries (with a tenth of it spare), for at most
 * `limitMs`; resolves at once where there is no such table. Every closed
 * connection stays in it for two minutes (TIME_WAIT), so back-to-back runs
 * of 15,000 connections a second fill the default 262,144 entries, and the
 * kernel then drops new connections' SYNs: a round measures the retries
 * (seen 2026-12-07: an ok-only sink at 4,385 docs/s, and a load generator
 * that never finished). Returns the ms waited.
 */
export async function conntrackRoom(
  connections: number,
  { limitMs = 150_000, pollMs = 1000, read = readConntrack }: {
    limitMs?: number;
    pollMs?: number;
    /** Reads `count` or `max` (tests); NaN where there is no table. */
    read?: (name: "count" | "max") => number;
  } = {},
): Promise<number> {
  const max = read("max");
  if (!(max > 0)) return 0;
  const started = performance.now();
  while (
    read("count") + Math.min(connections, max / 2) > max * 0.9 &&
    performance.now() - started < limitMs
  ) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return Math.round(performance.now() - started);
}

function readConntrack(name: "count" | "max"): number {
  try {
    return Number(Deno.readTextFileSync(`${CONNTRACK}_${name}`).trim());
  } catch {
    return NaN;
  }
}

/** Returns a TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/**
 * Resolves once `port` on 127.0.0.1 accepts connections; throws when `proc`
 * exits first or `timeoutMs` passes.
 */
export async function waitForPort(
  port: number,
  proc: Proc,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (proc.exited) {
        throw new ProcessError(`Exited before listening:\n${proc.stderrTail}`);
      }
      if (Date.now() > deadline) {
        throw new ProcessError(
          `Port ${port} did not open in ${timeoutMs} ms:\n${proc.stderrTail}`,
        );
      }
      await abortableSleep(50);
    }
  }
}

/** Counts LF bytes in a file, reading it in chunks. */
export async function countLines(path: string): Promise<number> {
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1 << 20);
  let lines = 0;
  while (true) {
    const n = await file.read(buffer);
    if (n === null) return lines;
    for (let i = 0; i < n; i++) if (buffer[i] === 0x0a) lines++;
  }
}
