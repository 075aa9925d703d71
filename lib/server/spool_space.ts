/**
 * The next spool segment's space, made ready ahead: a file of zeros,
 * written and fully synced in the background, renamed to the segment's name
 * when the segment starts. Records then overwrite blocks that are already
 * allocated and initialised, so the `fdatasync` of each group has only data
 * to flush: an appended file also changes its size, and ext4 commits its
 * journal for that on every sync (a fifth of a sync's time under load on
 * the test machine's disk, two fifths alone).
 *
 * @module
 */
import { writeAll } from "../shared/mod.ts";

/**
 * The file the space is made in. Not a segment: it does not end in `.seg`,
 * so it is never replayed.
 */
export const NEXT_SPACE_NAME = "next-segment.zeros";
/** Zeros written at a time while the space is made. */
const ZEROS = new Uint8Array(1024 * 1024);

/**
 * One segment's space, made ahead in a spool directory, at most one at a
 * time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentSpace } from "./spool_space.ts";
 * const dir = await Deno.makeTempDir();
 * const space = new SegmentSpace(dir, 4096);
 * assert.equal(await space.take(`${dir}/1.seg`), false);
 * space.make();
 * await space.made();
 * assert.equal(await space.take(`${dir}/1.seg`), true);
 * assert.equal((await Deno.stat(`${dir}/1.seg`)).size, 4096);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SegmentSpace {
  readonly #path: string;
  readonly #bytes: number;
  #making: Promise<void> | undefined;
  #ready = false;

  /** Space of `bytes` zeros in `dir`. */
  constructor(dir: string, bytes: number) {
    this.#path = `${dir}/${NEXT_SPACE_NAME}`;
    this.#bytes = bytes;
  }

  /** Removes space a crash left in `dir`, perhaps half made. */
  static async clear(dir: string): Promise<void> {
    await Deno.remove(`${dir}/${NEXT_SPACE_NAME}`).catch(() => {});
  }

  /** Starts making the space, unless it is ready or being made. */
  make(): void {
    if (this.#making || this.#ready) return;
    this.#making = (async () => {
      try {
        using file = await Deno.open(this.#path, {
          create: true,
          write: true,
          truncate: true,
        });
        for (let left = this.#bytes; left > 0; left -= ZEROS.length) {
          await writeAll(file, ZEROS.subarray(0, Math.min(left, ZEROS.length)));
        }
        await file.sync();
        this.#ready = true;
      } catch {
        // The next segment is a new, growing file instead.
        await Deno.remove(this.#path).catch(() => {});
        this.#making = undefined;
      }
    })();
  }

  /** Resolves once the space being made (if any) is ready or has failed. */
  async made(): Promise<void> {
    await this.#making;
  }

  /**
   * Renames the space to `path` (replacing what is there): true, or false
   * when none is ready. The caller syncs the directory.
   */
  async take(path: string): Promise<boolean> {
    if (!this.#ready) return false;
    this.#ready = false;
    this.#making = undefined;
    await Deno.rename(this.#path, path);
    return true;
  }

  /** Waits for the space being made, and removes what is ready. */
  async discard(): Promise<void> {
    await this.#making;
    if (!this.#ready) return;
    this.#ready = false;
    this.#making = undefined;
    await Deno.remove(this.#path).catch(() => {});
  }
}
