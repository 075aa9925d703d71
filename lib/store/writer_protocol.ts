/**
 * The messages between {@linkcode WorkerWriter} (in `worker_writer.ts`) and
 * its thread (`writer_worker.ts`), in a module of their own so that
 * neither side imports the other's module for them.
 *
 * @module
 */
import type { LogFields, LogLevel } from "../shared/mod.ts";
import type { MysqlConfig, RedisConfig } from "./config.ts";
import type { StoreError } from "./types.ts";

/** The store a writer's thread opens. */
export type WorkerTarget =
  | { kind: "sqlite"; path: string }
  | { kind: "mysql"; config: MysqlConfig }
  | { kind: "redis"; config: RedisConfig };

/** A request to the worker. */
export type WriterRequest =
  | {
    id: number;
    op: "open";
    target: WorkerTarget;
    /** The levels the main thread's logger writes. */
    levels: LogLevel[];
  }
  | { id: number; op: "save"; docs: readonly unknown[] }
  | { id: number; op: "close" };

/** The worker's answer to a request, or a line for the main thread's log. */
export type WriterAnswer =
  | { id: number; firsts?: boolean[] }
  | { id: number; error: { message: string; kind: StoreError["kind"] } }
  | { log: { level: LogLevel; message: string; fields?: LogFields } };
