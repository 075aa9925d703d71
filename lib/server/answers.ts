/**
 * The answers a server writes back (SPEC part 3): `2:ok,` per stored
 * frame, `<len>:err <reason>,` for a refused one, each a netstring.
 *
 * @module
 */
import { encodeNetstring, writeAll, type Writer } from "../shared/mod.ts";

const OK = encodeNetstring("ok");
/** Runs of `ok`s for small counts, built once: one write per read. */
const OK_RUNS = new Map<number, Uint8Array>();

/**
 * `2:ok,` `count` times, cached for small counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { okAnswers } from "./answers.ts";
 *
 * assert.equal(new TextDecoder().decode(okAnswers(2)), "2:ok,2:ok,");
 * ```
 */
export function okAnswers(count: number): Uint8Array {
  let run = OK_RUNS.get(count);
  if (run) return run;
  run = new Uint8Array(OK.length * count);
  for (let i = 0; i < count; i++) run.set(OK, i * OK.length);
  if (count <= 256) OK_RUNS.set(count, run);
  return run;
}

/**
 * The answer refusing a frame: `err <reason>` as a netstring.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errAnswer } from "./answers.ts";
 *
 * assert.equal(
 *   new TextDecoder().decode(errAnswer("not_a_document")),
 *   "18:err not_a_document,",
 * );
 * ```
 */
export function errAnswer(reason: string): Uint8Array {
  return encodeNetstring(`err ${reason}`);
}

/** Writes all of `data`; a peer that closed (the originals') is ignored. */
export async function writeQuietly(
  conn: Writer,
  data: Uint8Array,
): Promise<void> {
  try {
    await writeAll(conn, data);
  } catch {
    // SPEC part 3: a peer that does not read answers is not an error.
  }
}
