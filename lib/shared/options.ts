/**
 * Declarative command-line options: one table per program gives each
 * option's type, default, environment variables and help, and from it come
 * both the parser (flags win over environment) and the `--help` text.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** One command-line option. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `redis-host`. */
  name: string;
  /** One-letter alias, e.g. `v`. */
  short?: string;
  /** `boolean` options take no value. */
  type: "string" | "boolean";
  /** May be given several times; comma-separated values are split too. */
  multiple?: boolean;
  /** Shown in help and used when neither flag nor environment sets it. */
  default?: string | boolean;
  /** Environment variables read when the flag is absent, first set wins. */
  env?: string[];
  /** Placeholder for the value in help, e.g. `HOST`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/** Parsed option values, keyed by long name. */
export type OptionValues = Record<string, string | boolean | string[]>;

/** Bad command-line input or configuration; the message says what to fix. */
export class ConfigError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The options every program takes. */
export const COMMON_OPTIONS: OptionSpec[] = [
  {
    name: "verbose",
    short: "v",
    type: "boolean",
    default: false,
    env: ["ETH_VERBOSE"],
    help: "log debug detail to stderr (otherwise warnings only)",
  },
  {
    name: "wait",
    type: "string",
    value: "SECONDS",
    default: "0",
    env: ["ETH_WAIT"],
    help: "sleep this long before starting",
  },
  { name: "help", short: "h", type: "boolean", help: "show this help" },
];

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["", "0", "false", "no", "off"]);

/**
 * Parses `args`, then fills options not given from `env`, then from their
 * defaults. Unknown flags and stray positional arguments are errors.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./options.ts";
 * const specs = [{ name: "port", type: "string" as const, env: ["PORT"], default: "9999", help: "" }];
 * parseOptions(specs, [], { PORT: "8888" }).port; // "8888"
 * ```
 */
export function parseOptions(
  specs: readonly OptionSpec[],
  args: readonly string[],
  env: Record<string, string | undefined>,
): OptionValues {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      allowNegative: false,
      options: Object.fromEntries(
        specs.map((s) => [s.name, {
          type: s.type,
          multiple: s.multiple ?? false,
          ...(s.short ? { short: s.short } : {}),
        }]),
      ),
    }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message.split("\n")[0]);
  }
  const out: OptionValues = {};
  for (const spec of specs) {
    let value = parsed[spec.name] as string | boolean | string[] | undefined;
    if (value === undefined) {
      const name = spec.env?.find((n) => env[n] !== undefined);
      if (name !== undefined) value = fromEnv(spec, name, env[name]!);
    }
    if (value === undefined && spec.default !== undefined) {
      value = spec.multiple ? [String(spec.default)] : spec.default;
    }
    if (value === undefined) continue;
    if (spec.multiple) {
      value = (value as string[]).flatMap((v) => v.split(","))
        .map((v) => v.trim()).filter((v) => v !== "");
    }
    out[spec.name] = value;
  }
  return out;
}

function fromEnv(spec: OptionSpec, name: string, raw: string) {
  if (spec.type === "string") return spec.multiple ? [raw] : raw;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError(
    `${name}=${JSON.stringify(raw)} is not a boolean (use 1/0, true/false)`,
  );
}

/** Renders `--help` for a program from its option table. */
export function helpText(
  usage: string,
  summary: string,
  specs: readonly OptionSpec[],
): string {
  const rows = specs.map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${s.name}${
      s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""
    }`;
    const notes = [
      s.default !== undefined && s.default !== false && s.default !== ""
        ? `default: ${s.default}`
        : "",
      s.multiple ? "repeatable or comma-separated" : "",
      s.env?.length ? `env: ${s.env.join(", ")}` : "",
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

/** Reads a string option that must be set. */
export function requireString(values: OptionValues, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") {
    throw new ConfigError(`Missing required option --${name}`);
  }
  return v;
}

/** Reads a number option, checking it lies in `[min, max]`. */
export function numberOption(
  values: OptionValues,
  name: string,
  { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false } = {},
): number {
  const raw = values[name];
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

/** Reads a TCP port option (1-65535, or 0 when `allowZero`). */
export function portOption(
  values: OptionValues,
  name: string,
  allowZero = false,
): number {
  return numberOption(values, name, {
    min: allowZero ? 0 : 1,
    max: 65535,
    integer: true,
  });
}
