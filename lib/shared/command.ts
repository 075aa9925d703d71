/**
 * A program's command line: its option table, usage and summary, and what
 * turns parsed values into its configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand } from "./command.ts";
 * import { flag, port } from "./option_kinds.ts";
 *
 * const command = {
 *   name: "demo",
 *   usage: "demo [options]",
 *   summary: "Says which port it would use.",
 *   options: {
 *     help: flag({ name: "help", help: "show this help" }),
 *     port: port({ name: "port", default: 9999, help: "port" }),
 *   },
 *   configure: (values: { port: number }) => ({ port: values.port }),
 * };
 * assert.deepEqual(parseCommand(command, ["--port", "1"], {}), {
 *   config: { port: 1 },
 * });
 * const asked = parseCommand(command, ["--help"], {});
 * assert.ok("help" in asked && asked.help.startsWith("Usage: demo"));
 * ```
 *
 * @module
 */
import { helpText } from "./help_text.ts";
import type { Env, OptionTable, OptionValues } from "./option_kinds.ts";
import { parseOptions } from "./parse_options.ts";

/** A program's command line: its table and what turns values into config. */
export interface Command<T extends OptionTable, C> {
  /** Program name, as logged. */
  name: string;
  /** The usage line of `--help`. */
  usage: string;
  /** One paragraph saying what the program does. */
  summary: string;
  /** The option table (including the common options every program takes). */
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
