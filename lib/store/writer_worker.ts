/**
 * A store writer's thread. `node:sqlite` is synchronous, so a locked or slow
 * file would stall the event loop (and every connection, `/livez`
 * included) for up to the busy timeout; the MySQL and Redis drivers build a
 * batch of thousands of rows in one synchronous run of several
 * milliseconds, during which no connection is answered. Here they only
 * stall this worker. Messages: `{ id, op: "open", target, levels }`,
 * `{ id, op: "save", docs }`, `{ id, op: "close" }`; every answer is
 * `{ id, firsts? }` or `{ id, error: { message, kind } }`, and the writer's
 * log lines come as `{ log: { level, message, fields? } }`.
 *
 * @module
 */
import type { LogFields, Logger, LogLevel } from "../shared/mod.ts";
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

let writer: StoreWriter | undefined;
const scope = self as unknown as {
  onmessage: (event: MessageEvent<WriterRequest>) => void;
  postMessage: (answer: WriterAnswer) => void;
};

/** A logger that hands its lines to the main thread's. */
function forwardingLogger(levels: readonly LogLevel[]): Logger {
  const on = new Set(levels);
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (!on.has(level)) return;
    try {
      scope.postMessage({ log: { level, message, fields } });
    } catch {
      // Fields that cannot be copied across threads: the message alone.
      scope.postMessage({ log: { level, message } });
    }
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    enabled: (level) => on.has(level),
  };
}

/** Opens the writer, loading only the driver `target` needs. */
async function open(target: WorkerTarget, log: Logger): Promise<StoreWriter> {
  switch (target.kind) {
    case "sqlite":
      return (await import("./sqlite.ts")).SqliteWriter.open(target.path, {
        log,
      });
    case "mysql":
      return await (await import("./mysql_writer.ts")).MysqlWriter.open(
        target.config,
        { log },
      );
    case "redis":
      return await (await import("./redis_writer.ts")).RedisWriter.open(
        target.config,
        { log },
      );
  }
}

scope.onmessage = async ({ data }) => {
  try {
    if (data.op === "open") {
      writer = await open(data.target, forwardingLogger(data.levels));
      scope.postMessage({ id: data.id });
    } else if (data.op === "save") {
      if (!writer) throw new StoreError("The store is not open");
      const firsts = await writer.save(data.docs as ReceivedDocument[]);
      scope.postMessage({ id: data.id, firsts });
    } else {
      await writer?.close();
      writer = undefined;
      scope.postMessage({ id: data.id });
    }
  } catch (error) {
    scope.postMessage({
      id: data.id,
      error: {
        message: (error as Error).message,
        kind: error instanceof StoreError ? error.kind : "unavailable",
      },
    });
  }
};
