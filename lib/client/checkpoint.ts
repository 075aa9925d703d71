/**
 * The client's checkpoint (`--state-file`): the last block sent, so a
 * restarted client resumes after it instead of re-sending or skipping.
 *
 * The file is one JSON object, `{"lastSent":"<decimal block>","savedAt":"<ISO time>"}`.
 * It is replaced atomically (a synced temporary file renamed over it), so a
 * crash leaves either the old or the new checkpoint, never a torn one.
 *
 * @module
 */
import { writeAll } from "../shared/mod.ts";

/** A checkpoint file could not be read, parsed or written. */
export class CheckpointError extends Error {
  /** The checkpoint file. */
  readonly path: string;

  /** Builds the error. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
    this.path = path;
  }
}

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

/**
 * Reads the last block sent from `path`: `undefined` when the file does not
 * exist yet, a {@linkcode CheckpointError} when it cannot be read or is not
 * a checkpoint (a corrupt file is never silently treated as a fresh start).
 *
 * @example
 * ```ts ignore
 * // Not run: reads a file in the working directory (tests/client/checkpoint_test.ts runs it).
 * import { readCheckpoint } from "./checkpoint.ts";
 * const lastSent = await readCheckpoint("client.state.json"); // e.g. 21000000n
 * ```
 */
export async function readCheckpoint(
  path: string,
): Promise<bigint | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new CheckpointError(
      path,
      `Cannot read checkpoint ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw corrupt(path, `malformed JSON ${JSON.stringify(text.slice(0, 40))}`, {
      cause,
    });
  }
  const value = typeof body === "object" && body !== null
    ? (body as Record<string, unknown>).lastSent
    : undefined;
  if (typeof value !== "string" || !DECIMAL.test(value)) {
    throw corrupt(path, `no "lastSent" block number`);
  }
  return BigInt(value);
}

/**
 * Records `block` as the last block sent, atomically: the new content is
 * written and synced to a temporary file next to `path`, which is then
 * renamed over it.
 */
export async function writeCheckpoint(
  path: string,
  block: bigint,
  { now = Date.now }: { now?: () => number } = {},
): Promise<void> {
  const body = JSON.stringify({
    lastSent: block.toString(),
    savedAt: new Date(now()).toISOString(),
  }) + "\n";
  const temp = tempPath(path);
  try {
    await writeSynced(temp, body);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new CheckpointError(
      path,
      `Cannot write checkpoint ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Checks that a checkpoint can be written at `path` (its directory exists
 * and is writable) without touching the file itself, so a bad
 * `--state-file` fails at start rather than after the first send.
 */
export async function probeCheckpoint(path: string): Promise<void> {
  const temp = tempPath(path);
  try {
    await writeSynced(temp, "");
    await Deno.remove(temp);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new CheckpointError(
      path,
      `Cannot write checkpoint ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function corrupt(path: string, what: string, options?: ErrorOptions) {
  return new CheckpointError(
    path,
    `Checkpoint ${path} is corrupt (${what}); expected {"lastSent":"<block>"}: fix the file or remove it to start from the current head`,
    options,
  );
}

function tempPath(path: string) {
  return `${path}.${Deno.pid}.tmp`;
}

async function writeSynced(path: string, text: string) {
  using file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  await writeAll(file, new TextEncoder().encode(text));
  await file.syncData();
}
