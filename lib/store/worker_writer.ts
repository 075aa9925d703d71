/**
 * A store writer on a thread of its own (a Worker).
 *
 * @module
 */
import {
  LOG_LEVELS,
  type Logger,
  settleWithin,
  silentLogger,
} from "../shared/mod.ts";
import {
  type ReceivedDocument,
  StoreError,
  type StoreWriter,
} from "./types.ts";
import type {
  WorkerTarget,
  WriterAnswer,
  WriterRequest,
} from "./writer_protocol.ts";

export type { WorkerTarget } from "./writer_protocol.ts";

/**
 * How long closing waits for the worker to close its store, in ms, before
 * it is stopped: a SQLite file closes at once; a MySQL pool or a Redis
 * connection says goodbye over the network first.
 */
export const CLOSE_WAIT_MS: Readonly<Record<WorkerTarget["kind"], number>> = {
  sqlite: 1000,
  mysql: 5000,
  redis: 5000,
};

/** Options for {@linkcode WorkerWriter.start}. */
export interface WorkerWriterOptions {
  /** Where the writer's log lines go (index builds, connection errors). */
  log?: Logger;
}

/**
 * A {@linkcode StoreWriter} (SQLite, MySQL or Redis) run on its own thread,
 * so no store call (a SQLite transaction or a wait on a locked file, a
 * driver building a batch of thousands of rows) ever runs on the event loop
 * that answers connections. Each batch is copied to the thread once; its
 * behaviour is the same as the writer's on the main thread.
 *
 * @example
 * ```ts ignore
 * import { WorkerWriter } from "./worker_writer.ts";
 * const writer = await WorkerWriter.start({ kind: "sqlite", path: "eth.sqlite" });
 * await writer.save([doc]); // [true]
 * await writer.close();
 * ```
 */
export class WorkerWriter implements StoreWriter {
  /** Store name for logs and metrics. */
  readonly name: WorkerTarget["kind"];
  readonly #worker: Worker;
  readonly #calls = new Map<
    number,
    { resolve: (firsts: boolean[]) => void; reject: (e: Error) => void }
  >();
  #nextId = 1;
  #closed = false;

  protected constructor(kind: WorkerTarget["kind"], log: Logger) {
    this.name = kind;
    const worker = new Worker(
      new URL("./writer_worker.ts", import.meta.url),
      { type: "module" },
    );
    this.#worker = worker;
    worker.onmessage = ({ data }: MessageEvent<WriterAnswer>) => {
      if ("log" in data) {
        log[data.log.level](data.log.message, data.log.fields);
        return;
      }
      const call = this.#calls.get(data.id);
      if (!call) return;
      this.#calls.delete(data.id);
      if ("error" in data) {
        call.reject(new StoreError(data.error.message, data.error));
      } else call.resolve(data.firsts ?? []);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const error = new StoreError(
        `The ${kind} writer's thread failed: ${event.message}`,
      );
      for (const call of this.#calls.values()) call.reject(error);
      this.#calls.clear();
    };
  }

  /**
   * Starts the thread and opens the store there; throws a `StoreError` when
   * it cannot (the thread is stopped).
   */
  static async start(
    target: WorkerTarget,
    { log = silentLogger }: WorkerWriterOptions = {},
  ): Promise<WorkerWriter> {
    const writer = new WorkerWriter(target.kind, log);
    await writer.opened(target, log);
    return writer;
  }

  /** Opens `target` in the thread (stopping it when that fails). */
  protected async opened(target: WorkerTarget, log: Logger): Promise<void> {
    const levels = LOG_LEVELS.filter((level) => log.enabled(level));
    try {
      await this.#call({ id: 0, op: "open", target, levels });
    } catch (error) {
      this.#closed = true;
      this.#worker.terminate();
      throw error;
    }
  }

  #call(request: WriterRequest): Promise<boolean[]> {
    if (this.#closed) {
      return Promise.reject(
        new StoreError(`The ${this.name} writer is closed`),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  /** Saves a batch; see {@linkcode StoreWriter.save}. */
  save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return Promise.resolve([]);
    return this.#call({ id: 0, op: "save", docs });
  }

  /** Closes the store and stops the thread (at once if it is stuck). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      // A failed or stuck close ends the same way: the thread is stopped.
      await settleWithin(
        this.#call({ id: 0, op: "close" }),
        CLOSE_WAIT_MS[this.name],
      );
    } finally {
      this.#closed = true;
      this.#worker.terminate();
      const error = new StoreError(`The ${this.name} writer is closed`);
      for (const call of this.#calls.values()) call.reject(error);
      this.#calls.clear();
    }
  }
}
