/**
 * Leveled logging to stderr. stdout belongs to the server's DATA lines
 * (SPEC 1.3), so nothing here ever writes there.
 *
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger bound to a component name. */
export interface Logger {
  /** Detail for `-v` runs. */
  debug(message: string): void;
  /** Normal operation worth a line with `-v`. */
  info(message: string): void;
  /** Something went wrong and was handled. */
  warn(message: string): void;
  /** Something went wrong and was not handled. */
  error(message: string): void;
  /** Whether `level` would be written. */
  enabled(level: LogLevel): boolean;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Defaults to `warn`, as the originals. */
  level?: LogLevel;
  /** Where lines go. Defaults to stderr. */
  write?: (line: string) => void;
  /** The clock. Defaults to `Date.now`. */
  now?: () => number;
}

const encoder = new TextEncoder();

function writeStderr(line: string) {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // A closed stderr must not take the program down.
  }
}

/**
 * Creates a logger writing `<ISO time> <LEVEL> <name>: <message>` lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("server", { level: "debug", write: (l) => lines.push(l), now: () => 0 });
 * log.info("listening");
 * assert.equal(lines[0], "1970-01-01T00:00:00.000Z INFO server: listening");
 * ```
 */
export function createLogger(
  name: string,
  options: LoggerOptions = {},
): Logger {
  const min = RANK[options.level ?? "warn"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel) => (message: string) => {
    if (RANK[level] < min) return;
    write(
      `${
        new Date(now()).toISOString()
      } ${level.toUpperCase()} ${name}: ${message}`,
    );
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    enabled: (level) => RANK[level] >= min,
  };
}

/** A logger that writes nothing, for tests and libraries. */
export const silentLogger: Logger = createLogger("", {
  level: "error",
  write: () => {},
});
