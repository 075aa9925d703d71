/**
 * Scenario 7: the stats API over a long history. A fleet stores a block
 * every 12 s for years: `/api/gaps`, `/api/summary` and `/api/series` must
 * each answer in under 100 ms with 1,000,000 stored blocks (`--quick`:
 * 20,000), on SQLite and on MySQL. The store is filled with SQL directly
 * (our rows plus 1% written as an original server would: payload only),
 * with a few ranges missing; then each route is asked one request at a time
 * and p50/p99 are reported; apart, the time to the first complete answer
 * (stats summarises the history once, from indexes).
 *
 * @module
 */
import mysql from "mysql2/promise";
import { DatabaseSync } from "node:sqlite";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { MYSQL_OWN_DDL, SQLITE_DDL } from "../../lib/store/schema.ts";
import { ETHEREUM_DATA_DDL } from "../../lib/store/schema.ts";
import {
  randomSuffix,
  type Settings,
  startStats,
  withProcess,
} from "../_harness.ts";
import { judge, type ScenarioResult } from "../_report.ts";
import { localMysqlArgs } from "../_stores.ts";

const ROUTES = ["/api/gaps", "/api/summary", "/api/series"];
const FIRST_BLOCK = 20_000_000;
const CHUNK = 2000;

interface HistoryRow {
  block: number;
  hash: string;
  payload: string;
  /** Written as an original server would: `ethereum_data` only. */
  original: boolean;
  firstSeen: number;
  server: string;
}

/** Rows of the history: our rows and the originals' (payload only). */
function* history(
  count: number,
  template: BlockTemplate,
): Generator<HistoryRow> {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    // Three holes: 10 blocks, 1 block, 100 blocks.
    if (i % 250_000 === 1000 && i < 750_000) continue;
    const block = FIRST_BLOCK + i;
    if (i >= count / 2 && i < count / 2 + 10) continue;
    if (i === count - 500) continue;
    if (i >= count / 4 && i < count / 4 + 100) continue;
    const payload = template.render(BigInt(block));
    yield {
      block,
      hash: sha256Hex(payload),
      payload,
      original: i % 100 === 7,
      firstSeen: now - (count - i) * 12_000,
      server: `eth-${i % 3}:8888`,
    };
  }
}

export async function fillSqlite(path: string, count: number) {
  const template = await BlockTemplate.load();
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    for (const ddl of SQLITE_DDL) db.exec(ddl);
    const data = db.prepare(
      "INSERT INTO ethereum_data (hash, payload) VALUES (?, ?)",
    );
    const blocks = db.prepare(
      `INSERT INTO eth_blocks (id, hash, block_number, first_seen_ms,
         last_seen_ms, copies, server) VALUES (?, ?, ?, ?, ?, 1, ?)`,
    );
    db.exec("BEGIN");
    for (const r of history(count, template)) {
      const { lastInsertRowid: id } = data.run(r.hash, r.payload);
      if (!r.original) {
        blocks.run(id, r.hash, r.block, r.firstSeen, r.firstSeen, r.server);
      }
    }
    db.exec("INSERT INTO eth_clients VALUES ('10.0.0.1', 1, 0, 0)");
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

export async function fillMysql(database: string, count: number) {
  const template = await BlockTemplate.load();
  const conn = await mysql.createConnection({
    host: "127.0.0.1",
    user: "root",
    password: "",
  });
  try {
    await conn.query(`CREATE DATABASE \`${database}\``);
    await conn.query(`USE \`${database}\``);
    await conn.query(ETHEREUM_DATA_DDL);
    for (const ddl of MYSQL_OWN_DDL) await conn.query(ddl);
    let rows: HistoryRow[] = [];
    const flush = async () => {
      if (rows.length === 0) return;
      await conn.query(
        "INSERT INTO ethereum_data (hash, payload) VALUES ?",
        [rows.map((r) => [r.hash, r.payload])],
      );
      const ours = rows.filter((r) => !r.original);
      await conn.query(
        `INSERT INTO eth_blocks (hash, block_number, first_seen_ms,
           last_seen_ms, copies, server) VALUES ?`,
        [ours.map((
          r,
        ) => [r.hash, r.block, r.firstSeen, r.firstSeen, 1, r.server])],
      );
      rows = [];
    };
    for (const r of history(count, template)) {
      rows.push(r);
      if (rows.length >= CHUNK) await flush();
    }
    await flush();
    await conn.query("INSERT INTO eth_clients VALUES ('10.0.0.1', 1, 0, 0)");
  } finally {
    await conn.end();
  }
}

async function dropMysql(database: string) {
  const conn = await mysql.createConnection({
    host: "127.0.0.1",
    user: "root",
    password: "",
  });
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``).finally(() =>
    conn.end()
  );
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)] * 100) / 100;
}

