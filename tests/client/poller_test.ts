import assert from "node:assert/strict";
import { createLogger } from "../../lib/shared/log.ts";
import {
  isStale,
  newPollerStats,
  type PollerStats,
  pollHeads,
  recordHead,
} from "../../lib/client/poller.ts";
import { abortableSleep } from "../../lib/shared/async.ts";
import { RpcError } from "../../lib/shared/jsonrpc.ts";

/**
 * Drives pollHeads on a fake clock: each sleep advances the clock, answers
 * come from `answers` (a bigint, an error to throw, or undefined), and the
 * loop stops once they are used up.
 */
async function drive(
  answers: (bigint | Error | undefined)[],
  options: {
    intervalMs?: number;
    staleAfterMs?: number;
    pollMs?: number;
    onHead?: (head: bigint) => Promise<boolean>;
    recordHeads?: boolean;
    stats?: PollerStats;
  } = {},
) {
  let now = 1_000_000;
  const controller = new AbortController();
  const slept: number[] = [];
  const heads: bigint[] = [];
  const lines: string[] = [];
  let staleCalls = 0;
  const queue = [...answers];
  const stats = options.stats ?? newPollerStats(now);
  await pollHeads({
    intervalMs: options.intervalMs ?? 1000,
    staleAfterMs: options.staleAfterMs,
    recordHeads: options.recordHeads,
    signal: controller.signal,
    stats,
    now: () => now,
    random: () => 1,
    log: createLogger("t", {
      level: "debug",
      write: (l) => lines.push(l),
      now: () => now,
    }),
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      if (queue.length === 0) controller.abort();
      return Promise.resolve();
    },
    fetchHead: () => {
      now += options.pollMs ?? 0;
      const answer = queue.shift();
      return answer instanceof Error
        ? Promise.reject(answer)
        : Promise.resolve(answer);
    },
    onHead: options.onHead ?? ((head) => {
      heads.push(head);
      return Promise.resolve(true);
    }),
    onStale: () => staleCalls++,
  });
  return { slept, heads, lines, stats, staleCalls: () => staleCalls };
}

const timeout = () => new RpcError("timeout", "http://x", "timed out");

Deno.test("polls once per interval, counting the time a poll took", async () => {
  const { slept, heads, stats } = await drive([1n, 2n, 3n], {
    intervalMs: 1000,
    pollMs: 200,
  });
  assert.deepEqual(heads, [1n, 2n, 3n]);
  assert.deepEqual(slept, [800, 800, 800]);
  assert.equal(stats.polls, 3);
  assert.equal(stats.head, 3n);
});

Deno.test("failed polls back off from 250 ms, never beyond the interval", async () => {
  const { slept, lines, stats } = await drive(
    [timeout(), timeout(), timeout(), timeout(), timeout(), 7n],
    { intervalMs: 1500 },
  );
  // random() = 1: the full backoff step.
  assert.deepEqual(slept, [250, 500, 1000, 1500, 1500, 1500]);
  assert.deepEqual(stats.errors, { timeout: 5 });
  assert.equal(stats.polls, 6);
  assert.equal(
    lines.filter((l) => /WARN .*Poll failed \(timeout\)/.test(l)).length,
    3,
  );
  assert.equal(
    lines.filter((l) => /DEBUG .*Poll failed \(timeout\)/.test(l)).length,
    2,
  );
  assert.ok(lines.some((l) => /RPC healthy again after 5 errors/.test(l)));
});

Deno.test("Retry-After is honoured, up to ten intervals", async () => {
  const limited = (ms: number) =>
    new RpcError("http", "http://x", "HTTP 429", {
      status: 429,
      retryAfterMs: ms,
    });
  const { slept, stats } = await drive([limited(3000), limited(60_000), 1n], {
    intervalMs: 1000,
  });
  assert.deepEqual(slept, [3000, 10_000, 1000]);
  assert.deepEqual(stats.errors, { http: 2 });
});

Deno.test("errors of other types count as 'other' and never end the loop", async () => {
  const { heads, stats } = await drive([new TypeError("boom"), 5n]);
  assert.deepEqual(heads, [5n]);
  assert.deepEqual(stats.errors, { other: 1 });
});

Deno.test("an unfinished head (failed send) is retried soon, not after a full interval", async () => {
  let calls = 0;
  const { slept } = await drive([9n, 9n], {
    intervalMs: 5000,
    onHead: () => Promise.resolve(++calls > 1),
  });
  assert.deepEqual(slept, [250, 5000]);
});

Deno.test("nothing to ask (undefined) is not a poll and not an error", async () => {
  const { heads, stats, slept } = await drive([undefined, undefined, 4n]);
  assert.deepEqual(heads, [4n]);
  assert.equal(stats.polls, 1);
  assert.deepEqual(stats.errors, {});
  assert.deepEqual(slept, [1000, 1000, 1000]);
});

Deno.test("staleness: one warning and one onStale per episode, then recovery", async () => {
  const { lines, stats, staleCalls } = await drive(
    [1n, 1n, 1n, 1n, 1n, 2n, 2n, 2n, 2n, 2n, 2n],
    { intervalMs: 1000, staleAfterMs: 3000 },
  );
  const warnings = lines.filter((l) => /No new block for/.test(l));
  assert.equal(warnings.length, 2, lines.join("\n"));
  assert.match(warnings[0], /No new block for 3 s \(head 1\)/);
  assert.ok(lines.some((l) => /Head moving again at 2/.test(l)));
  assert.equal(staleCalls(), 2);
  assert.equal(stats.stale, true);
});

Deno.test("a lower head does not restart the staleness clock", async () => {
  const { lines } = await drive([10n, 9n, 8n, 10n, 7n], {
    intervalMs: 1000,
    staleAfterMs: 4000,
  });
  assert.ok(lines.some((l) => /No new block for 4 s \(head 10\)/.test(l)));
});

Deno.test("recordHeads: false leaves the staleness clock to onHead", async () => {
  const stats = newPollerStats(1_000_000);
  const believed: bigint[] = [];
  const { lines } = await drive([1n, 10n ** 12n, 2n, 3n], {
    intervalMs: 1000,
    staleAfterMs: 10_000,
    recordHeads: false,
    stats,
    onHead: (head) => {
      if (head < 1000n) {
        believed.push(head);
        recordHead(stats, head);
      }
      return Promise.resolve(true);
    },
  });
  assert.equal(stats.head, 3n, "the absurd answer was not recorded");
  assert.deepEqual(believed, [1n, 2n, 3n]);
  assert.equal(lines.filter((l) => /No new block/.test(l)).length, 0);
});

Deno.test("recordHead and isStale", () => {
  const stats = newPollerStats(0);
  assert.equal(isStale(stats, 60_000, 59_999), false);
  assert.equal(isStale(stats, 60_000, 60_000), true);
  assert.equal(recordHead(stats, 5n, { now: () => 61_000 }), true);
  assert.equal(isStale(stats, 60_000, 61_000), false);
  assert.equal(recordHead(stats, 5n, { now: () => 200_000 }), false);
  assert.equal(recordHead(stats, 4n, { now: () => 200_000 }), false);
  assert.equal(stats.lastHeadAt, 61_000);
});

Deno.test("abortableSleep resolves early on abort and never rejects", async () => {
  const controller = new AbortController();
  const sleeping = abortableSleep(60_000, controller.signal);
  controller.abort();
  await sleeping;
  await abortableSleep(60_000, controller.signal);
});
