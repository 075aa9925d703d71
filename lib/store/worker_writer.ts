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

/** The module every writer's thread runs. */
const WRITER_WORKER: URL = new URL("./writer_worker.ts", import.meta.url);

/** Options for {@linkcode WorkerWriter.start}. */
export interface WorkerWriterOptions {
  /** Where the writer's log lines go (index builds, connection errors). */
  log?: Logger;
  /**
   * The thread's module, which must serve `writer_worker.ts`'s messages
   * (tests use one they can make fail).
   *
   * @default {the URL of `writer_worker.ts`}
   */
  module?: URL;
}

/**
 * A {@linkcode StoreWriter} (SQLite, MySQL or Redis) run on its own thread,
 * so no store call (a SQLite transaction or a wait on a locked file, a
 * driver building a batch of thousands of rows) ever runs on the event loop
 * that answers connections. Each batch is copied to the thread once; its
 * behaviour is the same as the writer's on the main thread. A thread that
 * dies (an error nothing in it caught) fails the batches it held, and the
 * next batch starts a new thread and opens the store again.
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
  readonly #log: Logger;
  readonly #module: URL;
  readonly #calls = new Map<
    number,
    { resolve: (firsts: boolean[]) => void; reject: (e: Error) => void }
  >();
  #worker: Worker;
  #target: WorkerTarget | undefined;
  #nextId = 1;
  #closed = false;
  // The thread died (an error nothing in it caught): the next save starts
  // a new one and opens the store there again.
  #dead = false;
  #restarting: Promise<void> | undefined;

  protected constructor(
    kind: WorkerTarget["kind"],
    log: Logger,
    module: URL = WRITER_WORKER,
  ) {
    this.name = kind;
    this.#log = log;
    this.#module = module;
    this.#worker = this.#spawn();
  }

  /**
   * Starts the thread and opens the store there; throws a `StoreError` when
   * it cannot (the thread is stopped).
   */
  static async start(
    target: WorkerTarget,
    { log = silentLogger, module }: WorkerWriterOptions = {},
  ): Promise<WorkerWriter> {
    const writer = new WorkerWriter(target.kind, log, module);
    await writer.opened(target);
    return writer;
  }

  /** Opens `target` in the thread (stopping it when that fails). */
  protected async opened(target: WorkerTarget): Promise<void> {
    this.#target = target;
    try {
      await this.#open();
    } catch (error) {
      this.#closed = true;
      this.#worker.terminate();
      throw error;
    }
  }

  #spawn(): Worker {
    const worker = new Worker(this.#module, { type: "module" });
    worker.onmessage = ({ data }: MessageEvent<WriterAnswer>) => {
      if ("log" in data) {
        this.#log[data.log.level](data.log.message, data.log.fields);
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
      // A worker with an uncaught error is gone: nothing sent to it would
      // ever be answered.
      worker.terminate();
      if (worker !== this.#worker) return;
      this.#dead = true;
      this.#failCalls(
        `The ${this.name} writer's thread failed (${event.message}); ` +
          `the next batch starts a new one`,
      );
    };
    return worker;
  }

  #open(): Promise<boolean[]> {
    const levels = LOG_LEVELS.filter((level) => this.#log.enabled(level));
    return this.#call({ id: 0, op: "open", target: this.#target!, levels });
  }

  /** A new thread, with the store opened in it, after the last one died. */
  #restart(): Promise<void> {
    this.#restarting ??= (async () => {
      try {
        this.#worker = this.#spawn();
        this.#dead = false;
        await this.#open();
      } catch (error) {
        this.#dead = true;
        this.#worker.terminate();
        throw error;
      } finally {
        this.#restarting = undefined;
      }
    })();
    return this.#restarting;
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

  #failCalls(message: string) {
    const error = new StoreError(message);
    for (const call of this.#calls.values()) call.reject(error);
    this.#calls.clear();
  }

  /** Saves a batch; see {@linkcode StoreWriter.save}. */
  async save(docs: readonly ReceivedDocument[]): Promise<boolean[]> {
    if (docs.length === 0) return [];
    if (this.#dead && !this.#closed) await this.#restart();
    return await this.#call({ id: 0, op: "save", docs });
  }

  /** Closes the store and stops the thread (at once if it is stuck). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      // A failed or stuck close ends the same way: the thread is stopped.
      if (!this.#dead) {
        await settleWithin(
          this.#call({ id: 0, op: "close" }),
          CLOSE_WAIT_MS[this.name],
        );
      }
    } finally {
      this.#closed = true;
      this.#worker.terminate();
      this.#failCalls(`The ${this.name} writer is closed`);
    }
  }
}
