/**
 * Sending documents as our client does with `--ack required`, for the tests
 * that judge the acknowledgement by what reaches the stores: each returns
 * the SHA-256 of every document that got `ok`.
 */
import assert from "node:assert/strict";
import { sendDocument } from "../../lib/client/sender.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";

const template = await BlockTemplate.load();

/** Sends `blocks` one by one; each must get `ok`. */
export async function sendAllAcked(
  port: number,
  blocks: number[],
  timeoutMs = 5000,
): Promise<string[]> {
  const acked: string[] = [];
  for (const block of blocks) {
    const payload = template.render(BigInt(block));
    assert.equal(
      await sendDocument({ host: "127.0.0.1", port }, payload, {
        ack: "required",
        timeoutMs,
      }),
      "ok",
    );
    acked.push(sha256Hex(payload));
  }
  return acked;
}

/**
 * `connections` loops send consecutive distinct blocks (loop `k` from
 * `from + k * stride`) until `stop` or their first failure, as when the
 * server dies; resolves the documents acknowledged with `ok`.
 */
export async function blastAcked(
  port: number,
  { from, connections, stop, stride = 1_000_000, timeoutMs = 2000 }: {
    from: number;
    connections: number;
    stop: AbortSignal;
    stride?: number;
    timeoutMs?: number;
  },
): Promise<string[]> {
  const acked: string[] = [];
  await Promise.all(
    Array.from({ length: connections }, async (_, k) => {
      for (let i = 0; !stop.aborted; i++) {
        const payload = template.render(BigInt(from + k * stride + i));
        try {
          const delivery = await sendDocument(
            { host: "127.0.0.1", port },
            payload,
            { ack: "required", timeoutMs },
          );
          assert.equal(delivery, "ok");
          acked.push(sha256Hex(payload));
        } catch {
          return; // The server stopped: what it acknowledged is what counts.
        }
      }
    }),
  );
  return acked;
}
