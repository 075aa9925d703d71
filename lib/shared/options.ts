/**
 * Declarative command-line options, and the options every program takes
 * (logging, `--wait`, `--help`) with the configuration fields they yield.
 * Each program has one table: every option's name, environment variables,
 * default, type, range and unit are declared once there, and from the table
 * come the parser (flags win over environment, then the default), the typed
 * values in their final unit (milliseconds, bytes) and the `--help` text.
 *
 * This module is the option engine's front: the kinds of option
 * (`option_kinds.ts`), the parser (`parse_options.ts`), the help printer
 * (`help_text.ts`) and a program's command line (`command.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMON_OPTIONS, commonConfig } from "./options.ts";
 * import { parseOptions } from "./parse_options.ts";
 *
 * const values = parseOptions(COMMON_OPTIONS, ["-v", "--wait", "1.5"], {});
 * assert.deepEqual(commonConfig(values), {
 *   verbose: true,
 *   waitMs: 1500,
 *   logLevel: "debug",
 *   logFormat: "text",
 * });
 * ```
 *
 * @module
 */
import {
  choice,
  flag,
  type Option,
  type OptionValues,
  seconds,
} from "./option_kinds.ts";
import {
  DEFAULT_LOG_FORMAT,
  DEFAULT_LOG_LEVEL,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "./log.ts";

/** The option table every program's table starts with. */
export type CommonOptions = {
  /** `--verbose`, `-v`: debug detail on stderr. */
  readonly verbose: Option<boolean>;
  /** `--log-level`: the least severe line written. */
  readonly logLevel: Option<LogLevel>;
  /** `--log-format`: text or one JSON object per line. */
  readonly logFormat: Option<LogFormat>;
  /** `--wait`: milliseconds to sleep before starting. */
  readonly waitMs: Option<number>;
  /** `--help`, `-h`. */
  readonly help: Option<boolean>;
};

/** The options every program takes. */
export const COMMON_OPTIONS: CommonOptions = {
  verbose: flag({
    name: "verbose",
    short: "v",
    env: ["ETH_VERBOSE"],
    help: "log debug detail to stderr (same as --log-level debug)",
  }),
  logLevel: choice({
    name: "log-level",
    value: "LEVEL",
    values: LOG_LEVELS,
    default: DEFAULT_LOG_LEVEL,
    env: ["ETH_LOG_LEVEL"],
    help: "least severe log lines written to stderr: debug, info, warn, error",
  }),
  logFormat: choice({
    name: "log-format",
    value: "FORMAT",
    values: LOG_FORMATS,
    default: DEFAULT_LOG_FORMAT,
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
};

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

export * from "./option_kinds.ts";
export * from "./parse_options.ts";
export * from "./help_text.ts";
export * from "./command.ts";
