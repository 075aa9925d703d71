/**
 * Leveled logging to stderr. stdout belongs to the server's DATA lines
 * (SPEC 1.3), so nothing here ever writes there.
 *
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Every log level, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "debug",
  "info",
  "warn",
  "error",
];

/** The least severe level a logger writes unless told otherwise. */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/** Structured detail of a log line: names to JSON-able values. */
export type LogFields = Record<string, unknown>;

/** A logger bound to a component name. */
export interface Logger {
  /** Detail for `-v` runs. */
  debug(message: string, fields?: LogFields): void;
  /** A start-up fact or a state change (the default level). */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong and was handled. */
  warn(message: string, fields?: LogFields): void;
  /** Something went wrong and was not handled. */
  error(message: string, fields?: LogFields): void;
  /** Whether `level` would be written. */
  enabled(level: LogLevel): boolean;
}

/** How lines are written: for people, or one JSON object per line. */
export type LogFormat = "text" | "json";

/** Every log format. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** How a logger writes lines unless told otherwise. */
export const DEFAULT_LOG_FORMAT: LogFormat = "text";

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /**
   * Lowest level written.
   *
   * @default {DEFAULT_LOG_LEVEL}
   */
  level?: LogLevel;
  /**
   * `text` or `json`.
   *
   * @default {DEFAULT_LOG_FORMAT}
   */
  format?: LogFormat;
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

/** `key=value` pairs for the text format; strings with spaces quoted. */
function textFields(fields: LogFields): string {
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    const v = typeof value === "string" && !/[\s"=]/.test(value) && value
      ? value
      : JSON.stringify(value, bigints);
    out += ` ${key}=${v}`;
  }
  return out;
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * Creates a logger writing `<ISO time> <LEVEL> <name>: <message> k=v` lines,
 * or with `format: "json"` one object per line: `time`, `level`, `program`,
 * `msg` and `fields`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("server", { write: (l) => lines.push(l), now: () => 0 });
 * log.info("Listening", { address: "127.0.0.1:9999" });
 * assert.equal(
 *   lines[0],
 *   "1970-01-01T00:00:00.000Z INFO server: Listening address=127.0.0.1:9999",
 * );
 * ```
 */
export function createLogger(
  name: string,
  options: LoggerOptions = {},
): Logger {
  const min = RANK[options.level ?? DEFAULT_LOG_LEVEL];
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const json = (options.format ?? DEFAULT_LOG_FORMAT) === "json";
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const time = new Date(now()).toISOString();
    write(
      json
        ? JSON.stringify(
          { time, level, program: name, msg: message, fields: fields ?? {} },
          bigints,
        )
        : `${time} ${level.toUpperCase()} ${name}: ${message}${
          fields ? textFields(fields) : ""
        }`,
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

/**
 * Keeps a repeating failure visible without flooding the log: the first
 * `burst` occurrences pass, then at most one per `intervalMs`, which reports
 * how many were held back since the last one written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RepeatGate } from "./log.ts";
 * let t = 0;
 * const gate = new RepeatGate({ burst: 1, intervalMs: 1000, now: () => t });
 * assert.equal(gate.pass(), 0); // write it
 * assert.equal(gate.pass(), undefined); // held back
 * t = 1000;
 * assert.equal(gate.pass(), 1); // write it: one held back since
 * ```
 */
export class RepeatGate {
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #count = 0;
  #held = 0;
  #lastAt = -Infinity;

  /** Defaults: 3 at once, then one per 30 s. */
  constructor(
    { burst = 3, intervalMs = 30_000, now = Date.now }: {
      burst?: number;
      intervalMs?: number;
      now?: () => number;
    } = {},
  ) {
    this.#burst = burst;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Counts one occurrence: the number held back since the last one passed
   * when this one should be written, undefined when it should not.
   */
  pass(): number | undefined {
    this.#count++;
    const t = this.#now();
    if (this.#count <= this.#burst || t - this.#lastAt >= this.#intervalMs) {
      const held = this.#held;
      this.#held = 0;
      this.#lastAt = t;
      return held;
    }
    this.#held++;
    return undefined;
  }

  /** Starts over, e.g. once the failure has healed. */
  reset(): void {
    this.#count = 0;
    this.#held = 0;
    this.#lastAt = -Infinity;
  }
}
