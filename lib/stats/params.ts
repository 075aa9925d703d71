/**
 * Validation of what a request to the stats API names: document hashes in
 * paths, and query parameters. Anything that is not exactly well-formed is
 * refused with a {@linkcode BadRequestError} before a store sees it.
 *
 * @module
 */

/** A request the stats API refuses with status 400; the message says why. */
export class BadRequestError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

const HASH = /^[0-9a-f]{64}$/i;

/**
 * Checks a hash from a path: 64 hexadecimal digits (either case), returned
 * in lowercase, as the stores keep them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHash } from "./params.ts";
 * assert.equal(parseHash("AB".repeat(32)), "ab".repeat(32));
 * ```
 */
export function parseHash(segment: string): string {
  if (!HASH.test(segment)) {
    throw new BadRequestError(
      "Malformed hash: expected 64 hexadecimal digits (a SHA-256)",
    );
  }
  return segment.toLowerCase();
}

/**
 * Reads the query string, allowing only `allowed` names, each at most once;
 * anything else is a {@linkcode BadRequestError}.
 */
export function queryParams(
  search: URLSearchParams,
  allowed: readonly string[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of search) {
    if (!allowed.includes(name)) {
      throw new BadRequestError(
        allowed.length === 0
          ? "This route takes no query parameters"
          : `Unknown query parameter ${JSON.stringify(name)} (allowed: ${
            allowed.join(", ")
          })`,
      );
    }
    if (out.has(name)) {
      throw new BadRequestError(`Query parameter ${name} is given twice`);
    }
    out.set(name, value);
  }
  return out;
}

/**
 * Reads an integer parameter in `[min, max]`, `fallback` when absent. Only
 * plain decimal digits are accepted (no sign, exponent or spaces).
 */
export function integerParam(
  params: Map<string, string>,
  name: string,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  const raw = params.get(name);
  if (raw === undefined) return fallback;
  const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw new BadRequestError(
      `${name} must be an integer from ${min} to ${max}`,
    );
  }
  return n;
}

/** Where a page of blocks ends: the last block's first-seen time and hash. */
export interface Cursor {
  /** ms since the epoch; may have a fraction (Redis scores). */
  firstSeen: number;
  hash: string;
}

const CURSOR = /^(0|[1-9]\d{0,15})(\.\d{1,12})?_([0-9a-f]{64})$/;

/**
 * Encodes a cursor as `<firstSeen>_<hash>`: readable, and exact because a
 * number's shortest string form reads back as the same number.
 */
export function encodeCursor(cursor: Cursor): string {
  return `${cursor.firstSeen}_${cursor.hash}`;
}

/** Decodes {@linkcode encodeCursor}'s form; anything else is a bad request. */
export function decodeCursor(raw: string): Cursor {
  const m = CURSOR.exec(raw);
  if (!m) {
    throw new BadRequestError(
      "Malformed cursor: pass back the nextCursor of a previous page",
    );
  }
  return { firstSeen: Number(m[1] + (m[2] ?? "")), hash: m[3] };
}
