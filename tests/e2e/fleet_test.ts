/**
 * A fleet sharing one MySQL and one Redis: several real server processes
 * (some writing both stores, one only MySQL, as a mixed fleet of originals
 * would) receive the same documents from several clients. Every document
 * must be stored exactly once, and every receipt counted once.
 */
import assert from "node:assert/strict";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import {
  makeDocument,
  type PrintedDocument,
  printedDocuments,
  storeArgs,
  TestDatabase,
  TestRedis,
} from "../_helpers/db.ts";
import { Anvil } from "../_helpers/anvil.ts";
import { sendRaw, waitFor } from "../_helpers/net.ts";
import {
  type Child,
  runProgram,
  type ServerProcess,
  startServer,
} from "../_helpers/process.ts";

/** Lines a client logs (with -v) per document it sent. */
const SENT = /Block \d+ sent to /;

async function closeAll(servers: ServerProcess[], clients: Child[]) {
  await Promise.all(clients.map((c) => c.stop("SIGKILL")));
  await Promise.all(servers.map((s) => s.child.stop("SIGKILL")));
}

Deno.test("fleet: 3 servers and 4 clients store every document exactly once", async () => {
  await using anvil = await Anvil.start({ blockTime: 1 });
  await using db = await TestDatabase.create("fleet");
  await using redis = await TestRedis.create("fleet");
  const servers: ServerProcess[] = [];
  const clients: Child[] = [];
  try {
    const both = storeArgs({ db, redis });
    const mysqlOnly = storeArgs({ db });
    servers.push(
      ...await Promise.all([
        startServer([...both, "--server-id", "fleet-a"]),
        startServer([...both, "--server-id", "fleet-b"]),
        startServer([...mysqlOnly, "--server-id", "fleet-c"]),
      ]),
    );
    for (let i = 0; i < 4; i++) {
      // Each client starts its rotation at another server, so copies of one
      // block reach different servers at about the same time.
      const order = servers.map((_, k) => servers[(k + i) % servers.length]);
      clients.push(
        runProgram("client.ts", [
          ...order.flatMap((s) => ["--host", `127.0.0.1:${s.port}`]),
          "--rpc-url",
          anvil.url,
          "--interval",
          "0.5",
          "-v",
        ]),
      );
    }
    // At least 5 blocks from every client.
    await waitFor(
      () =>
        clients.every((c) => c.stderr.filter((l) => SENT.test(l)).length >= 5),
      { timeoutMs: 60_000, what: "5 blocks sent by every client" },
    );
    for (const c of clients) await c.stop("SIGTERM");
    const sent = clients.map((c) =>
      c.stderr.filter((l) => SENT.test(l)).length
    );
    // Every document a client sent was printed by one server.
    await waitFor(
      () =>
        servers.reduce(
          (n, s) => n + printedDocuments(s.child.stdout).length,
          0,
        ) >= sent.reduce((a, b) => a + b, 0),
      { what: "every sent document printed" },
    );
    for (const s of servers) {
      assert.equal(
        (await s.child.stop("SIGTERM")).code,
        0,
        s.child.stderr.join("\n"),
      );
    }

    const printed = servers.map((s) => printedDocuments(s.child.stdout));
    const all = printed.flat();
    const viaRedis = [...printed[0], ...printed[1]];
    assert.equal(all.length, sent.reduce((a, b) => a + b, 0));
    const distinct = new Set(all.map((d) => d.hash));
    assert.ok(distinct.size >= 5, `${distinct.size} distinct documents`);

    // MySQL: one row per distinct document, whichever server received it.
    const rows = await db.query<{ hash: string; payload: string }>(
      "SELECT hash, payload FROM ethereum_data",
    );
    assert.equal(rows.length, distinct.size);
    assert.deepEqual(new Set(rows.map((r) => r.hash)), distinct);
    for (const r of rows) {
      assert.equal(r.payload, all.find((d) => d.hash === r.hash)!.payload);
    }
    // Redis: one member per distinct document the Redis servers received.
    const members = await redis.client.zrange(redis.key("eth:hashes"), 0, -1);
    assert.equal(members.length, new Set(viaRedis.map((d) => d.hash)).size);
    assert.deepEqual(new Set(members), new Set(viaRedis.map((d) => d.hash)));
    // One count per document received from the IP, by the servers that count.
    assert.deepEqual(
      await redis.client.hgetall(redis.key("eth:ip_addresses")),
      countByIp(viaRedis),
    );
    const ourClients = await db.query<{ ip: string; documents: string }>(
      "SELECT ip, documents FROM eth_clients",
    );
    assert.deepEqual(
      Object.fromEntries(ourClients.map((c) => [c.ip, String(c.documents)])),
      countByIp(all),
    );
    const firsts = await db.query<
      { server: string; n: string; copies: string }
    >(
      `SELECT server, COUNT(*) AS n, SUM(copies) AS copies FROM eth_blocks
       GROUP BY server ORDER BY server`,
    );
    assert.equal(firsts.reduce((n, r) => n + Number(r.n), 0), distinct.size);
    assert.equal(firsts.reduce((n, r) => n + Number(r.copies), 0), all.length);
    for (const r of firsts) assert.match(r.server, /^fleet-[abc]$/);
    console.log(
      `fleet: clients sent ${sent.join("+")} = ${all.length} documents, ` +
        `${distinct.size} distinct; stored once each (${
          all.length - distinct.size
        } duplicates refused); first copies by server: ${
          firsts.map((r) => `${r.server}=${r.n}`).join(", ")
        }`,
    );
  } finally {
    await closeAll(servers, clients);
  }
});

