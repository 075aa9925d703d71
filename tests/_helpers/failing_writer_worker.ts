/**
 * The store writers' thread (`lib/store/writer_worker.ts`) with one way to
 * kill it: a batch whose first payload is {@linkcode KILL_PAYLOAD} throws
 * where nothing catches it, as a driver's stray error would.
 */
import "../../lib/store/writer_worker.ts";

/** The payload that kills the thread. */
export const KILL_PAYLOAD = "kill this thread";

const scope = self as unknown as {
  onmessage: (event: MessageEvent) => unknown;
};
const serve = scope.onmessage;
scope.onmessage = (event) => {
  const { op, docs } = event.data;
  if (op === "save" && docs[0]?.payload === KILL_PAYLOAD) {
    throw new Error("killed by the test");
  }
  return serve(event);
};
