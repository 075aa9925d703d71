/**
 * What every program does around its real work: parse configuration (a
 * clear message and exit 2 on bad input), `--help`, `--wait`, a logger, and
 * an `AbortSignal` that SIGINT/SIGTERM abort.
 *
 * @module
 */
import { abortableSleep } from "./async.ts";
import { createLogger, type Logger } from "./log.ts";
import { type Command, parseCommand } from "./command.ts";
import type { CommonConfig } from "./options.ts";
import { ConfigError, type OptionTable } from "./option_kinds.ts";
import { TemplateError } from "./template.ts";

/**
 * A signal this soon after the first, in ms, is a copy of it, not a second
 * request: `deno task` forwards what it receives to the program it runs,
 * and a terminal's Ctrl-C reaches the whole process group.
 */
export const SECOND_SIGNAL_MS = 500;

/** What a program's body receives. */
export interface MainContext<C> {
  /** The program's configuration, as its command's `configure` built it. */
  config: C;
  /** The program's logger, at the configured level and format. */
  log: Logger;
  /** Aborted on the first SIGINT or SIGTERM. */
  signal: AbortSignal;
}

/**
 * Runs a program: parses `Deno.args` and the environment with `command`
 * (printing `--help` and exiting when asked), then calls `body`. Exits 0
 * when `body` resolves, 2 on a configuration error and 1 on any other
 * error. A second Ctrl-C (SIGINT, at least 0.5 s after the first) exits
 * at once with 130; further SIGTERMs are ignored.
 */
export async function runMain<T extends OptionTable, C extends CommonConfig>(
  command: Command<T, C>,
  body: (context: MainContext<C>) => Promise<void>,
): Promise<never> {
  const { name } = command;
  let parsed;
  try {
    parsed = parseCommand(command, Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${name}: ${error.message}\nRun with --help for usage.`);
    Deno.exit(2);
  }
  if ("help" in parsed) {
    console.log(parsed.help);
    Deno.exit(0);
  }
  const { config } = parsed;
  const log = createLogger(name, {
    level: config.logLevel,
    format: config.logFormat,
  });
  const controller = new AbortController();
  let stoppingAt = 0;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => () => {
    if (!controller.signal.aborted) {
      stoppingAt = Date.now();
      log.info("Stopping");
      controller.abort();
      return;
    }
    // A second SIGTERM is not a request to hurry: `deno task` forwards the
    // signal to the program, so signalling a process group (systemd, a
    // shell, tests) delivers it twice. Only a second Ctrl-C, later than a
    // forwarded copy of the first, exits at once (nothing acknowledged is
    // lost: it is in the spool).
    if (signal === "SIGINT" && Date.now() - stoppingAt > SECOND_SIGNAL_MS) {
      log.warn("Second Ctrl-C: exiting without finishing the flush");
      Deno.exit(130);
    }
    log.info(`${signal} again: still stopping`);
  };
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  try {
    if (config.waitMs > 0) {
      log.info(`Waiting ${config.waitMs / 1000} s before starting`);
      await abortableSleep(config.waitMs, controller.signal);
    }
    if (!controller.signal.aborted) {
      await body({ config, log, signal: controller.signal });
    }
  } catch (error) {
    // Problems the user can fix get one line; bugs get a stack trace.
    if (error instanceof ConfigError || error instanceof TemplateError) {
      log.error(withCause(error));
      Deno.exit(2);
    }
    if ((error as { expected?: boolean }).expected === true) {
      log.error((error as Error).message);
      Deno.exit(1);
    }
    if (
      error instanceof Deno.errors.AddrInUse ||
      error instanceof Deno.errors.AddrNotAvailable ||
      error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.NotCapable
    ) {
      log.error(`Cannot start: ${error.message}`);
      Deno.exit(1);
    }
    log.error((error as Error).stack ?? String(error));
    Deno.exit(1);
  }
  Deno.exit(0);
}

function withCause(error: Error): string {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return error.message + cause;
}
