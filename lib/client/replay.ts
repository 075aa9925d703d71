/**
 * Replay: send a range of blocks again, or the ranges a stats API lists as
 * missing, then stop. Servers keep only the first copy of a document, so a
 * replay that overlaps what was stored is harmless.
 *
 * @module
 */
import type { Logger } from "../shared/mod.ts";

/** An inclusive range of block numbers. */
export interface ReplayRange {
  /** First block. */
  from: bigint;
  /** Last block. */
  to: bigint;
}

/** Replay failed: the message says which block and why. */
export class ReplayError extends Error {
  /** An outcome to report in one line, not a bug with a stack trace. */
  readonly expected = true;
  /** Builds the error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ReplayError";
  }
}

/**
 * The missing ranges `<statsUrl>/api/gaps` lists (up to 10,000 of them; run
 * again for more).
 */
export async function fetchGaps(
  statsUrl: string,
  { fetch: get = fetch, timeoutMs = 10_000 } = {},
): Promise<{ ranges: ReplayRange[]; truncated: boolean }> {
  const url = new URL("api/gaps?limit=10000", statsUrl.replace(/\/?$/, "/"));
  let body;
  try {
    const response = await get(url, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`answered ${response.status}`);
    }
    body = await response.json();
  } catch (error) {
    throw new ReplayError(
      `Cannot read the gaps from ${url}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return {
    ranges: (body.ranges as { from: number | string; to: number | string }[])
      .map((r) => ({ from: BigInt(r.from), to: BigInt(r.to) })),
    truncated: body.truncated === true,
  };
}

/**
 * Sends every block of `ranges` in order with `send`, stopping when
 * `signal` aborts; throws a {@linkcode ReplayError} on the first block that
 * no server took. Returns how many were sent.
 */
export async function replayRanges(
  ranges: readonly ReplayRange[],
  { send, log, signal }: {
    send: (block: bigint) => Promise<void>;
    log: Logger;
    signal?: AbortSignal;
  },
): Promise<bigint> {
  let sent = 0n;
  for (const { from, to } of ranges) {
    log.info(`Replaying blocks ${from}-${to}`, {
      from,
      to,
      blocks: to - from + 1n,
    });
    for (let block = from; block <= to; block++) {
      if (signal?.aborted) return sent;
      try {
        await send(block);
      } catch (error) {
        throw new ReplayError(
          `Cannot replay block ${block}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      sent++;
    }
  }
  return sent;
}
