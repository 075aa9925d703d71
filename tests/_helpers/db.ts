/**
 * Test fixtures for the stores: a MySQL database and a Redis key prefix of
 * the test's own (other suites share the servers), and documents as a
 * server receives them.
 */
import mysql from "mysql2/promise";
import { Redis } from "ioredis";
import type { MysqlConfig, RedisConfig } from "../../lib/store/mod.ts";
import { sha256Hex } from "../../lib/server/ingest.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import type { ReceivedDocument } from "../../lib/store/types.ts";

/** Where the test MariaDB and Redis listen. */
export const MYSQL_PORT = 3306;
export const REDIS_PORT = 6379;

function suffix(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}

/** A database of the test's own, dropped on dispose. */
export class TestDatabase implements AsyncDisposable {
  readonly name: string;
  readonly #conn: mysql.Connection;

  private constructor(name: string, conn: mysql.Connection) {
    this.name = name;
    this.#conn = conn;
  }

  /** Creates `eth_t_<purpose>_<random>` on the local MariaDB. */
  static async create(purpose: string): Promise<TestDatabase> {
    const name = `eth_t_${purpose}_${suffix()}`;
    const conn = await mysql.createConnection({
      host: "127.0.0.1",
      port: MYSQL_PORT,
      user: "root",
      password: "",
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    await conn.query(`CREATE DATABASE \`${name}\``);
    await conn.query(`USE \`${name}\``);
    return new TestDatabase(name, conn);
  }

  /** Store settings pointing at this database (port overridable for proxies). */
  config(port = MYSQL_PORT): MysqlConfig {
    return {
      host: "127.0.0.1",
      port,
      user: "root",
      password: "",
      database: this.name,
    };
  }

  /** Runs a query in this database and returns its rows. */
  async query<T = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const [rows] = await this.#conn.query(sql, params);
    return rows as T[];
  }

  async [Symbol.asyncDispose]() {
    try {
      await this.#conn.query(`DROP DATABASE IF EXISTS \`${this.name}\``);
    } finally {
      await this.#conn.end();
    }
  }
}

/** A Redis key prefix of the test's own; its keys are deleted on dispose. */
export class TestRedis implements AsyncDisposable {
  readonly prefix: string;
  readonly client: Redis;

  private constructor(prefix: string, client: Redis) {
    this.prefix = prefix;
    this.client = client;
  }

  /** Connects to the local Redis with prefix `t:<purpose>:<random>:`. */
  static async create(purpose: string): Promise<TestRedis> {
    const client = new Redis({
      host: "127.0.0.1",
      port: REDIS_PORT,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await client.connect();
    return new TestRedis(`t:${purpose}:${suffix()}:`, client);
  }

  /** Store settings with this prefix (port overridable for proxies). */
  config(port = REDIS_PORT): RedisConfig {
    return { host: "127.0.0.1", port, db: 0, keyPrefix: this.prefix };
  }

  /** The prefixed name of `key`, e.g. `eth:hashes`. */
  key(key: string): string {
    return this.prefix + key;
  }

  /** Every key under the prefix, sorted. */
  async keys(): Promise<string[]> {
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.client.scan(
        cursor,
        "MATCH",
        `${this.prefix}*`,
        "COUNT",
        1000,
      );
      cursor = next;
      found.push(...batch);
    } while (cursor !== "0");
    return found.sort();
  }

  async [Symbol.asyncDispose]() {
    try {
      const keys = await this.keys();
      if (keys.length > 0) await this.client.del(...keys);
    } finally {
      this.client.disconnect();
    }
  }
}

let template: BlockTemplate | undefined;

/** A block document as a server receives it, rendered by the real template. */
export async function makeDocument(
  block: bigint | number,
  {
    ip = "127.0.0.1",
    port = 40000,
    server = "test:1",
    receivedAt = Date.now(),
  }: Partial<Pick<ReceivedDocument, "ip" | "port" | "server" | "receivedAt">> =
    {},
): Promise<ReceivedDocument> {
  template ??= await BlockTemplate.load();
  const payload = template.render(BigInt(block));
  return {
    payload,
    hash: sha256Hex(payload),
    block: BigInt(block),
    ip,
    port,
    receivedAt,
    server,
  };
}

/** Server flags that store into `db` and/or `redis` (ports overridable). */
export function storeArgs(
  { db, redis, mysqlPort, redisPort }: {
    db?: TestDatabase;
    redis?: TestRedis;
    mysqlPort?: number;
    redisPort?: number;
  },
): string[] {
  const args: string[] = [];
  if (db) {
    const c = db.config(mysqlPort);
    args.push(
      "--use-mysql",
      "--mysql-host",
      c.host,
      "--mysql-port",
      String(c.port),
      "--mysql-user",
      c.user,
      "--mysql-pass",
      c.password,
      "--mysql-db",
      c.database,
    );
  }
  if (redis) {
    const c = redis.config(redisPort);
    args.push(
      "--use-redis",
      "--redis-host",
      c.host,
      "--redis-port",
      String(c.port),
      "--redis-db",
      String(c.db),
      "--redis-key-prefix",
      redis.prefix,
    );
  }
  return args;
}

/** A document as a server's DATA line shows it (SPEC 1.3). */
export interface PrintedDocument {
  ip: string;
  port: number;
  payload: string;
  hash: string;
}

/** Parses a server's DATA lines back into documents. */
export function printedDocuments(stdout: readonly string[]): PrintedDocument[] {
  const out: PrintedDocument[] = [];
  for (const line of stdout) {
    const m = /^DATA - (?:\[([^\]]+)\]|([^:]+)):(\d+) - (.*)$/.exec(line);
    if (!m) continue;
    const payload = m[4].replaceAll("\\n", "\n");
    out.push({
      ip: m[1] ?? m[2],
      port: Number(m[3]),
      payload,
      hash: sha256Hex(payload),
    });
  }
  return out;
}

/** An earlier version's SQLite file: `eth_blocks` keyed by hash. */
export const HASH_KEYED_BLOCKS_DDL = [
  `CREATE TABLE ethereum_data (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash VARCHAR(64),
  payload TEXT,
  UNIQUE (hash)
)`,
  `CREATE TABLE eth_blocks (
  hash VARCHAR(64) NOT NULL PRIMARY KEY,
  block_number BIGINT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  copies BIGINT NOT NULL,
  server VARCHAR(255) NULL
)`,
  "CREATE INDEX idx_eth_blocks_first_seen ON eth_blocks (first_seen_ms, hash)",
  "CREATE INDEX idx_eth_blocks_number ON eth_blocks (block_number)",
  "CREATE INDEX idx_eth_blocks_server ON eth_blocks (server, first_seen_ms)",
  `CREATE TABLE eth_clients (
  ip VARCHAR(45) NOT NULL PRIMARY KEY,
  documents BIGINT NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL
)`,
];
