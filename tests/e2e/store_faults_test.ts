/**
 * Store faults under load, against a real server process: MySQL and Redis
 * are cut and restored over and over through fault-injecting proxies while
 * many senders keep delivering documents. Every document must end up stored
 * exactly once in both stores, and the MySQL password must never be logged.
 */
import assert from "node:assert/strict";
import { sendDocument } from "../../lib/client/sender.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { STORE_LINGER_MS } from "../../lib/server/storage.ts";
import {
  MYSQL_PORT,
  printedDocuments,
  REDIS_PORT,
  storeArgs,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { FaultProxy } from "../_helpers/fault_proxy.ts";
import { waitFor } from "../_helpers/net.ts";
import { startServer } from "../_helpers/process.ts";

const template = await BlockTemplate.load();
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Documents sent, and senders at once. */
const DOCUMENTS = 1500;
const SENDERS = 24;

async function storedCounts(db: TestDatabase, redis: TestRedis) {
  const [row] = await db.query(
    "SELECT COUNT(*) AS n, COUNT(DISTINCT hash) AS d FROM ethereum_data",
  ).catch(() => [{ n: 0, d: 0 }]);
  return {
    rows: Number(row.n),
    distinct: Number(row.d),
    hashes: await redis.client.zcard(redis.key("eth:hashes")),
  };
}

Deno.test("store faults: MySQL and Redis flap under load, every document stored once", async () => {
  await using db = await TestDatabase.create("store_faults");
  await using redis = await TestRedis.create("store_faults");
  await using mysqlProxy = FaultProxy.start({ port: MYSQL_PORT });
  await using redisProxy = FaultProxy.start({ port: REDIS_PORT });
  await using server = await startServer(storeArgs({
    db,
    redis,
    mysqlPort: mysqlProxy.port,
    redisPort: redisProxy.port,
  }));
  const blocks = Array.from(
    { length: DOCUMENTS },
    (_, i) => 3_000_000n + BigInt(i),
  );

  // Senders deliver as fast as the server takes them...
  let next = 0;
  const sending = Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (next < blocks.length) {
        const block = blocks[next++];
        await sendDocument(
          { host: "127.0.0.1", port: server.port },
          template.render(block),
          { timeoutMs: 5000 },
        );
      }
    }),
  );
  // ...while the stores' links flap: MySQL, Redis, then both at once.
  let cuts = 0;
  const proxies = [[mysqlProxy], [redisProxy], [mysqlProxy, redisProxy]];
  let done = false;
  sending.finally(() => done = true);
  for (let round = 0; !done || round < 12; round++) {
    // The first cut takes both down for longer than a batch gathers, while
    // documents flow: each store's first write meets it. The rest flap
    // faster than a batch gathers.
    const first = round === 0;
    const down = first
      ? [mysqlProxy, redisProxy]
      : proxies[round % proxies.length];
    for (const p of down) p.cut();
    cuts += down.length;
    await delay(first ? STORE_LINGER_MS + 300 : 150);
    for (const p of down) p.restore();
    await delay(100);
  }
  await sending;

  // Delayed, not dropped: everything lands once the links are back.
  await waitFor(async () => {
    const c = await storedCounts(db, redis);
    return c.rows === DOCUMENTS && c.hashes === DOCUMENTS;
  }, { what: "every document stored", timeoutMs: 60_000 });
  assert.equal((await server.child.stop("SIGTERM")).code, 0);

  const printed = printedDocuments(server.child.stdout);
  assert.equal(printed.length, DOCUMENTS);
  const want = new Map(blocks.map((b) => {
    const payload = template.render(b);
    return [sha256Hex(payload), payload];
  }));
  const rows = await db.query<{ hash: string; payload: string }>(
    "SELECT hash, payload FROM ethereum_data",
  );
  assert.equal(rows.length, DOCUMENTS);
  for (const row of rows) assert.equal(want.get(row.hash), row.payload);
  const members = await redis.client.zrange(redis.key("eth:hashes"), 0, -1);
  assert.deepEqual(members.sort(), [...want.keys()].sort());
  // Each receipt counted once although batches were retried across cuts.
  assert.equal(
    await redis.client.hget(redis.key("eth:ip_addresses"), "127.0.0.1"),
    String(DOCUMENTS),
  );
  const [client] = await db.query("SELECT documents FROM eth_clients");
  assert.equal(Number(client.documents), DOCUMENTS);
  const [copies] = await db.query(
    "SELECT MIN(copies) AS lo, MAX(copies) AS hi FROM eth_blocks",
  );
  assert.deepEqual([Number(copies.lo), Number(copies.hi)], [1, 1]);
  const stderr = server.child.stderr.join("\n");
  assert.doesNotMatch(stderr, /could not be stored|dropped the/);
  // The cuts were felt: both stores went unavailable and came back.
  assert.match(stderr, /MySQL .*: unavailable \(/);
  assert.match(stderr, /Redis .*: unavailable \(/);
  console.log(
    `store faults: ${DOCUMENTS} documents from ${SENDERS} senders, ${cuts} ` +
      `cuts (MySQL proxy dropped ${mysqlProxy.stats.dropped} and refused ` +
      `${mysqlProxy.stats.refused} connections, Redis ${redisProxy.stats.dropped}` +
      ` and ${redisProxy.stats.refused}), 0 lost, 0 doubled`,
  );
});

