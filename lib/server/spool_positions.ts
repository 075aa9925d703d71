/**
 * Where each store is in the spool: one small file per store,
 * `<store>.pos`, holding the sequence number of the first document that
 * store does not hold yet. It is rewritten without a sync: after a power
 * loss a store may be sent documents again, which stores take idempotently.
 *
 * @module
 */

/** The position file of `store` in the spool directory `dir`. */
function positionPath(dir: string, store: string): string {
  return `${dir}/${store}.pos`;
}

/** A store's saved position, or undefined when missing or unreadable. */
async function readPosition(path: string): Promise<number | undefined> {
  try {
    const n = Number((await Deno.readTextFile(path)).trim());
    return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads every store's position, clamped to what the segments hold:
 * `oldest` is the first record on disk (undefined when no segment is
 * left), `next` the number the next record gets. With no segment left,
 * numbering goes on after the furthest position, so the returned `next`
 * may be larger.
 */
export async function readPositions(
  dir: string,
  stores: readonly string[],
  oldest: number | undefined,
  next: number,
): Promise<{ positions: Map<string, number>; next: number }> {
  const saved = new Map<string, number | undefined>();
  for (const store of stores) {
    const seq = await readPosition(positionPath(dir, store));
    saved.set(store, seq);
    if (oldest === undefined && seq !== undefined) next = Math.max(next, seq);
  }
  const first = oldest ?? next;
  const positions = new Map<string, number>();
  for (const store of stores) {
    const seq = saved.get(store) ?? first;
    positions.set(store, Math.min(Math.max(seq, first), next));
  }
  return { positions, next };
}

/**
 * Writes every position (to a temporary file, then renamed over the old
 * one, so a crash leaves the old or the new). Returns false when some
 * could not be written: the caller retries, at worst documents are
 * replayed.
 */
export async function writePositions(
  dir: string,
  positions: ReadonlyMap<string, number>,
): Promise<boolean> {
  let all = true;
  for (const [store, seq] of positions) {
    const path = positionPath(dir, store);
    try {
      await Deno.writeTextFile(`${path}.tmp`, `${seq}\n`);
      await Deno.rename(`${path}.tmp`, path);
    } catch {
      all = false;
    }
  }
  return all;
}
