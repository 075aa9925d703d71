/**
 * The parser of an option table: flags win over the environment, then the
 * default; secrets may come from files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOptions } from "./parse_options.ts";
 * import { port, seconds } from "./option_kinds.ts";
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
import {
  ConfigError,
  type Env,
  type Option,
  type OptionTable,
  type OptionValues,
} from "./option_kinds.ts";

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
 * import { givenKeys, parseOptions } from "./parse_options.ts";
 * import { port } from "./option_kinds.ts";
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
  const parsed = readFlags(table, args);
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

/** The flags given in `args`, by option name; a secret's file flag too. */
function readFlags(
  table: OptionTable,
  args: readonly string[],
): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      allowNegative: false,
      options: Object.fromEntries(
        Object.values(table).flatMap((s) => [
          [s.name, {
            type: s.type,
            multiple: s.multiple ?? false,
            ...(s.short ? { short: s.short } : {}),
          }],
          ...(s.secret ? [[`${s.name}-file`, { type: "string" }]] : []),
        ]),
      ),
    }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (error) {
    throw new ConfigError((error as Error).message.split("\n")[0]);
  }
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
