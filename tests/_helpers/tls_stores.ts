/**
 * A MariaDB and a Redis of the test's own, as a careful AWS account runs
 * them: TLS only (plaintext refused) and passwords required. Each is a real
 * server started on a free port of 127.0.0.1 with certificates from
 * {@linkcode makeCerts}, and stopped (only the process started here) with
 * its temporary directory removed on dispose. A missing binary fails the
 * test with a message naming it; nothing is skipped.
 */
import mysql from "mysql2/promise";
import { Redis } from "ioredis";
import type { TestCerts } from "./certs.ts";
import { freePort, waitFor, waitForPort } from "./net.ts";

/** Passwords of the test stores; random, so a leak test can grep for them. */
function password(tag: string): string {
  return `${tag}-${crypto.randomUUID().replaceAll("-", "")}`;
}

async function which(program: string, hint: string): Promise<string> {
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin"]) {
    try {
      await Deno.stat(`${dir}/${program}`);
      return `${dir}/${program}`;
    } catch { /* next */ }
  }
  throw new Error(`${program} not found: install ${hint} to run this test`);
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) +
      new TextDecoder().decode(out.stdout);
    throw new Error(`${cmd} failed (${out.code}):\n${text.slice(-2000)}`);
  }
}

/** A process of ours, stopped with SIGTERM (then SIGKILL) on dispose. */
class Daemon {
  readonly #proc: Deno.ChildProcess;
  readonly #status: Promise<Deno.CommandStatus>;
  exited = false;

  constructor(cmd: string, args: string[]) {
    this.#proc = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#status = this.#proc.status.then((s) => {
      this.exited = true;
      return s;
    });
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      try {
        this.#proc.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          this.#proc.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
      await this.#status;
      clearTimeout(timer);
    }
  }
}

/** A TLS-only MariaDB with a password user `eth`. */
export interface TlsMariadb extends AsyncDisposable {
  port: number;
  user: string;
  password: string;
  /** Opens an admin connection (TLS, verified with the test CA). */
  connect(database?: string): Promise<mysql.Connection>;
  /** Creates a database and returns its name. */
  createDatabase(purpose: string): Promise<string>;
}

/**
 * Starts a MariaDB on a free port with `--ssl-cert/--ssl-key/--ssl-ca` and
 * `--require-secure-transport=ON`, and a user `eth` identified by a random
 * password, allowed everything. Takes a few seconds: share one per file.
 */
export async function startTlsMariadb(certs: TestCerts): Promise<TlsMariadb> {
  const installDb = await which("mariadb-install-db", "mariadb-server");
  const mariadbd = await which("mariadbd", "mariadb-server");
  const dir = await Deno.makeTempDir({ prefix: "eth_tls_mariadb_" });
  const pass = password("mariadb");
  const port = freePort();
  let daemon: Daemon | undefined;
  const cleanup = async () => {
    await daemon?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const small = [
      "--innodb-buffer-pool-size=16M",
      "--innodb-log-file-size=4M",
      "--skip-log-bin",
    ];
    const asUser = Deno.uid() === 0 ? ["--user=root"] : [];
    await run(installDb, [
      "--no-defaults",
      `--datadir=${dir}/data`,
      "--auth-root-authentication-method=socket",
      "--skip-test-db",
      ...asUser,
      ...small,
    ]);
    await Deno.writeTextFile(
      `${dir}/init.sql`,
      [
        `CREATE USER IF NOT EXISTS 'eth'@'%' IDENTIFIED BY '${pass}';`,
        "GRANT ALL ON *.* TO 'eth'@'%';",
        "",
      ].join("\n"),
    );
    daemon = new Daemon(mariadbd, [
      "--no-defaults",
      `--datadir=${dir}/data`,
      `--socket=${dir}/s.sock`,
      `--pid-file=${dir}/mariadb.pid`,
      `--log-error=${dir}/error.log`,
      "--bind-address=127.0.0.1",
      `--port=${port}`,
      `--ssl-cert=${certs.certFile}`,
      `--ssl-key=${certs.keyFile}`,
      `--ssl-ca=${certs.caFile}`,
      "--require-secure-transport=ON",
      `--init-file=${dir}/init.sql`,
      ...asUser,
      ...small,
    ]);
    await waitForPort(port, { timeoutMs: 30_000 }).catch(async (error) => {
      const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
      throw new Error(`MariaDB did not start:\n${log.slice(-2000)}`, {
        cause: error,
      });
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  const connect = (database?: string) =>
    mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "eth",
      password: pass,
      database,
      ssl: { ca: certs.caPem, rejectUnauthorized: true },
    });
  // The port opens before the init file ran: wait until `eth` can log in.
  await waitFor(async () => {
    const conn = await connect();
    await conn.end();
    return true;
  }, { timeoutMs: 30_000, what: "MariaDB user eth" }).catch(async (error) => {
    await cleanup();
    throw error;
  });
  return {
    port,
    user: "eth",
    password: pass,
    connect,
    async createDatabase(purpose) {
      const name = `eth_t_${purpose}_${
        crypto.randomUUID().replaceAll("-", "").slice(0, 8)
      }`;
      const conn = await connect();
      try {
        await conn.query(`CREATE DATABASE \`${name}\``);
      } finally {
        await conn.end();
      }
      return name;
    },
    [Symbol.asyncDispose]: cleanup,
  };
}

/** A TLS-only Redis with AUTH for `default` and an ACL user. */
export interface TlsRedis extends AsyncDisposable {
  port: number;
  /** Password of the `default` user (`requirepass`). */
  password: string;
  /** ACL user allowed everything, and its password. */
  user: string;
  userPassword: string;
  /** A client of the default user over verified TLS. */
  client(): Redis;
}

/**
 * Starts `redis-server --port 0 --tls-port P` (no plaintext port) with the
 * test certificates, `--requirepass` and an ACL user `eth`.
 */
export async function startTlsRedis(certs: TestCerts): Promise<TlsRedis> {
  const redisServer = await which("redis-server", "redis-server");
  const dir = await Deno.makeTempDir({ prefix: "eth_tls_redis_" });
  const pass = password("redis");
  const userPass = password("redis-acl");
  const port = freePort();
  const daemon = new Daemon(redisServer, [
    "--port",
    "0",
    "--tls-port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--tls-cert-file",
    certs.certFile,
    "--tls-key-file",
    certs.keyFile,
    "--tls-ca-cert-file",
    certs.caFile,
    "--tls-auth-clients",
    "no",
    "--requirepass",
    pass,
    "--user",
    "eth",
    "on",
    `>${userPass}`,
    "~*",
    "&*",
    "+@all",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  const cleanup = async () => {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitForPort(port, { timeoutMs: 20_000 });
  } catch (error) {
    await cleanup();
    throw new Error("redis-server with TLS did not start", { cause: error });
  }
  return {
    port,
    password: pass,
    user: "eth",
    userPassword: userPass,
    client: () =>
      new Redis({
        host: "127.0.0.1",
        port,
        password: pass,
        tls: { ca: certs.caPem },
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      }),
    [Symbol.asyncDispose]: cleanup,
  };
}
