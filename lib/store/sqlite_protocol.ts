/**
 * The messages between {@linkcode SqliteWorkerWriter} (in `sqlite.ts`) and
 * its thread (`sqlite_worker.ts`), in a module of their own so that
 * neither side imports the other's module for them.
 *
 * @module
 */
import type { StoreError } from "./types.ts";

/** A request to the worker. */
export type SqliteRequest =
  | { id: number; op: "open"; path: string }
  | { id: number; op: "save"; docs: unknown[] }
  | { id: number; op: "close" };

/** The worker's answer. */
export type SqliteAnswer =
  | { id: number; firsts?: boolean[] }
  | { id: number; error: { message: string; kind: StoreError["kind"] } };
