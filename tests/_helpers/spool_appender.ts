/**
 * Test documents for the spool, and a program that appends them to a spool
 * until it is killed, printing the last sequence number of each group once
 * that group is synced (acknowledged):
 *
 *   deno run -A tests/_helpers/spool_appender.ts DIR SEGMENT_BYTES
 */
import { Spool } from "../../lib/server/spool.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";

/** Test document number `n` (distinct payload and hash per `n`). */
export function spoolDoc(n: number): ReceivedDocument {
  return {
    payload: `<p>${n}</p>`,
    hash: n.toString(16).padStart(64, "0"),
    block: BigInt(n),
    ip: "127.0.0.1",
    port: 1000 + n,
    receivedAt: 1_700_000_000_000 + n,
    server: "test:1",
  };
}

/** Documents per group the program appends before waiting for the sync. */
export const APPENDER_GROUP = 7;

if (import.meta.main) {
  const [dir, segmentBytes] = Deno.args;
  const { spool } = await Spool.open(dir, {
    stores: ["sqlite"],
    maxBytes: 1 << 30,
    segmentBytes: Number(segmentBytes),
  });
  for (let n = 1;; n += APPENDER_GROUP) {
    let last = 0;
    for (let i = 0; i < APPENDER_GROUP; i++) {
      last = spool.append(spoolDoc(n + i));
    }
    await spool.synced(last);
    console.log(last);
  }
}
