/**
 * What `--ack auto` remembers per remote IP and port actually connected
 * (SPEC part 3): whether the server behind it has ever answered.
 *
 * @module
 */

/**
 * Remembers, per remote IP and port actually connected, whether that server
 * has ever answered (SPEC part 3, `--ack auto`).
 */
export class AnswerMemory {
  readonly #answered = new Set<string>();

  /** True once `addr` has answered a frame. */
  has(addr: Deno.NetAddr): boolean {
    return this.#answered.has(key(addr));
  }

  /** Records that `addr` answered. */
  add(addr: Deno.NetAddr): void {
    this.#answered.add(key(addr));
  }
}

function key(addr: Deno.NetAddr): string {
  return `${addr.hostname}|${addr.port}`;
}
