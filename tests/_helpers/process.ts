/** Test helpers that run the project's programs as real processes. */
import { freePort, waitForPort } from "./net.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** How long a stopped process may take to exit before the test fails. */
const STOP_TIMEOUT_MS = 30_000;

/** A child process whose output is collected line by line. */
export class Child implements AsyncDisposable {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly #proc: Deno.ChildProcess;
  readonly #done: Promise<unknown>;
  #status: Deno.CommandStatus | undefined;

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.#proc = new Deno.Command(cmd, {
      args,
      env: { NO_COLOR: "1", ...env },
      cwd: env.__CWD ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = Promise.all([
      collect(this.#proc.stdout, this.stdout),
      collect(this.#proc.stderr, this.stderr),
      this.#proc.status.then((s) => this.#status = s),
    ]);
  }

  /** The process id. */
  get pid(): number {
    return this.#proc.pid;
  }

  /** The exit status, once it exited. */
  get status(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /** Waits for a stdout (or stderr) line matching `pattern`. */
  async waitForLine(
    pattern: RegExp,
    { stream = "stdout", timeoutMs = 20_000 }: {
      stream?: "stdout" | "stderr";
      timeoutMs?: number;
    } = {},
  ): Promise<string> {
    const lines = stream === "stdout" ? this.stdout : this.stderr;
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const line = lines.find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (this.#status) {
        throw new Error(
          `Process exited (${this.#status.code}) before printing ${pattern}:\n${
            this.stderr.slice(-20).join("\n")
          }`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `No line matching ${pattern} in ${timeoutMs} ms; stderr:\n${
            this.stderr.slice(-20).join("\n")
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends a signal (if still running) and waits for exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      try {
        this.#proc.kill(signal);
      } catch { /* already gone */ }
    }
    // A process that ignores its signal fails the test with its last words
    // instead of hanging the suite.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.#done, hung]);
    clearTimeout(timer);
    if (outcome === "hung") {
      try {
        this.#proc.kill("SIGKILL");
      } catch { /* gone meanwhile */ }
      await this.#done;
      throw new Error(
        `pid ${this.pid} did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}; stderr:\n${
          this.stderr.slice(-30).join("\n")
        }`,
      );
    }
    return this.#status!;
  }

  /** Waits for exit without signalling. */
  async exited(): Promise<Deno.CommandStatus> {
    await this.#done;
    return this.#status!;
  }

  async [Symbol.asyncDispose]() {
    await this.stop("SIGKILL");
  }
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]) {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    into.push(...parts);
  }
  if (rest) into.push(rest);
}

/** Runs one of the project's programs (`client.ts`, ...) with `deno run -A`. */
export function runProgram(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Child {
  // Each server gets a spool of its own (a flag still wins): a spool left
  // by a killed test server must never be replayed into another test's store.
  if (program === "server.ts" && env.ETH_SERVER_SPOOL_DIR === undefined) {
    env = {
      ...env,
      ETH_SERVER_SPOOL_DIR: Deno.makeTempDirSync({ prefix: "eth-spool-" }),
    };
  }
  return new Child(Deno.execPath(), ["run", "-A", program, ...args], env);
}

/** A server process listening on a free port of 127.0.0.1. */
export interface ServerProcess extends AsyncDisposable {
  child: Child;
  port: number;
}

/** Starts `server.ts` on a free port and waits until it accepts. */
export async function startServer(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = freePort();
  const child = runProgram(
    "server.ts",
    ["--host", "127.0.0.1", "--port", String(port), ...args],
    env,
  );
  try {
    await waitForPort(port);
  } catch (error) {
    await child.stop("SIGKILL");
    throw new Error(`Server did not start:\n${child.stderr.join("\n")}`, {
      cause: error,
    });
  }
  return {
    child,
    port,
    [Symbol.asyncDispose]: () => child.stop("SIGKILL").then(() => {}),
  };
}
