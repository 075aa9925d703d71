/**
 * The SQLite writer's thread: `node:sqlite` is synchronous, so a locked or
 * slow file would stall the event loop (and every connection, `/livez`
 * included) for up to the busy timeout. Here it only stalls this worker.
 * Messages: `{ id, op: "open", path }`, `{ id, op: "save", docs }`,
 * `{ id, op: "close" }`; every answer is `{ id, firsts? }` or
 * `{ id, error: { message, kind } }`.
 *
 * @module
 */
import { SqliteWriter } from "./sqlite.ts";
import { StoreError } from "./types.ts";
import type { SqliteAnswer, SqliteRequest } from "./sqlite_protocol.ts";

let writer: SqliteWriter | undefined;
const scope = self as unknown as {
  onmessage: (event: MessageEvent<SqliteRequest>) => void;
  postMessage: (answer: SqliteAnswer) => void;
  close: () => void;
};

scope.onmessage = async ({ data }) => {
  try {
    if (data.op === "open") {
      writer = SqliteWriter.open(data.path);
      scope.postMessage({ id: data.id });
    } else if (data.op === "save") {
      if (!writer) throw new StoreError("The SQLite file is not open");
      const firsts = await writer.save(
        data.docs as Parameters<SqliteWriter["save"]>[0],
      );
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
