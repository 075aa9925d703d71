/**
 * Faults that fail every document delay, never drop (SPEC part 3): each is
 * injected for real; during it every acknowledged document stays spooled,
 * `/readyz` is 503 with the cause and `/livez` answers; once it is fixed,
 * every acknowledged document is stored, without a restart.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { startServer } from "../_helpers/process.ts";
import {
  MYSQL_PORT,
  storeArgs,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { freePort, waitFor } from "../_helpers/net.ts";
import { sendAllAcked } from "../_helpers/acked.ts";

async function get(port: number, path: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

Deno.test("a string at eth:hashes (WRONGTYPE): documents wait, /readyz says why, all stored once fixed", async () => {
  await using redis = await TestRedis.create("wrongtype");
  const metricsPort = freePort();
  await redis.client.set(redis.key("eth:hashes"), "not a sorted set");
  await using server = await startServer([
    ...storeArgs({ redis }),
    "--metrics-port",
    String(metricsPort),
  ]);
  const acked = await sendAllAcked(
    server.port,
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    3000,
  );
  const ready = await waitFor(async () => {
    const r = await get(metricsPort, "/readyz");
    return r.status === 503 && /WRONGTYPE/.test(r.body) ? r : undefined;
  }, { what: "/readyz 503 naming WRONGTYPE" });
  assert.match(ready.body, /redis store failing/);
  assert.equal((await get(metricsPort, "/livez")).status, 200);
  assert.match(
    (await get(metricsPort, "/metrics")).body,
    /eth_server_store_up\{store="redis"\} 0/,
  );
  assert.equal(await redis.client.type(redis.key("eth:hashes")), "string");
  await redis.client.del(redis.key("eth:hashes"));
  await waitFor(
    async () =>
      (await redis.client.zcard(redis.key("eth:hashes"))) === acked.length,
    {
      what: "every acknowledged document in Redis",
    },
  );
  const scores = await redis.client.zmscore(
    redis.key("eth:hashes"),
    ...acked,
  );
  assert.ok(scores.every((s) => s !== null));
  await waitFor(async () => (await get(metricsPort, "/readyz")).status === 200);
  assert.equal(await get(metricsPort, "/dead-letter").then((r) => r.body), "");
});

Deno.test("REVOKE INSERT and a narrowed payload column: documents wait, then are stored without a restart", async () => {
  await using db = await TestDatabase.create("revoke");
  const user = `eth_t_${crypto.randomUUID().slice(0, 8)}`;
  const root = await mysql.createConnection({
    host: "127.0.0.1",
    port: MYSQL_PORT,
    user: "root",
    password: "",
  });
  try {
    await root.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
    await root.query(`GRANT ALL ON \`${db.name}\`.* TO '${user}'@'%'`);
    const args = [
      ...storeArgs({ db }).map((a) => a === "root" ? user : a),
    ];
    const pass = args.indexOf("--mysql-pass");
    args[pass + 1] = "pw";
    const metricsPort = freePort();
    await using server = await startServer([
      ...args,
      "--metrics-port",
      String(metricsPort),
    ]);
    const first = await sendAllAcked(server.port, [100], 3000);
    await waitFor(async () =>
      (await db.query("SELECT hash FROM ethereum_data")).length === 1
    );
    await root.query(`REVOKE INSERT ON \`${db.name}\`.* FROM '${user}'@'%'`);
    // A session keeps the database privileges it started with: end the
    // server's sessions, so its reconnects meet the revoked grant.
    const [sessions] = await root.query(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?",
      [user],
    ) as unknown as [{ ID: number }[]];
    for (const { ID } of sessions) {
      await root.query(`KILL CONNECTION ${Number(ID)}`).catch(() => {});
    }
    const during = await sendAllAcked(
      server.port,
      [101, 102, 103, 104, 105],
      3000,
    );
    await waitFor(async () => {
      const r = await get(metricsPort, "/readyz");
      return r.status === 503 && /denied/i.test(r.body);
    }, { what: "/readyz 503 naming the missing privilege" });
    assert.equal((await get(metricsPort, "/livez")).status, 200);
    await root.query(`GRANT INSERT ON \`${db.name}\`.* TO '${user}'@'%'`);
    await waitFor(
      async () =>
        (await db.query("SELECT hash FROM ethereum_data")).length === 6,
      {
        what: "the documents acknowledged during the fault",
      },
    );
    // A column too narrow for every document: the same, nothing dropped.
    await db.query("SET SESSION sql_mode = ''");
    await db.query("ALTER TABLE ethereum_data MODIFY payload VARCHAR(100)");
    const narrowed = await sendAllAcked(server.port, [106, 107, 108], 3000);
    await waitFor(async () => {
      const r = await get(metricsPort, "/readyz");
      return r.status === 503 && /too long/i.test(r.body);
    }, { what: "/readyz 503 naming the narrowed column" });
    await db.query("ALTER TABLE ethereum_data MODIFY payload TEXT");
    const all = [...first, ...during, ...narrowed];
    await waitFor(async () => {
      const rows = await db.query<{ hash: string }>(
        "SELECT hash FROM ethereum_data",
      );
      const stored = new Set(rows.map((r) => r.hash));
      return all.every((h) => stored.has(h));
    }, { what: "every acknowledged document in MySQL" });
    assert.match(
      (await get(metricsPort, "/metrics")).body,
      /eth_server_documents_rejected_total\{store="mysql"\} 0/,
    );
  } finally {
    await root.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await root.end();
  }
});
