/**
 * Declarative command-line options. Each program has one table: every
 * option's name, environment variables, default, type, range and unit are
 * declared once there, and from the table come the parser (flags win over
 * environment, then the default), the typed values in their final unit
 * (milliseconds, bytes) and the `--help` text.
 *
 * This module gathers the option engine's parts: the kinds of option
 * (`option_kinds.ts`), the parser (`parse_options.ts`), the help printer
 * (`help_text.ts`), the options every program takes (`common_options.ts`)
 * and a program's command line (`command.ts`).
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
export * from "./option_kinds.ts";
export * from "./parse_options.ts";
export * from "./help_text.ts";
export * from "./common_options.ts";
export * from "./command.ts";
