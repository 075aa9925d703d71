import assert from "node:assert/strict";
import { BlockFollower } from "../../lib/client/follower.ts";
import { createLogger } from "../../lib/shared/log.ts";

function range(from: bigint, to: bigint): bigint[] {
  const out: bigint[] = [];
  for (let b = from; b <= to; b++) out.push(b);
  return out;
}

/** A send that records each block. */
const into = (sent: bigint[]) => (block: bigint) => {
  sent.push(block);
  return Promise.resolve();
};

function recorder() {
  const lines: string[] = [];
  return {
    lines,
    log: createLogger("t", { level: "debug", write: (l) => lines.push(l) }),
  };
}

Deno.test("a head jump sends every block in between, in order", async () => {
  const sent: bigint[] = [];
  const f = new BlockFollower({
    lastSent: 10n,
    send: into(sent),
  });
  assert.equal(await f.advance(15n), true);
  assert.deepEqual(sent, range(11n, 15n));
  assert.equal(f.lastSent, 15n);
  assert.equal(f.stats.sent, 5);
  assert.equal(f.stats.backfilled, 4);
  assert.equal(f.stats.skipped, 0);
  assert.equal(await f.advance(15n), true, "the same head sends nothing");
  assert.deepEqual(sent, range(11n, 15n));
});

Deno.test("without a checkpoint the first head alone is sent", async () => {
  const sent: bigint[] = [];
  const f = new BlockFollower({
    send: into(sent),
  });
  await f.advance(21_000_000n);
  await f.advance(21_000_002n);
  assert.deepEqual(sent, [21_000_000n, 21_000_001n, 21_000_002n]);
});

Deno.test("a gap over --max-backfill sends the newest blocks and logs the skipped range", async () => {
  const sent: bigint[] = [];
  const { lines, log } = recorder();
  const f = new BlockFollower({
    lastSent: 1000n,
    maxBackfill: 128,
    log,
    send: into(sent),
  });
  await f.advance(1500n);
  assert.deepEqual(sent, range(1373n, 1500n));
  assert.equal(f.stats.skipped, 372);
  assert.equal(f.stats.sent, 128);
  assert.equal(f.stats.backfilled, 127);
  assert.ok(
    lines.some((l) =>
      /WARN .*Gap of 500 blocks exceeds --max-backfill 128: skipping 1001\.\.1372, sending 1373\.\.1500/
        .test(l)
    ),
    lines.join("\n"),
  );
});

Deno.test("--max-backfill 0 sends only the head", async () => {
  const sent: bigint[] = [];
  const f = new BlockFollower({
    lastSent: 5n,
    maxBackfill: 0,
    send: into(sent),
  });
  await f.advance(9n);
  assert.deepEqual(sent, [9n]);
  assert.equal(f.stats.skipped, 3);
});

Deno.test("heads that go backwards never cause a send", async () => {
  const sent: bigint[] = [];
  const f = new BlockFollower({
    send: into(sent),
  });
  await f.advance(100n);
  for (const head of [99n, 50n, 100n, 98n]) {
    assert.equal(await f.advance(head), true);
  }
  await f.advance(101n);
  assert.deepEqual(sent, [100n, 101n]);
  assert.equal(f.stats.staleHeads, 3);
  assert.equal(f.stats.head, 101n);
});

Deno.test("a head far below the checkpoint is warned about once", async () => {
  const { lines, log } = recorder();
  const sent: bigint[] = [];
  const f = new BlockFollower({
    lastSent: 10_000n,
    maxBackfill: 128,
    log,
    send: into(sent),
  });
  await f.advance(9_990n); // a lagging node: no warning
  assert.equal(lines.filter((l) => /WARN/.test(l)).length, 0);
  await f.advance(3n);
  await f.advance(4n);
  const warnings = lines.filter((l) => /WARN .*below block 10000/.test(l));
  assert.equal(warnings.length, 1, lines.join("\n"));
  assert.match(warnings[0], /--state-file/);
  assert.deepEqual(sent, []);
});

Deno.test("a failed send stops the run and is retried first next time", async () => {
  const delivered: bigint[] = [];
  let failOn: bigint | undefined = 13n;
  const f = new BlockFollower({
    lastSent: 10n,
    send: (b) => {
      if (b === failOn) throw new Error("connection refused");
      delivered.push(b);
      return Promise.resolve();
    },
  });
  assert.equal(await f.advance(15n), false);
  assert.deepEqual(delivered, [11n, 12n]);
  assert.equal(f.lastSent, 12n);
  assert.equal(f.stats.sendFailures, 1);
  failOn = undefined;
  assert.equal(await f.advance(15n), true);
  assert.deepEqual(delivered, range(11n, 15n));
});

Deno.test("concurrent sources are serialised: each block once, in order", async () => {
  const sent: bigint[] = [];
  let inFlight = 0;
  const f = new BlockFollower({
    lastSent: 0n,
    send: async (b) => {
      inFlight++;
      assert.equal(inFlight, 1, "two sends at once");
      await new Promise((r) => setTimeout(r, 1));
      sent.push(b);
      inFlight--;
    },
  });
  const results = await Promise.all([
    f.advance(5n),
    f.advance(3n),
    f.advance(10n),
    f.advance(7n),
    f.advance(10n),
  ]);
  assert.deepEqual(results, [true, true, true, true, true]);
  assert.deepEqual(sent, range(1n, 10n));
});

Deno.test("heads announced one by one during a send obey the cap like one jump", async () => {
  const sent: bigint[] = [];
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const f = new BlockFollower({
    lastSent: 0n,
    maxBackfill: 128,
    send: async (b) => {
      if (b === 1n) {
        started.resolve();
        await gate.promise;
      }
      sent.push(b);
    },
  });
  const runs = [f.advance(1n)];
  await started.promise;
  // A subscription announcing a burst while block 1 is still being sent.
  for (let h = 2n; h <= 500n; h++) runs.push(f.advance(h));
  gate.resolve();
  await Promise.all(runs);
  assert.deepEqual(sent, [1n, ...range(373n, 500n)]);
  assert.equal(f.stats.skipped, 371);
});

Deno.test("onSent sees every block in order; its failure does not stop sending", async () => {
  const { lines, log } = recorder();
  const checkpoints: bigint[] = [];
  const sent: bigint[] = [];
  const f = new BlockFollower({
    lastSent: 0n,
    log,
    send: into(sent),
    onSent: (b) => {
      if (b === 2n) throw new Error("disk full");
      checkpoints.push(b);
    },
  });
  assert.equal(await f.advance(4n), true);
  assert.deepEqual(sent, [1n, 2n, 3n, 4n]);
  assert.deepEqual(checkpoints, [1n, 3n, 4n]);
  assert.ok(
    lines.some((l) => /ERROR .*After sending block 2: disk full/.test(l)),
  );
});

Deno.test("once stopped, no further send starts and idle() resolves", async () => {
  const controller = new AbortController();
  const sent: bigint[] = [];
  const f = new BlockFollower({
    lastSent: 0n,
    signal: controller.signal,
    send: (b) => {
      sent.push(b);
      if (b === 3n) controller.abort();
      return Promise.resolve();
    },
  });
  assert.equal(await f.advance(10n), false);
  await f.idle();
  assert.deepEqual(sent, [1n, 2n, 3n], "block 3 in flight is finished");
  assert.equal(f.lastSent, 3n);
});