async function measureRoutes(
  storeArgs: string[],
  settings: Settings,
  requests: number,
) {
  const out: Record<string, { coldMs: number; times: number[]; body: string }> =
    {};
  await withProcess(
    startStats([...storeArgs, "--cache-ttl", "0"], settings),
    async (s) => {
      const get = async (path: string) => {
        const t = performance.now();
        const r = await fetch(`http://127.0.0.1:${s.port}${path}`);
        const body = await r.text();
        if (r.status !== 200) throw new Error(`${path}: ${r.status} ${body}`);
        return { ms: performance.now() - t, body };
      };
      // The first answers wait (up to 2 s each) for the one read of the
      // whole history and say `complete: false` until it is done: time from
      // the first request to the first complete answer.
      const started = performance.now();
      let cold = await get("/api/gaps");
      while (!JSON.parse(cold.body).complete) cold = await get("/api/gaps");
      const coldMs = performance.now() - started;
      out["/api/gaps"] = { coldMs, times: [], body: cold.body };
      for (const path of ROUTES) {
        out[path] ??= { coldMs: NaN, times: [], body: "" };
        for (let i = 0; i < requests; i++) {
          const { ms, body } = await get(path);
          out[path].times.push(ms);
          out[path].body = body;
        }
      }
    },
  );
  return out;
}

/** Scenario 7: gaps, summary and series over a long history. */
export async function scenario7(settings: Settings): Promise<ScenarioResult[]> {
  const count = settings.quick ? 20_000 : 1_000_000;
  const requests = settings.quick ? 50 : 300;
  const results: ScenarioResult[] = [];
  const stores: [string, () => Promise<string[]>, () => Promise<void>][] = [];
  const sqlitePath = `${settings.tmp}/scale-${randomSuffix()}.sqlite`;
  stores.push(["SQLite", async () => {
    await fillSqlite(sqlitePath, count);
    return ["--sqlite-path", sqlitePath];
  }, async () => {
    for (const s of ["", "-wal", "-shm"]) {
      await Deno.remove(sqlitePath + s).catch(() => {});
    }
  }]);
  const database = `eth_bench_scale_${randomSuffix()}`;
  stores.push(["MySQL", async () => {
    await fillMysql(database, count);
    return localMysqlArgs(database);
  }, () => dropMysql(database)]);
  for (const [name, fill, clean] of stores) {
    try {
      const started = performance.now();
      settings.log(`scenario 7: filling ${name} with ${count} blocks`);
      const args = await fill();
      const fillSeconds = Math.round((performance.now() - started) / 100) / 10;
      const measured = await measureRoutes(args, settings, requests);
      for (const path of ROUTES) {
        const m = measured[path];
        const sorted = [...m.times].sort((a, b) => a - b);
        const result: ScenarioResult = {
          id: `7-${name.toLowerCase()}-${path.slice(5)}`,
          scenario: 7,
          name: `stats GET ${path}, ${
            count.toLocaleString("en")
          } blocks, ${name}`,
          unit: "ms",
          rate: null,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          peakRssBytes: null,
          errors: 0,
          note: path === "/api/gaps"
            ? `first complete answer ${
              Math.round(m.coldMs)
            } ms (reads the history once); filled in ${fillSeconds} s`
            : undefined,
          details: {
            requests: m.times.length,
            answer: m.body.slice(0, 300),
          },
        };
        judge(result, { on: "p99Ms", op: "<=", value: 100 });
        results.push(result);
      }
    } catch (error) {
      settings.log(`scenario 7 on ${name} failed: ${(error as Error).stack}`);
      throw error;
    } finally {
      await clean();
    }
  }
  return results;
}
