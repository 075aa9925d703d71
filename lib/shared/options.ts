/**
 * Declarative command-line options. Each program has one table: every
 * option's name, environment variables, default, type, range and unit are
 * declared once there, and from the table come the parser (flags win over
 * environment, then the default), the typed values in their final unit
 * (milliseconds, bytes) and the `--help` text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOptions, port, seconds } from "./options.ts";
 *
 * const table = {
 *   port: port({ name: "port", env: ["PORT"], default: 9999, help: "port" }),
 *   idleMs: seconds({ name: "idle", default: 5, max: 60, help: "idle" }),
 * };
 * const values = parseOptions(table, ["--idle", "0.5"], { PORT: "8888" });
 * assert.deepEqual(values, { port: 8888, idleMs: 500 });
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The process environment, or a test's stand-in for it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Bad command-line input or configuration; the message says what to fix. */
export class ConfigError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** One command-line option, declared once, yielding a value of type `T`. */
export interface Option<T> {
  /** Long name without dashes, e.g. `redis-host`. */
  readonly name: string;
  /** One-letter alias, e.g. `v`. */
  readonly short?: string;
  /** `boolean` options take no value. */
  readonly type: "string" | "boolean";
  /** May be given several times; comma-separated values are split too. */
  readonly multiple?: boolean;
  /** Environment variables read when the flag is absent, first set wins. */
  readonly env?: readonly string[];
  /** Placeholder for the value in help, e.g. `HOST`. */
  readonly value?: string;
  /** One line of help. */
  readonly help: string;
  /** The value when neither flag nor environment sets it, in final units. */
  readonly default: T;
  /** How the default reads in `--help`; empty: not shown. */
  readonly shown: string;
  /** Turns what was given (flag or environment) into the value. */
  readonly parse: (raw: string | string[] | boolean) => T;
  /**
   * A secret (password, URL with credentials): it may also come from a file,
   * named by `--<name>-file` or by `<VAR>_FILE` for each of its environment
   * variables, as container platforms mount secrets; it is never shown.
   */
  readonly secret?: boolean;
}

/** A program's option table: config field name → option. */
export type OptionTable = Readonly<Record<string, Option<unknown>>>;

/** The typed values a table parses to. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]: T[K] extends Option<infer V> ? V : never;
};

/** What every option says of itself. */
export interface Described {
  name: string;
  short?: string;
  env?: readonly string[];
  value?: string;
  help: string;
  /** See {@linkcode Option.secret}. */
  secret?: boolean;
}

/** A boolean switch, off unless given. */
export function flag(spec: Described): Option<boolean> {
  return {
    ...spec,
    type: "boolean",
    default: false,
    shown: "",
    parse: (v) => v === true,
  };
}

/** A string; `""` and absent are `undefined` unless a default is given. */
export function text(spec: Described & { default: string }): Option<string>;
/** A string; `""` and absent are `undefined` unless a default is given. */
export function text(
  spec: Described & { default?: undefined; shown?: string },
): Option<
  string | undefined
>;
/** A string; `""` and absent are `undefined` unless a default is given. */
export function text(
  spec: Described & { default?: string; shown?: string },
): Option<string | undefined> {
  const { default: fallback, shown, ...rest } = spec;
  return {
    ...rest,
    type: "string",
    default: fallback,
    shown: rest.secret ? "" : shown ?? fallback ?? "",
    parse: (v) =>
      fallback !== undefined ? String(v) : (v === "" ? undefined : String(v)),
  };
}

/** A list, repeatable or comma-separated; blanks are dropped. */
export function list(
  spec: Described & { default?: readonly string[] },
): Option<string[]> {
  const { default: fallback = [], ...rest } = spec;
  return {
    ...rest,
    type: "string",
    multiple: true,
    default: [...fallback],
    shown: fallback.join(","),
    parse: (v) =>
      (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(","))
        .map((s) => s.trim()).filter((s) => s !== ""),
  };
}

