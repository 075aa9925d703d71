/**
 * The stores a scenario runs our server on (a SQLite file, a MySQL database
 * plus a Redis key prefix), each set up and torn down per run and counted
 * afterwards to check that every acknowledged document was stored.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import mysql from "mysql2/promise";
import { Redis } from "ioredis";
import { openReader } from "../lib/store/mod.ts";
import { randomSuffix, type Settings } from "./_harness.ts";

/** Counts what a store holds, to check exactly-once storage. */
export interface StoreCount {
  /** Distinct documents stored. */
  rows: number;
  /** Copies counted for 127.0.0.1. */
  copies: number | null;
  /** Redis's idea of the distinct documents, when Redis is used. */
  redisHashes?: number;
}

/** A store a scenario 2 run writes into, set up and torn down per run. */
export interface BenchStore {
  name: string;
  args: string[];
  count(): Promise<StoreCount>;
  /**
   * Adds `n` made-up documents (distinct hashes no real document has, a
   * payload of a real document's size) in a few statements, so a run can
   * start with a large store, and returns once the store is at rest. The
   * server must have created the schema.
   */
  prefill(n: number): Promise<void>;
  dispose(): Promise<void>;
}

/** Characters of a prefilled payload: about a rendered block document. */
const PREFILL_PAYLOAD_CHARS = 600;

export function sqliteStore(settings: Settings): BenchStore {
  const path = `${settings.tmp}/bench-${randomSuffix()}.sqlite`;
  return {
    name: "SQLite",
    args: ["--sqlite-path", path],
    async count() {
      const reader = await openReader({ sqlitePath: path });
      if (!reader) throw new Error("no SQLite reader");
      try {
        const rows = await reader.countBlocks();
        const client = (await reader.clients()).find((c) =>
          c.ip === "127.0.0.1"
        );
        return { rows, copies: client?.count ?? 0 };
      } finally {
        await reader.close();
      }
    },
    prefill(n: number) {
      const db = new DatabaseSync(path);
      try {
        db.exec("PRAGMA busy_timeout = 10000");
        db.exec("BEGIN IMMEDIATE");
        // The server's own rows are in eth_blocks already.
        const { top } = db.prepare(
          "SELECT COALESCE(MAX(id), 0) AS top FROM ethereum_data",
        ).get() as { top: number };
        const seq = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL
          SELECT i + 1 FROM seq WHERE i < ${Math.floor(n)})`;
        db.exec(`${seq} INSERT INTO ethereum_data (hash, payload)
          SELECT printf('%064x', i),
            substr(hex(zeroblob(${PREFILL_PAYLOAD_CHARS})), 1, ${PREFILL_PAYLOAD_CHARS})
          FROM seq`);
        db.exec(`INSERT INTO eth_blocks
          (id, hash, block_number, first_seen_ms, last_seen_ms, copies, server)
          SELECT id, hash, id, ${Date.now()}, ${Date.now()}, 1, 'prefill'
          FROM ethereum_data WHERE id > ${top}`);
        db.exec("COMMIT");
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
    async dispose() {
      for (const suffix of ["", "-wal", "-shm"]) {
        await Deno.remove(path + suffix).catch(() => {});
      }
    },
  };
}

/** The server's and stats' flags for the local MariaDB's `database` (root, no password). */
export function localMysqlArgs(database: string): string[] {
  return [
    "--use-mysql",
    "--mysql-host",
    "127.0.0.1",
    "--mysql-user",
    "root",
    "--mysql-pass",
    "",
    "--mysql-db",
    database,
  ];
}

/**
 * Waits, up to a minute, until InnoDB stops writing back the dirty pages a
 * bulk insert left (their count holds still for two seconds). A 1M-row
 * prefill leaves about 6,000, and InnoDB writes back half of them in the
 * next 10 s: during the first measured round, that slowed it. A store that
 * has held its documents for a while is past that.
 */
async function innodbAtRest(admin: mysql.Connection): Promise<void> {
  const dirty = async () => {
    const [rows] = await admin.query(
      "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'",
    ) as unknown as [{ Value: string }[]];
    return Number(rows[0]?.Value ?? 0);
  };
  let last = await dirty();
  let still = 0;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await dirty();
    still = now >= last ? still + 1 : 0;
    if (still >= 2) return;
    last = now;
  }
}

export async function mysqlRedisStore(
  extra: string[] = [],
): Promise<BenchStore> {
  const suffix = randomSuffix();
  const database = `eth_bench_${suffix}`;
  const prefix = `eth_bench_${suffix}:`;
  const admin = await mysql.createConnection({
    host: "127.0.0.1",
    user: "root",
    password: "",
  });
  await admin.query(`CREATE DATABASE \`${database}\``);
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true });
  await redis.connect();
  return {
    name: "MySQL + Redis",
    args: [
      ...localMysqlArgs(database),
      "--use-redis",
      "--redis-host",
      "127.0.0.1",
      "--redis-key-prefix",
      prefix,
      ...extra,
    ],
    async count() {
      const [rows] = await admin.query(
        `SELECT COUNT(*) AS n FROM \`${database}\`.ethereum_data`,
      ) as unknown as [{ n: number }[]];
      const redisHashes = await redis.zcard(`${prefix}eth:hashes`);
      const copies = await redis.hget(`${prefix}eth:ip_addresses`, "127.0.0.1");
      return {
        rows: Number(rows[0].n),
        copies: copies === null ? 0 : Number(copies),
        redisHashes,
      };
    },
    async prefill(n: number) {
      // MariaDB's SEQUENCE engine makes the rows without a round trip each.
      const seq = `seq_1_to_${Math.floor(n)}`;
      const now = Date.now();
      await admin.query(`INSERT INTO \`${database}\`.ethereum_data
        (hash, payload)
        SELECT LPAD(HEX(seq), 64, '0'), REPEAT('0', ${PREFILL_PAYLOAD_CHARS})
        FROM \`${database}\`.${seq}`);
      await admin.query(`INSERT INTO \`${database}\`.eth_blocks
        (hash, block_number, first_seen_ms, last_seen_ms, copies, server)
        SELECT LPAD(HEX(seq), 64, '0'), seq, ${now}, ${now}, 1, 'prefill'
        FROM \`${database}\`.${seq}`);
      const chunk = 10_000;
      for (let from = 1; from <= n; from += chunk) {
        const members: (string | number)[] = [];
        for (let i = from; i < Math.min(from + chunk, n + 1); i++) {
          members.push(now / 1000, i.toString(16).padStart(64, "0"));
        }
        await redis.zadd(`${prefix}eth:hashes`, ...members);
      }
      await innodbAtRest(admin);
    },
    async dispose() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
      } finally {
        await admin.end();
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(
            cursor,
            "MATCH",
            `${prefix}*`,
            "COUNT",
            1000,
          );
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== "0");
        redis.disconnect();
      }
    },
  };
}

/** Whether a server's stderr says its build cannot store yet. */
export function storeMissing(stderr: string): string | undefined {
  const line = stderr.split("\n").find((l) =>
    /not (available )?in this build/i.test(l)
  );
  return line?.replace(/^\S+ \w+ server: /, "").trim();
}
