/**
 * `deno task compile [client] [server] [stats] [--target TRIPLE] [--out-dir DIR]
 * [--verbose]` builds self-contained binaries (`dist/eth-client`, `dist/eth-server`,
 * `dist/eth-stats`) with `deno compile`: the templates are embedded with
 * `--include`, each binary gets the permissions of its `deno task` (read
 * from deno.json, never `-A`), and `--target` cross-compiles.
 *
 * `deno compile` downloads Deno's runtime (`denort`) on first use; where
 * that cannot work, this script says so in one line and exits 1. With
 * `--verbose` it prints what `deno compile` printed, including the list of
 * embedded files.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** A program `deno task compile` builds. */
export interface Program {
  /** Name given on the command line and of its `deno task`. */
  name: "client" | "server" | "stats";
  /** Entry module, relative to the root. */
  entry: string;
  /** File name of the binary. */
  binary: string;
}

/** Every program, in build order. */
export const PROGRAMS: readonly Program[] = [
  { name: "client", entry: "client.ts", binary: "eth-client" },
  { name: "server", entry: "server.ts", binary: "eth-server" },
  { name: "stats", entry: "stats.ts", binary: "eth-stats" },
];

/** Files and directories embedded in every binary (`--include`). */
// The store writers' worker is loaded by URL, so it must be embedded too.
export const INCLUDES: readonly string[] = [
  "templates",
  "lib/store/writer_worker.ts",
];

/** The targets `deno compile --target` accepts. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-pc-windows-msvc",
  "aarch64-pc-windows-msvc",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

/** Bad arguments or a build that failed; the message says what to do. */
export class CompileError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CompileError";
  }
}

/** What to build. */
export interface CompileOptions {
  programs: Program[];
  /** `deno compile --target`; the host's when undefined. */
  target?: string;
  /** Where binaries go (default `dist` under the root). */
  outDir: string;
  /** Print `deno compile`'s own output. */
  verbose?: boolean;
}

/** Parses the script's arguments. */
export function parseCompileArgs(args: string[]): CompileOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        target: { type: "string" },
        "out-dir": { type: "string" },
        verbose: { type: "boolean" },
      },
    });
  } catch (error) {
    throw new CompileError((error as Error).message.split("\n")[0]);
  }
  const { target, "out-dir": outDir, verbose } = parsed.values;
  if (target !== undefined && !TARGETS.includes(target)) {
    throw new CompileError(
      `Unknown --target ${JSON.stringify(target)}: use one of ${
        TARGETS.join(", ")
      }`,
    );
  }
  const names = parsed.positionals.length > 0
    ? parsed.positionals
    : PROGRAMS.map((p) => p.name);
  const programs = names.map((name) => {
    const program = PROGRAMS.find((p) => p.name === name);
    if (!program) {
      throw new CompileError(
        `Unknown program ${JSON.stringify(name)}: use ${
          PROGRAMS.map((p) => p.name).join(", ")
        }`,
      );
    }
    return program;
  });
  return {
    programs,
    target,
    outDir: outDir ?? join(ROOT, "dist"),
    verbose: verbose ?? false,
  };
}

/**
 * The permission flags of a `deno task` command line, to bake into its
 * binary. A task that grants everything is refused: binaries get only what
 * their program needs.
 */
export function permissionFlags(task: string): string[] {
  const tokens = task.split(/\s+/);
  const broad = tokens.find((t) =>
    t === "-A" || t === "--allow-all" || /^-[a-zA-Z]*A/.test(t)
  );
  if (broad) {
    throw new CompileError(
      `Refusing to bake ${broad} into a binary: give its deno task narrow --allow-* flags`,
    );
  }
  return tokens.filter((t) => /^--(allow|deny)-[a-z]+(=.*)?$/.test(t));
}

