/**
 * What `--ack auto` remembers per remote IP and port actually connected
 * (SPEC part 3): whether the server behind it answers, and how the memory
 * follows a change of server behind the same address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AnswerMemory } from "./answer_memory.ts";
 *
 * const memory = new AnswerMemory();
 * const addr: Deno.NetAddr = { transport: "tcp", hostname: "10.0.0.1", port: 8888 };
 * assert.equal(memory.closedWithoutAnswer(addr), true); // never answered: an original
 * memory.answered(addr);
 * assert.equal(memory.closedWithoutAnswer(addr), false); // one of ours died?
 * assert.equal(memory.closedWithoutAnswer(addr), false);
 * assert.equal(memory.closedWithoutAnswer(addr), true); // the third: an original now
 * assert.equal(memory.stats.becameSilent, 1);
 * ```
 *
 * @module
 */
import { formatHostPort, type Logger, silentLogger } from "../shared/mod.ts";

/**
 * Orderly closes without an answer, in a row with no answer between, after
 * which a server that answered before is taken to be an original.
 */
export const SILENT_CLOSES_FOR_ORIGINAL = 3;

/** Options for {@linkcode AnswerMemory}. */
export interface AnswerMemoryOptions {
  /** Where the change to "an original" is logged (one warning each time). */
  log?: Logger;
}

/** Counters an {@linkcode AnswerMemory} keeps, for metrics. */
export interface AnswerMemoryStats {
  /**
   * Times an address that had answered was taken to be a server without
   * acknowledgements (an original) after {@linkcode SILENT_CLOSES_FOR_ORIGINAL}
   * orderly closes in a row.
   */
  becameSilent: number;
}

interface Remembered {
  /** The server behind the address answers (`ok` or `err`). */
  answers: boolean;
  /** Orderly closes without an answer since it last answered. */
  silentCloses: number;
}

/**
 * Remembers, per remote IP and port actually connected, whether that server
 * answers. One that never answered is an original: its orderly close counts
 * as delivery. One that answered before and then closes without an answer
 * {@linkcode SILENT_CLOSES_FOR_ORIGINAL} times in a row is taken to be an
 * original from then on (the close that made it three counts as delivered),
 * so no document is sent more than that many times to one address; one
 * answer makes it an answering server again.
 */
export class AnswerMemory {
  /** Live counters (read by metrics). */
  readonly stats: AnswerMemoryStats = { becameSilent: 0 };
  readonly #servers = new Map<string, Remembered>();
  readonly #log: Logger;

  /** Builds an empty memory: every address starts as an original. */
  constructor(options: AnswerMemoryOptions = {}) {
    this.#log = options.log ?? silentLogger;
  }

  /** True while `addr` is taken to be a server that answers. */
  has(addr: Deno.NetAddr): boolean {
    return this.#servers.get(key(addr))?.answers ?? false;
  }

  /** Records that `addr` answered a frame: it is an answering server. */
  answered(addr: Deno.NetAddr): void {
    this.#servers.set(key(addr), { answers: true, silentCloses: 0 });
  }

  /**
   * Records an orderly close of `addr` without an answer; returns whether
   * it counts as delivery (an original's close).
   */
  closedWithoutAnswer(addr: Deno.NetAddr): boolean {
    const server = this.#servers.get(key(addr));
    if (!server?.answers) return true;
    server.silentCloses++;
    if (server.silentCloses < SILENT_CLOSES_FOR_ORIGINAL) return false;
    server.answers = false;
    server.silentCloses = 0;
    this.stats.becameSilent++;
    this.#log.warn(
      `${
        formatHostPort({ host: addr.hostname, port: addr.port })
      } answered before but closed without an acknowledgement ${SILENT_CLOSES_FOR_ORIGINAL} times in a row: taking it to be a server that does not answer (an original), whose close counts as delivery, until it answers again`,
    );
    return true;
  }
}

function key(addr: Deno.NetAddr): string {
  return `${addr.hostname}|${addr.port}`;
}
