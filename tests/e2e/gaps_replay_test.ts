// Fleet completeness end to end: real server, client and stats processes.
// Blocks are withheld on purpose (an original server wrote a few early ones
// with holes between them; a client restarted after a jump longer than
// --max-backfill skipped a range); /api/gaps must list exactly those
// ranges, and a replay (--from-block/--to-block, then --fill-gaps) must
// close them until eth_stats_missing_blocks is 0. On SQLite, and on MySQL +
// Redis with the originals' rows in their own table only.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteWriter } from "../../lib/store/sqlite.ts";
import {
  makeDocument,
  storeArgs,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { RpcStub } from "../_helpers/rpc_stub.ts";
import { parseMetrics, PYTHON_DDL } from "../_helpers/stats.ts";

interface Gaps {
  to: number | null;
  missing: number;
  ranges: { from: number; to: number }[];
}

async function fleet(
  storeFlags: string[],
  writeOriginals: (blocks: number[]) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "eth_gaps_e2e_" });
  const stateFile = `${dir}/client.json`;
  await using rpc = new RpcStub({ chain: { head: 100n, step: 0n } });
  await writeOriginals([96, 98]);
  await using server = await startServer(storeFlags);
  const statsPort = freePort();
  const stats = runProgram("stats.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(statsPort),
    "--cache-ttl",
    "0",
    ...storeFlags,
  ]);
  const statsUrl = `http://127.0.0.1:${statsPort}/`;
  const client = (extra: string[]) =>
    runProgram("client.ts", [
      "--host",
      `127.0.0.1:${server.port}`,
      "--rpc-url",
      rpc.url,
      "--interval",
      "0.2",
      ...extra,
    ]);
  const gaps = async (): Promise<Gaps> =>
    await (await fetch(`${statsUrl}api/gaps`)).json();
  // The highest stored block as /api/gaps sees it.
  const stored = async (block: number) => ((await gaps()).to ?? 0) >= block;
  try {
    await stats.waitForLine(/^Stats API listening/);
    // Follows 100, then 101-104 as the head moves.
    let following = client(["--state-file", stateFile]);
    await waitFor(() => stored(100), { what: "block 100 stored" });
    rpc.chain.head = 104n;
    await waitFor(() => stored(104), { what: "blocks 100-104 stored" });
    await following.stop("SIGTERM");
    // Restarted after the head jumped 26 blocks: only the newest 5 are sent.
    rpc.chain.head = 130n;
    following = client(["--state-file", stateFile, "--max-backfill", "5"]);
    await following.waitForLine(/105/, { stream: "stderr" });
    await waitFor(() => stored(130), { what: "blocks 126-130 stored" });
    await following.stop("SIGTERM");

    assert.deepEqual(await gaps(), {
      from: 96,
      to: 130,
      head: null,
      missing: 23,
      count: 3,
      truncated: false,
      complete: true,
      ranges: [
        { from: 97, to: 97, blocks: 1 },
        { from: 99, to: 99, blocks: 1 },
        { from: 105, to: 125, blocks: 21 },
      ],
    });

    const replay = client(["--from-block", "105", "--to-block", "110"]);
    const done = await waitForExit(replay);
    assert.equal(done, 0, replay.stderr.join("\n"));
    // Stats reads what is new at most twice a second.
    const ranges = async () =>
      JSON.stringify((await gaps()).ranges.map((r) => [r.from, r.to]));
    await waitFor(
      async () => await ranges() === "[[97,97],[99,99],[111,125]]",
      {
        what: "gaps 97, 99 and 111-125 after the replay of 105-110",
      },
    );

    const fill = client(["--fill-gaps", statsUrl]);
    assert.equal(await waitForExit(fill), 0, fill.stderr.join("\n"));
    await waitFor(async () => (await gaps()).missing === 0, {
      what: "no gaps after --fill-gaps",
    });
    assert.deepEqual(await gaps(), {
      from: 96,
      to: 130,
      head: null,
      missing: 0,
      count: 0,
      truncated: false,
      complete: true,
      ranges: [],
    });
    const metrics = parseMetrics(
      await (await fetch(`${statsUrl}metrics`)).text(),
    );
    assert.equal(
      metrics.samples.find((s) => s.name === "eth_stats_missing_blocks")?.value,
      0,
    );
  } finally {
    await stats.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
}

async function waitForExit(child: ReturnType<typeof runProgram>) {
  await waitFor(() => child.status !== undefined, {
    what: "the replay to finish",
    timeoutMs: 30_000,
  });
  return child.status!.code;
}

Deno.test("gaps e2e: withheld blocks are listed exactly and replays close them (SQLite)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_gaps_sqlite_" });
  const path = `${dir}/eth.sqlite`;
  try {
    await fleet(["--sqlite-path", path], async (blocks) => {
      (await SqliteWriter.open(path)).close();
      const db = new DatabaseSync(path);
      try {
        for (const b of blocks) {
          const d = await makeDocument(b);
          db.prepare("INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)")
            .run(d.hash, d.payload);
        }
      } finally {
        db.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gaps e2e: withheld blocks are listed exactly and replays close them (MySQL + Redis)", async () => {
  await using db = await TestDatabase.create("gaps_e2e");
  await using redis = await TestRedis.create("gaps_e2e");
  await fleet(storeArgs({ db, redis }), async (blocks) => {
    await db.query(PYTHON_DDL);
    for (const b of blocks) {
      const d = await makeDocument(b);
      await db.query(
        "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
        [d.hash, d.payload],
      );
      await redis.client.zadd(redis.key("eth:hashes"), "NX", 1.7e9, d.hash);
      await redis.client.hincrby(redis.key("eth:ip_addresses"), "10.0.0.9", 1);
    }
  });
});
