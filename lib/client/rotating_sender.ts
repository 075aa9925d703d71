/**
 * Rotation over several servers: each document goes to the next server in
 * turn, a failed one is tried last for a while, and the document moves on to
 * the following servers until one takes it (as DNS round-robin did for the
 * originals).
 *
 * @module
 */
import type { Logger } from "../shared/mod.ts";
import { AnswerMemory } from "./answer_memory.ts";
import {
  type AckMode,
  type Delivery,
  DocumentRefusedError,
  sendDocument,
  type SendTlsOptions,
  type ServerAddress,
} from "./sender.ts";

/** How long a server that failed is tried last, in ms. */
export const DEFAULT_SERVER_COOLDOWN_MS = 5000;

/** Options for {@linkcode createRotatingSender}. */
export interface RotatingSenderOptions {
  /** Budget per server tried, in ms. */
  timeoutMs: number;
  /** Aborts the send in flight. */
  signal?: AbortSignal;
  /** Where to log. */
  log?: Logger;
  /** Speak TLS to every server. */
  tls?: SendTlsOptions;
  /**
   * See {@linkcode AckMode}.
   *
   * @default {DEFAULT_ACK_MODE}
   */
  ack?: AckMode;
  /**
   * For `--ack auto`: which servers answer, shared by every send (pass one
   * to read its counters). Default: a new memory.
   */
  answered?: AnswerMemory;
  /**
   * How long a server that failed is tried last, in ms.
   *
   * @default {DEFAULT_SERVER_COOLDOWN_MS}
   */
  cooldownMs?: number;
  /** Told of each attempt's outcome and its latency in ms. */
  onResult?: (result: "ok" | "close" | "err" | "none", ms: number) => void;
  /** Clock in ms. Defaults to `performance.now`. */
  now?: () => number;
}

/** Where a document went. */
export interface SentTo {
  /** The server that took the document. */
  server: ServerAddress;
  /** How it took it. */
  delivery: Delivery;
}

/**
 * Returns a function that sends a payload to the next server in turn; when a
 * server fails, the following ones are tried for the same payload (as DNS
 * round-robin did for the originals), and the one that failed is tried last
 * for `cooldownMs`. It throws the last {@linkcode SendError} when every
 * server failed, and {@linkcode DocumentRefusedError} at once on `err`
 * (another server would refuse it too).
 */
export function createRotatingSender(
  servers: readonly ServerAddress[],
  options: RotatingSenderOptions,
): (payload: string) => Promise<SentTo> {
  let next = 0;
  const answered = options.answered ?? new AnswerMemory();
  const failedAt = new Array<number>(servers.length).fill(-Infinity);
  const now = options.now ?? (() => performance.now());
  const cooldownMs = options.cooldownMs ?? DEFAULT_SERVER_COOLDOWN_MS;
  return async (payload) => {
    const t = now();
    const order = servers.map((_, k) => (next + k) % servers.length);
    // Cooling-down servers go last, not away: with all of them down, the
    // least recently failed is still tried.
    const ready = order.filter((i) => t - failedAt[i] >= cooldownMs);
    const cooling = order.filter((i) => t - failedAt[i] < cooldownMs)
      .sort((a, b) => failedAt[a] - failedAt[b]);
    let last: unknown;
    for (const i of [...ready, ...cooling]) {
      const started = now();
      try {
        const delivery = await sendDocument(servers[i], payload, {
          ...options,
          answered,
        });
        options.onResult?.(delivery, now() - started);
        failedAt[i] = -Infinity;
        next = (i + 1) % servers.length;
        return { server: servers[i], delivery };
      } catch (error) {
        if (error instanceof DocumentRefusedError) {
          options.onResult?.("err", now() - started);
          next = (i + 1) % servers.length;
          throw error;
        }
        options.onResult?.("none", now() - started);
        failedAt[i] = now();
        last = error;
        if (servers.length > 1) {
          options.log?.debug(
            `${(error as Error).message}; trying the next server`,
          );
        }
      }
    }
    throw last;
  };
}