interface Range {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** Checks `raw` is a number in range; the message names the flag. */
function checkedNumber(name: string, raw: unknown, range: Range): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false } = range;
  const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  if (
    !Number.isFinite(n) || n < min || n > max ||
    (integer && !Number.isInteger(n))
  ) {
    throw new ConfigError(
      `--${name} must be ${
        integer ? "an integer" : "a number"
      } from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/** A number in `[min, max]` (default 0 to 2^53-1), in the unit it is given. */
export function number(
  spec: Described & Range & { default: number },
): Option<number> {
  const { default: fallback, min, max, integer, ...rest } = spec;
  return {
    ...rest,
    type: "string",
    value: rest.value ?? "N",
    default: fallback,
    shown: String(fallback),
    parse: (v) => checkedNumber(spec.name, v, { min, max, integer }),
  };
}

/** A duration given in seconds (may be fractional), yielded in ms. */
export function seconds(
  spec: Described & { default: number; min?: number; max: number },
): Option<number> {
  const { default: fallback, min, max, ...rest } = spec;
  return {
    ...rest,
    type: "string",
    value: "SECONDS",
    default: fallback * 1000,
    shown: String(fallback),
    parse: (v) => checkedNumber(spec.name, v, { min, max }) * 1000,
  };
}

/** A TCP port (1-65535, or 0 when `allowZero`). */
export function port(
  spec: Described & { default: number; allowZero?: boolean },
): Option<number>;
/** A TCP port (1-65535, or 0 when `allowZero`). */
export function port(
  spec: Described & { default?: undefined; allowZero?: boolean },
): Option<number | undefined>;
/** A TCP port (1-65535, or 0 when `allowZero`). */
export function port(
  spec: Described & { default?: number; allowZero?: boolean },
): Option<number | undefined> {
  const { default: fallback, allowZero = false, ...rest } = spec;
  return {
    ...rest,
    type: "string",
    value: "PORT",
    default: fallback,
    shown: fallback === undefined ? "" : String(fallback),
    parse: (v) =>
      checkedNumber(spec.name, v, {
        min: allowZero ? 0 : 1,
        max: 65535,
        integer: true,
      }),
  };
}

/** A block number (decimal digits), yielded as a bigint; absent: undefined. */
export function blockNumber(spec: Described): Option<bigint | undefined> {
  return {
    ...spec,
    type: "string",
    value: spec.value ?? "N",
    default: undefined,
    shown: "",
    parse: (v) => {
      const raw = String(v).trim();
      if (!/^\d{1,20}$/.test(raw) || BigInt(raw) >= 2n ** 64n) {
        throw new ConfigError(
          `--${spec.name} must be a block number (decimal digits), got ${
            JSON.stringify(v)
          }`,
        );
      }
      return BigInt(raw);
    },
  };
}

/** One of a fixed set of words, e.g. a log level. */
export function choice<const V extends string>(
  spec: Described & { values: readonly V[]; default: V },
): Option<V> {
  const { values, default: fallback, ...rest } = spec;
  return {
    ...rest,
    type: "string",
    value: rest.value ?? values.join("|"),
    default: fallback,
    shown: fallback,
    parse: (v) => {
      const word = String(v).trim().toLowerCase() as V;
      if (!values.includes(word)) {
        throw new ConfigError(
          `--${spec.name} must be one of ${values.join(", ")}, got ${
            JSON.stringify(v)
          }`,
        );
      }
      return word;
    },
  };
}

/** The options every program takes. */
export const COMMON_OPTIONS = {
  verbose: flag({
    name: "verbose",
    short: "v",
    env: ["ETH_VERBOSE"],
    help: "log debug detail to stderr (same as --log-level debug)",
  }),
  logLevel: choice({
    name: "log-level",
    value: "LEVEL",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    env: ["ETH_LOG_LEVEL"],
    help: "least severe log lines written to stderr: debug, info, warn, error",
  }),
  logFormat: choice({
    name: "log-format",
    value: "FORMAT",
    values: ["text", "json"],
    default: "text",
    env: ["ETH_LOG_FORMAT"],
    help: "text, or json: one object per line (time, level, program, msg, " +
      "fields)",
  }),
  waitMs: seconds({
    name: "wait",
    default: 0,
    max: 86400,
    env: ["ETH_WAIT"],
    help: "sleep this long before starting",
  }),
  help: flag({ name: "help", short: "h", help: "show this help" }),
} as const;

/** The fields every program's configuration has. */
export type CommonConfig = Omit<OptionValues<typeof COMMON_OPTIONS>, "help">;

/** The common fields of parsed values, for a program's `configure`. */
export function commonConfig(v: CommonConfig): CommonConfig {
  return {
    verbose: v.verbose,
    waitMs: v.waitMs,
    logLevel: v.verbose ? "debug" : v.logLevel,
    logFormat: v.logFormat,
  };
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["", "0", "false", "no", "off"]);

/** Reads a secret file; injectable for tests. */
export type ReadSecretFile = (path: string) => string;

/** Options for {@linkcode parseOptions}. */
export interface ParseOptions {
  /** Reads `--<name>-file` and `<VAR>_FILE` files. Default: the file system. */
  readFile?: ReadSecretFile;
}

const given = new WeakMap<object, ReadonlySet<string>>();

/**
 * The keys of `values` (as returned by {@linkcode parseOptions}) that a flag
 * or an environment variable set, as opposed to their defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { givenKeys, parseOptions, port } from "./options.ts";
 *
 * const table = {
 *   a: port({ name: "a", default: 1, help: "a" }),
 *   b: port({ name: "b", env: ["B"], default: 2, help: "b" }),
 * };
 * const values = parseOptions(table, ["--a", "1"], {});
 * assert.deepEqual([...givenKeys(values)], ["a"]);
 * ```
 */
export function givenKeys(values: object): ReadonlySet<string> {
  return given.get(values) ?? new Set();
}

/**
 * Parses `args`, then fills options not given from `env`, then from their
 * defaults. Unknown flags and stray positional arguments are errors. A
 * secret option is looked up as `--<name>`, `--<name>-file`, then for each
 * of its variables `<VAR>` and `<VAR>_FILE`; a file's trailing line breaks
 * are dropped.
 */
export function parseOptions<T extends OptionTable>(
  table: T,
  args: readonly string[],
  env: Env,
  { readFile = readSecretFile }: ParseOptions = {},
): OptionValues<T> {
  const specs = Object.values(table);
  let parsed: Record<string, string | boolean | string[] | undefined>;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      allowNegative: false,
      options: Object.fromEntries(
        specs.flatMap((s) => [
          [s.name, {
            type: s.type,
            multiple: s.multiple ?? false,
            ...(s.short ? { short: s.short } : {}),
          }],
          ...(s.secret ? [[`${s.name}-file`, { type: "string" }]] : []),
        ]),
      ),
    }).values as typeof parsed;
  } catch (error) {
    throw new ConfigError((error as Error).message.split("\n")[0]);
  }
  const out: Record<string, unknown> = {};
  const set = new Set<string>();
  const secretFile = (what: string, path: string) => {
    try {
      return readFile(path).replace(/(\r?\n)+$/, "");
    } catch (error) {
      // The path is not secret; the file's contents are never quoted.
      throw new ConfigError(
        `Cannot read ${what} ${path}: ${(error as Error).message}`,
      );
    }
  };
  for (const [key, spec] of Object.entries(table)) {
    let raw = parsed[spec.name] as string | boolean | string[] | undefined;
    const file = spec.secret
      ? parsed[`${spec.name}-file`] as string | undefined
      : undefined;
    if (raw !== undefined && file !== undefined) {
      throw new ConfigError(
        `Give --${spec.name} or --${spec.name}-file, not both`,
      );
    }
    if (file !== undefined) raw = secretFile(`--${spec.name}-file`, file);
    for (const name of raw === undefined ? spec.env ?? [] : []) {
      if (env[name] !== undefined) {
        raw = fromEnv(spec, name, env[name]!);
      } else if (spec.secret && env[`${name}_FILE`] !== undefined) {
        raw = secretFile(`${name}_FILE`, env[`${name}_FILE`]!);
      }
      if (raw !== undefined) break;
    }
    if (raw !== undefined) set.add(key);
    out[key] = raw === undefined ? spec.default : spec.parse(raw);
  }
  given.set(out, set);
  return out as OptionValues<T>;
}