Deno.test("the MySQL password never reaches the logs", async (t) => {
  await using db = await TestDatabase.create("redact");
  await using mysqlProxy = FaultProxy.start({ port: MYSQL_PORT });
  const user = db.name.replace("eth_t_", "u_").slice(0, 32);
  const secret = `pw-${crypto.randomUUID()}`;
  for (const host of ["%", "localhost"]) {
    await db.query(`CREATE USER ?@? IDENTIFIED BY ?`, [user, host, secret]);
    await db.query(`GRANT ALL ON \`${db.name}\`.* TO ?@?`, [user, host]);
  }
  try {
    const args = (password: string) => [
      "-v",
      "--use-mysql",
      "--mysql-host",
      "127.0.0.1",
      "--mysql-port",
      String(mysqlProxy.port),
      "--mysql-user",
      user,
      "--mysql-db",
      db.name,
      ...(password ? ["--mysql-pass", password] : []),
    ];
    const noSecret = (lines: string[], what: string) => {
      const text = lines.join("\n");
      assert.ok(!text.includes(secret), `the password is in ${what}`);
      assert.ok(!text.includes(secret.slice(3, 15)), `part of it in ${what}`);
    };

    await t.step("right password, through a cut link", async () => {
      await using server = await startServer(args(secret));
      await sendDocument(
        { host: "127.0.0.1", port: server.port },
        template.render(1n),
      );
      await waitFor(async () =>
        (await db.query("SELECT id FROM ethereum_data")).length === 1
      );
      mysqlProxy.cut();
      await sendDocument(
        { host: "127.0.0.1", port: server.port },
        template.render(2n),
      );
      await server.child.waitForLine(/MySQL .*: unavailable/, {
        stream: "stderr",
      });
      mysqlProxy.restore();
      await waitFor(async () =>
        (await db.query("SELECT id FROM ethereum_data")).length === 2
      );
      await server.child.stop("SIGTERM");
      noSecret(server.child.stderr, "the -v log");
      noSecret(server.child.stdout, "stdout");
    });

    await t.step("wrong password from the environment", async () => {
      const wrong = `${secret}-wrong`;
      await using server = await startServer(args(""), {
        ETH_SERVER_MYSQL_PASS: wrong,
      });
      await server.child.waitForLine(/MySQL .*(denied|unavailable)/i, {
        stream: "stderr",
      });
      await server.child.stop("SIGTERM");
      noSecret(server.child.stderr, "the -v log");
    });
  } finally {
    for (const host of ["%", "localhost"]) {
      await db.query("DROP USER IF EXISTS ?@?", [user, host]);
    }
  }
});