function countByIp(docs: PrintedDocument[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of docs) out[d.ip] = String(Number(out[d.ip] ?? 0) + 1);
  return out;
}

Deno.test("fleet stress: 2 servers receive the same 1,000 documents at once; one row each", async () => {
  await using db = await TestDatabase.create("stress");
  await using redis = await TestRedis.create("stress");
  const servers: ServerProcess[] = [];
  try {
    const args = storeArgs({ db, redis });
    servers.push(
      ...await Promise.all([
        startServer([...args, "--server-id", "stress-a"]),
        startServer([...args, "--server-id", "stress-b"]),
      ]),
    );
    const docs = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => makeDocument(7_000_000 + i)),
    );
    const frames = docs.map((d) => encodeNetstring(d.payload));
    // 32 workers, each sending its next document to both servers at once,
    // one connection per document (as the original client does).
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < frames.length) {
        const frame = frames[next++];
        await Promise.all(servers.map((s) => sendRaw(s.port, frame)));
      }
    }));
    const sentMs = performance.now() - started;
    await waitFor(
      () =>
        servers.every((s) => printedDocuments(s.child.stdout).length === 1000),
      { what: "1,000 documents printed by each server" },
    );
    for (const s of servers) {
      assert.equal((await s.child.stop("SIGTERM")).code, 0);
    }
    const [count] = await db.query(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT hash) AS d FROM ethereum_data",
    );
    assert.deepEqual([Number(count.n), Number(count.d)], [1000, 1000]);
    assert.equal(await redis.client.zcard(redis.key("eth:hashes")), 1000);
    assert.equal(
      await redis.client.hget(redis.key("eth:ip_addresses"), "127.0.0.1"),
      "2000",
    );
    const [clients] = await db.query("SELECT documents FROM eth_clients");
    assert.equal(Number(clients.documents), 2000);
    const byServer = await db.query<{ server: string; n: string }>(
      `SELECT server, COUNT(*) AS n FROM eth_blocks GROUP BY server
       ORDER BY server`,
    );
    assert.equal(byServer.reduce((n, r) => n + Number(r.n), 0), 1000);
    const [copies] = await db.query("SELECT SUM(copies) AS c FROM eth_blocks");
    assert.equal(Number(copies.c), 2000);
    const redisServers = Object.values(
      await redis.client.hgetall(redis.key("eth:servers")),
    );
    assert.equal(redisServers.length, 1000);
    console.log(
      `stress: 2 × 1000 documents sent in ${sentMs.toFixed(0)} ms; ` +
        `1000 rows, 1000 eth:hashes members; MySQL first copies ${
          byServer.map((r) => `${r.server}=${r.n}`).join(", ")
        }; Redis first copies stress-a=${
          redisServers.filter((s) => s === "stress-a").length
        }`,
    );
  } finally {
    await closeAll(servers, []);
  }
});