function readSecretFile(path: string): string {
  return Deno.readTextFileSync(path);
}

function fromEnv(spec: Option<unknown>, name: string, raw: string) {
  if (spec.type === "string") return spec.multiple ? [raw] : raw;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError(
    `${name}=${JSON.stringify(raw)} is not a boolean (use 1/0, true/false)`,
  );
}

/** A program's command line: its table and what turns values into config. */
export interface Command<T extends OptionTable, C> {
  /** Program name, as logged. */
  name: string;
  /** The usage line of `--help`. */
  usage: string;
  /** One paragraph saying what the program does. */
  summary: string;
  /** The option table (including {@linkcode COMMON_OPTIONS}). */
  options: T;
  /** Checks the values together and builds the configuration. */
  configure: (values: OptionValues<T>, env: Env) => C;
}

/**
 * Parses a program's command line: `{ help }` when `--help` was asked for
 * (nothing else is checked), else `{ config }`.
 */
export function parseCommand<T extends OptionTable, C>(
  command: Command<T, C>,
  args: readonly string[],
  env: Env,
): { help: string } | { config: C } {
  const values = parseOptions(command.options, args, env);
  if (values.help === true) {
    return { help: helpText(command.usage, command.summary, command.options) };
  }
  return { config: command.configure(values, env) };
}

/** Renders `--help` for a program from its option table. */
export function helpText(
  usage: string,
  summary: string,
  table: OptionTable,
): string {
  const rows = Object.values(table).map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${s.name}${
      s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""
    }`;
    const notes = [
      s.shown !== "" ? `default: ${s.shown}` : "",
      s.multiple ? "repeatable or comma-separated" : "",
      s.env?.length ? `env: ${s.env.join(", ")}` : "",
      s.secret
        ? `or from a file: --${s.name}-file FILE${
          s.env?.length ? `, ${s.env.map((e) => `${e}_FILE`).join(", ")}` : ""
        }`
        : "",
    ].filter(Boolean).join("; ");
    return [flag, s.help, notes ? `[${notes}]` : ""];
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const room = HELP_COLUMNS - 2 - width;
  return [
    `Usage: ${usage}`,
    "",
    ...wrap(summary, HELP_COLUMNS),
    "",
    "Options:",
    ...rows.map(([flag, help, notes]) => {
      const lines = wrap(help, room);
      // Defaults and variables stay whole: on the last line if they fit.
      if (notes && lines.at(-1)!.length + 1 + notes.length <= room) {
        lines[lines.length - 1] += ` ${notes}`;
      } else if (notes) {
        lines.push(...wrap(notes, room));
      }
      return lines.map((line, i) =>
        `  ${(i === 0 ? flag : "").padEnd(width)}${line}`
      ).join("\n");
    }),
    "",
  ].join("\n");
}

const HELP_COLUMNS = 100;

/** Splits `text` into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
