/**
 * The programs' own option parsers, as the deployment tests use them: the
 * only place these tests import lib/ config modules from, so moving them is
 * a one-line change here.
 *
 * @module
 */
import type { Option } from "../../lib/shared/options.ts";
import { CLIENT_OPTIONS, parseClientConfig } from "../../lib/client/options.ts";
import { parseServerConfig, SERVER_OPTIONS } from "../../lib/server/options.ts";
import { parseStatsConfig, STATS_OPTIONS } from "../../lib/stats/options.ts";

/** One option of a program's table. */
export type OptionSpec = Option<unknown>;
export {
  CLIENT_OPTIONS,
  parseClientConfig,
  parseServerConfig,
  parseStatsConfig,
  SERVER_OPTIONS,
  STATS_OPTIONS,
};

/** A program the deployment configures. */
export type ProgramName = "client" | "server" | "stats";
type Env = Record<string, string>;

/** Each program's parser and option table. */
export const PROGRAM = {
  client: {
    parse: parseClientConfig,
    options: Object.values(CLIENT_OPTIONS) as OptionSpec[],
  },
  server: {
    parse: parseServerConfig,
    options: Object.values(SERVER_OPTIONS) as OptionSpec[],
  },
  stats: {
    parse: parseStatsConfig,
    options: Object.values(STATS_OPTIONS) as OptionSpec[],
  },
} as const;

const listed = (program: ProgramName, name: string) =>
  PROGRAM[program].options.some((o) => (o.env ?? []).includes(name));

const containsDeep = (node: unknown, value: string): boolean =>
  node === value ||
  (typeof node === "object" && node !== null &&
    Object.values(node).some((v) => containsDeep(v, value)));

/**
 * Whether `program` reads `name`: its option table lists it, or it is
 * `X_FILE` of a listed `X` and the parser takes X's value from that file
 * (the `<VAR>_FILE` convention).
 */
export function reads(program: ProgramName, name: string): boolean {
  if (listed(program, name)) return true;
  const m = /^(.+)_FILE$/.exec(name);
  if (!m || !listed(program, m[1])) return false;
  const file = Deno.makeTempFileSync({ prefix: "eth_t_secret_" });
  try {
    const marker = `sample-from-file-${crypto.randomUUID()}`;
    Deno.writeTextFileSync(file, marker);
    const base = program === "client"
      ? { ETH_CLIENT_HOST: "h", ETH_CLIENT_PORT: "1" }
      : {
        [`ETH_${program.toUpperCase()}_USE_MYSQL`]: "1",
        [`ETH_${program.toUpperCase()}_USE_REDIS`]: "1",
        [`ETH_${program.toUpperCase()}_MYSQL_HOST`]: "h",
        [`ETH_${program.toUpperCase()}_MYSQL_USER`]: "u",
        [`ETH_${program.toUpperCase()}_MYSQL_DB`]: "d",
        [`ETH_${program.toUpperCase()}_REDIS_HOST`]: "h",
      };
    try {
      return containsDeep(
        PROGRAM[program].parse([], { ...base, [name]: file }),
        marker,
      );
    } catch {
      return false;
    }
  } finally {
    Deno.removeSync(file);
  }
}
