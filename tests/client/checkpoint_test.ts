import assert from "node:assert/strict";
import {
  CheckpointError,
  probeCheckpoint,
  readCheckpoint,
  writeCheckpoint,
} from "../../lib/client/checkpoint.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "eth_checkpoint_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string) {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function expectError(promise: Promise<unknown>, pattern: RegExp) {
  const error = await promise.then(
    () => assert.fail("expected a CheckpointError"),
    (e) => e,
  );
  assert.ok(error instanceof CheckpointError, String(error));
  assert.match(error.message, pattern);
  return error;
}

Deno.test("a missing file means no checkpoint yet", async () => {
  await withDir(async (dir) => {
    assert.equal(await readCheckpoint(`${dir}/state.json`), undefined);
  });
});

Deno.test("write then read round-trips, replacing the previous value", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/state.json`;
    await writeCheckpoint(path, 21_000_000n, { now: () => 0 });
    assert.equal(await readCheckpoint(path), 21_000_000n);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {
      lastSent: "21000000",
      savedAt: "1970-01-01T00:00:00.000Z",
    });
    const huge = 2n ** 70n;
    await writeCheckpoint(path, huge);
    assert.equal(await readCheckpoint(path), huge);
    await writeCheckpoint(path, 0n);
    assert.equal(await readCheckpoint(path), 0n);
    assert.deepEqual(await listDir(dir), ["state.json"], "no temp file left");
  });
});

Deno.test("a leftover temp file from a crash does not affect the checkpoint", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/state.json`;
    await writeCheckpoint(path, 41n);
    // A crash mid-write leaves a torn temp file; the rename never happened.
    await Deno.writeTextFile(`${path}.1.tmp`, '{"lastSent":"4');
    assert.equal(await readCheckpoint(path), 41n);
    await writeCheckpoint(path, 42n);
    assert.equal(await readCheckpoint(path), 42n);
  });
});

Deno.test("a corrupt file is a clear error, never a silent reset", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/state.json`;
    const bodies = [
      "",
      "garbage",
      '{"lastSent":',
      "[]",
      "null",
      "42",
      '{"block":"42"}',
      '{"lastSent":42}',
      '{"lastSent":"-1"}',
      '{"lastSent":"0x2a"}',
      '{"lastSent":"042"}',
      '{"lastSent":"4.2"}',
      '{"lastSent":""}',
    ];
    for (const body of bodies) {
      await Deno.writeTextFile(path, body);
      const error = await expectError(
        readCheckpoint(path),
        /^Checkpoint .*state\.json is corrupt \(.+\); expected \{"lastSent":"<block>"\}: fix the file or remove it/,
      );
      assert.equal(error.path, path, body);
    }
  });
});

Deno.test("an unreadable path is a clear error", async () => {
  await withDir(async (dir) => {
    await expectError(readCheckpoint(dir), /^Cannot read checkpoint /);
  });
});

Deno.test("writing into a missing directory fails clearly and leaves nothing", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/missing/state.json`;
    await expectError(
      writeCheckpoint(path, 1n),
      /^Cannot write checkpoint .*missing\/state\.json: /,
    );
    await expectError(probeCheckpoint(path), /^Cannot write checkpoint /);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("probing a writable place leaves no file behind", async () => {
  await withDir(async (dir) => {
    await probeCheckpoint(`${dir}/state.json`);
    assert.deepEqual(await listDir(dir), []);
    await writeCheckpoint(`${dir}/state.json`, 7n);
    await probeCheckpoint(`${dir}/state.json`);
    assert.equal(await readCheckpoint(`${dir}/state.json`), 7n);
  });
});