/** Where the binary of `program` is written (`.exe` for Windows targets). */
export function binaryPath(
  program: Program,
  options: { outDir: string; target?: string },
): string {
  const exe = options.target?.includes("windows") ? ".exe" : "";
  return join(options.outDir, program.binary + exe);
}

/** The `deno compile` arguments for one program. */
export function compileArgs(
  program: Program,
  options: {
    permissions: string[];
    outDir: string;
    target?: string;
  },
): string[] {
  return [
    "compile",
    // The lock holds only the programs' packages (the CDK app and the tests
    // have their own), so it is what a binary embeds, unchanged.
    "--frozen",
    ...options.permissions,
    ...INCLUDES.flatMap((path) => ["--include", path]),
    ...(options.target ? ["--target", options.target] : []),
    "--output",
    binaryPath(program, options),
    program.entry,
  ];
}

/**
 * Turns the stderr of a failed `deno compile` into one line naming the
 * cause, when the cause is the runtime download; `undefined` otherwise.
 */
export function explainFailure(
  stderr: string,
  { version = Deno.version.deno }: { version?: string } = {},
): string | undefined {
  // deno colours its errors even when piped.
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const missing = /Could not find denort at '([^']+)'/.exec(text);
  if (missing) {
    return `DENORT_BIN is ${
      missing[1]
    }, which does not exist: point it at a denort binary of Deno ${version}, or unset it to let deno compile download one`;
  }
  const download =
    /error sending request for url \((\S*?(denort-[\w-]+)\.zip)\)/
      .exec(text);
  if (!download) return undefined;
  const chain = text.split(/Stack backtrace:/)[0];
  const causes = [...chain.matchAll(/^\s*\d+: (.+)$/gm)].map((m) => m[1]);
  const cause = causes.at(-1) ?? "request failed";
  return `Cannot download Deno's compile runtime ${download[2]} from ${
    new URL(download[1]).host
  } (${cause}): no network access to it here. Set DENORT_BIN to a local denort binary of Deno ${version}, or run deno task compile where the download works (the Dockerfiles' build stage does)`;
}

async function run(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    success: output.success,
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  };
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Builds one program; returns the path of the binary. */
async function compileProgram(
  program: Program,
  options: CompileOptions,
  tasks: Record<string, string>,
): Promise<string> {
  const task = tasks[program.name];
  if (task === undefined) {
    throw new CompileError(`deno.json has no "${program.name}" task`);
  }
  try {
    await Deno.stat(join(ROOT, program.entry));
  } catch {
    throw new CompileError(
      `Cannot compile ${program.name}: ${program.entry} does not exist`,
    );
  }
  const result = await run(compileArgs(program, {
    permissions: permissionFlags(task),
    outDir: options.outDir,
    target: options.target,
  }));
  if (options.verbose) {
    console.error((result.stdout + result.stderr).trimEnd());
  }
  if (!result.success) {
    const reason = explainFailure(result.stderr);
    if (reason) throw new CompileError(reason);
    throw new CompileError(
      `deno compile failed for ${program.entry} (exit ${result.code}):\n${result.stderr.trim()}`,
    );
  }
  return binaryPath(program, options);
}

/** Builds the programs `options` names, in order; stops at the first failure. */
export async function compile(options: CompileOptions): Promise<string[]> {
  const config = await readJson<{ tasks?: Record<string, string> }>(
    join(ROOT, "deno.json"),
  );
  await Deno.mkdir(options.outDir, { recursive: true });
  const built: string[] = [];
  for (const program of options.programs) {
    const path = await compileProgram(program, options, config?.tasks ?? {});
    const size = (await Deno.stat(path)).size / 1024 / 1024;
    console.log(
      `compiled ${path} (${size.toFixed(1)} MiB${
        options.target ? `, ${options.target}` : ""
      })`,
    );
    built.push(path);
  }
  return built;
}

if (import.meta.main) {
  try {
    await compile(parseCompileArgs(Deno.args));
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
    console.error(`compile: ${error.message}`);
    Deno.exit(1);
  }
}
