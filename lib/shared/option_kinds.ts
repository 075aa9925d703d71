/**
 * The kinds of command-line option: the {@linkcode Option} record a program's
 * table holds, and one constructor per kind of value ({@linkcode flag},
 * {@linkcode text}, {@linkcode list}, {@linkcode number},
 * {@linkcode seconds}, {@linkcode port}, {@linkcode blockNumber},
 * {@linkcode choice}). Each constructor knows how its value is parsed and
 * checked, its unit and how its default reads in `--help`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, seconds } from "./option_kinds.ts";
 *
 * const idle = seconds({ name: "idle", default: 5, max: 60, help: "idle" });
 * assert.equal(idle.default, 5000);
 * assert.equal(idle.parse("0.5"), 500);
 * assert.throws(() => idle.parse("61"), ConfigError);
 * ```
 *
 * @module
 */
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
  /** Long name without dashes, e.g. `redis-host`. */
  name: string;
  /** One-letter alias, e.g. `v`. */
  short?: string;
  /** Environment variables read when the flag is absent, first set wins. */
  env?: readonly string[];
  /** Placeholder for the value in help, e.g. `HOST`. */
  value?: string;
  /** One line of help. */
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

/** The range a {@linkcode number} option accepts. */
export interface NumberRange {
  /** The least value accepted. @default {0} */
  min?: number;
  /** The greatest value accepted. @default {Number.MAX_SAFE_INTEGER} */
  max?: number;
  /** Only whole numbers. @default {false} */
  integer?: boolean;
}

/** Checks `raw` is a number in range; the message names the flag. */
function checkedNumber(name: string, raw: unknown, range: NumberRange): number {
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
  spec: Described & NumberRange & { default: number },
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
