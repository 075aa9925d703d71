/**
 * The stores as a careful AWS account runs them (RDS with
 * require_secure_transport, ElastiCache with in-transit encryption and
 * AUTH): a MariaDB and a Redis of this file's own, TLS only, passwords
 * required, started by tests/_helpers/tls_stores.ts. The server stores and
 * the stats API reads through them with secrets from files; a wrong CA, a
 * wrong password and plaintext each fail with one line naming what to set;
 * no password appears in any output, /metrics or --help.
 */
import assert from "node:assert/strict";
import { makeCerts } from "../_helpers/certs.ts";
import { startTlsMariadb, startTlsRedis } from "../_helpers/tls_stores.ts";
import { freePort, waitFor, waitForPort } from "../_helpers/net.ts";
import { type Child, runProgram, startServer } from "../_helpers/process.ts";
import { makeDocument } from "../_helpers/db.ts";
import { sendDocument } from "../../lib/client/sender.ts";
import mysql from "mysql2/promise";
import { Redis } from "ioredis";

const PREFIX = "aws:";

Deno.test("stores with TLS and AUTH, as on AWS", async (t) => {
  await using certs = await makeCerts();
  await using db = await startTlsMariadb(certs);
  await using redis = await startTlsRedis(certs);
  const database = await db.createDatabase("aws");
  const secrets = `${certs.dir}/secrets`;
  await Deno.mkdir(secrets);
  const secret = async (name: string, value: string) => {
    const path = `${secrets}/${name}`;
    // As a mounted secret often is: with a trailing newline.
    await Deno.writeTextFile(path, `${value}\n`);
    return path;
  };
  const mysqlPassFile = await secret("mysql_pass", db.password);
  const redisUrlFile = await secret(
    "redis_url",
    `rediss://${redis.user}:${redis.userPassword}@127.0.0.1:${redis.port}/0`,
  );
  const redisPassFile = await secret("redis_pass", redis.userPassword);
  const passwords = [db.password, redis.password, redis.userPassword];
  const serverEnv = (over: Record<string, string> = {}) => ({
    ETH_SERVER_USE_MYSQL: "1",
    ETH_SERVER_MYSQL_HOST: "127.0.0.1",
    ETH_SERVER_MYSQL_PORT: String(db.port),
    ETH_SERVER_MYSQL_USER: db.user,
    ETH_SERVER_MYSQL_DB: database,
    ETH_SERVER_MYSQL_TLS: "1",
    ETH_SERVER_MYSQL_CA: certs.caFile,
    ETH_SERVER_MYSQL_PASS_FILE: mysqlPassFile,
    ETH_SERVER_USE_REDIS: "1",
    ETH_SERVER_REDIS_URL_FILE: redisUrlFile,
    ETH_SERVER_REDIS_CA: certs.caFile,
    ETH_SERVER_REDIS_KEY_PREFIX: PREFIX,
    ...over,
  });
  const outputs: string[] = [];
  const keep = (child: Child) => outputs.push(...child.stdout, ...child.stderr);

  await t.step(
    "the server stores through both; stats reads them back",
    async () => {
      const metricsPort = freePort();
      await using server = await startServer(
        ["--metrics-port", String(metricsPort), "-v"],
        serverEnv(),
      );
      await server.child.waitForLine(/MySQL eth@.* over TLS .*: ready$/, {
        stream: "stderr",
      });
      await server.child.waitForLine(/Redis eth@.* over TLS .*: ready$/, {
        stream: "stderr",
      });
      const docs = [await makeDocument(9001), await makeDocument(9002)];
      for (const doc of docs) {
        await sendDocument(
          { host: "127.0.0.1", port: server.port },
          doc.payload,
        );
      }
      const conn = await db.connect(database);
      try {
        const rows = await waitFor(async () => {
          const [r] = await conn.query(
            "SELECT hash FROM ethereum_data ORDER BY hash",
          ) as unknown as [{ hash: string }[]];
          return r.length === 2 ? r : undefined;
        }, { what: "2 rows in the TLS MariaDB" });
        assert.deepEqual(
          rows.map((r) => r.hash),
          docs.map((d) => d.hash).sort(),
        );
      } finally {
        await conn.end();
      }
      const client = redis.client();
      try {
        await client.connect();
        await waitFor(
          async () => (await client.zcard(`${PREFIX}eth:hashes`)) === 2,
          { what: "2 hashes in the TLS Redis" },
        );
        for (const doc of docs) {
          assert.notEqual(
            await client.zscore(`${PREFIX}eth:hashes`, doc.hash),
            null,
          );
        }
      } finally {
        client.disconnect();
      }
      const metrics = await (await fetch(
        `http://127.0.0.1:${metricsPort}/metrics`,
      )).text();
      outputs.push(metrics);

      // Stats with the Flask API's variables for MySQL (MYSQL_PASS_FILE) and
      // flags for Redis (an ACL user, its password from a file).
      const statsPort = freePort();
      await using stats = runProgram("stats.ts", [
        "--host",
        "127.0.0.1",
        "--port",
        String(statsPort),
        "--mysql-tls",
        "--mysql-ca",
        certs.caFile,
        "--use-redis",
        "--redis-tls",
        "--redis-ca",
        certs.caFile,
        "--redis-host",
        "127.0.0.1",
        "--redis-port",
        String(redis.port),
        "--redis-user",
        redis.user,
        "--redis-pass-file",
        redisPassFile,
        "--redis-key-prefix",
        PREFIX,
        "-v",
      ], {
        MYSQL_HOST: "127.0.0.1",
        MYSQL_PORT: String(db.port),
        MYSQL_USER: db.user,
        MYSQL_DB: database,
        MYSQL_PASS_FILE: mysqlPassFile,
      });
      await waitForPort(statsPort);
      const blocks = await (await fetch(
        `http://127.0.0.1:${statsPort}/api/blocks`,
      )).text();
      for (const doc of docs) assert.ok(blocks.includes(doc.hash), blocks);
      outputs.push(
        await (await fetch(`http://127.0.0.1:${statsPort}/metrics`)).text(),
      );
      await stats.stop();
      await server.child.stop();
      keep(stats);
      keep(server.child);
    },
  );

  await t.step(
    "a wrong CA fails with one line naming the CA option",
    async () => {
      await using server = await startServer([], {
        ...serverEnv({
          ETH_SERVER_MYSQL_CA: certs.otherCaFile,
          ETH_SERVER_REDIS_CA: certs.otherCaFile,
        }),
      });
      const mysqlLine = await server.child.waitForLine(
        /WARN .*MySQL .* over TLS.*not trusted by .*other_ca\.crt: check --mysql-ca\)/,
        { stream: "stderr" },
      );
      const redisLine = await server.child.waitForLine(
        /WARN .*Redis .* over TLS.*not trusted by .*other_ca\.crt: check --redis-ca\)/,
        { stream: "stderr" },
      );
      assert.doesNotMatch(mysqlLine + redisLine, /\n/);
      await server.child.stop();
      keep(server.child);
    },
  );

  await t.step(
    "a wrong password fails with one line naming what to set",
    async () => {
      const wrongMysql = await secret("mysql_wrong", "not-the-password");
      const wrongRedis = await secret(
        "redis_wrong",
        `rediss://${redis.user}:not-the-password@127.0.0.1:${redis.port}/0`,
      );
      await using server = await startServer([], {
        ...serverEnv({
          ETH_SERVER_MYSQL_PASS_FILE: wrongMysql,
          ETH_SERVER_REDIS_URL_FILE: wrongRedis,
        }),
      });
      await server.child.waitForLine(
        /WARN .*Access denied.*: check the user and set its password with --mysql-pass-file, ETH_SERVER_MYSQL_PASS_FILE\)/,
        { stream: "stderr" },
      );
      await server.child.waitForLine(
        /WARN .*WRONGPASS.*: set the password with --redis-url-file, ETH_SERVER_REDIS_URL_FILE/,
        { stream: "stderr" },
      );
      await server.child.stop();
      keep(server.child);
    },
  );

  await t.step(
    "the Redis ACL user with a wrong password: one line naming its file option",
    async () => {
      const wrong = await secret("redis_user_wrong", "not-the-password");
      const { ETH_SERVER_REDIS_URL_FILE: _url, ...env } = serverEnv();
      await using server = await startServer([
        "--redis-host",
        "127.0.0.1",
        "--redis-port",
        String(redis.port),
        "--redis-user",
        redis.user,
        "--redis-pass-file",
        wrong,
        "--redis-tls",
      ], env);
      const line = await server.child.waitForLine(
        /WARN .*Redis .*WRONGPASS.*: set the password with --redis-pass-file, ETH_SERVER_REDIS_PASS_FILE/,
        { stream: "stderr" },
      );
      assert.ok(!line.includes("not-the-password"), line);
      await server.child.stop();
      assert.deepEqual(
        server.child.stderr.filter((l) => /^\s+at /.test(l)),
        [],
        "no stack trace",
      );
      keep(server.child);
    },
  );

  await t.step(
    "stats with wrong passwords starts, says so once per store, /readyz says why",
    async () => {
      const wrongMysql = await secret("stats_mysql_wrong", "not-the-password");
      const wrongRedis = await secret("stats_redis_wrong", "not-the-password");
      const statsPort = freePort();
      await using stats = runProgram("stats.ts", [
        "--host",
        "127.0.0.1",
        "--port",
        String(statsPort),
      ], {
        ETH_STATS_USE_MYSQL: "1",
        ETH_STATS_MYSQL_HOST: "127.0.0.1",
        ETH_STATS_MYSQL_PORT: String(db.port),
        ETH_STATS_MYSQL_USER: db.user,
        ETH_STATS_MYSQL_DB: database,
        ETH_STATS_MYSQL_TLS: "1",
        ETH_STATS_MYSQL_CA: certs.caFile,
        ETH_STATS_MYSQL_PASS_FILE: wrongMysql,
        ETH_STATS_USE_REDIS: "1",
        ETH_STATS_REDIS_HOST: "127.0.0.1",
        ETH_STATS_REDIS_PORT: String(redis.port),
        ETH_STATS_REDIS_TLS: "1",
        ETH_STATS_REDIS_CA: certs.caFile,
        ETH_STATS_REDIS_USER: redis.user,
        ETH_STATS_REDIS_PASS_FILE: wrongRedis,
      });
      // Before any request: one WARN per store naming what to set.
      await stats.waitForLine(
        /WARN .*MySQL .*Access denied.*--mysql-pass-file, ETH_STATS_MYSQL_PASS_FILE/,
        { stream: "stderr" },
      );
      await stats.waitForLine(
        /WARN .*Redis .*WRONGPASS.*--redis-pass-file, ETH_STATS_REDIS_PASS_FILE/,
        { stream: "stderr" },
      );
      // It serves anyway (the stores may come up later), and is not ready.
      assert.equal(
        (await fetch(`http://127.0.0.1:${statsPort}/livez`)).status,
        200,
      );
      const ready = await fetch(`http://127.0.0.1:${statsPort}/readyz`);
      const body = await ready.text();
      assert.equal(ready.status, 503, body);
      assert.match(body, /^not ready: .*(Access denied|WRONGPASS)/);
      assert.match(body, /--(mysql|redis)-pass-file/);
      await stats.stop();
      keep(stats);
      const warns = (what: RegExp) =>
        stats.stderr.filter((l) => / WARN /.test(l) && what.test(l)).length;
      assert.equal(warns(/Access denied/), 1, stats.stderr.join("\n"));
      assert.equal(warns(/WRONGPASS/), 1, stats.stderr.join("\n"));
      assert.ok(!stats.stderr.join("\n").includes("not-the-password"));
    },
  );

  await t.step(
    "the stores themselves refuse plaintext, with the right password",
    async () => {
      await assert.rejects(
        mysql.createConnection({
          host: "127.0.0.1",
          port: db.port,
          user: db.user,
          password: db.password,
          database,
          connectTimeout: 5000,
        }).then((c) => c.end()),
        /secure transport|Access denied|SSL|insecure/i,
      );
      const plain = new Redis({
        host: "127.0.0.1",
        port: redis.port,
        password: redis.password,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 5000,
      });
      plain.on("error", () => {});
      try {
        await assert.rejects(plain.connect().then(() => plain.ping()));
      } finally {
        plain.disconnect();
      }
    },
  );

  await t.step(
    "both stores refuse plaintext; the line says to add TLS",
    async () => {
      const {
        ETH_SERVER_MYSQL_TLS: _,
        ETH_SERVER_MYSQL_CA: _ca,
        ETH_SERVER_REDIS_URL_FILE: _url,
        ETH_SERVER_REDIS_CA: _rca,
        ...plain
      } = serverEnv();
      await using server = await startServer([
        "--redis-host",
        "127.0.0.1",
        "--redis-port",
        String(redis.port),
        "--redis-pass-file",
        redisPassFile,
        "--redis-user",
        redis.user,
      ], plain);
      await server.child.waitForLine(
        /WARN .*MySQL .*Access denied.*add --mysql-tls/,
        {
          stream: "stderr",
        },
      );
      await server.child.waitForLine(
        /WARN .*Redis .*(EPIPE|ECONNRESET|closed before Redis answered).*add --redis-tls/,
        {
          stream: "stderr",
        },
      );
      await server.child.stop();
      keep(server.child);
    },
  );

  await t.step("no password in any output, /metrics or --help", async () => {
    for (const program of ["server.ts", "stats.ts"]) {
      const help = runProgram(program, ["--help"], {
        ...serverEnv(),
        ETH_SERVER_MYSQL_PASS: db.password,
        ETH_STATS_MYSQL_PASS: db.password,
        MYSQL_PASS: db.password,
        ETH_STATS_REDIS_PASS: redis.password,
      });
      assert.equal((await help.exited()).code, 0);
      keep(help);
      assert.match(help.stdout.join("\n"), /--mysql-pass-file/);
    }
    assert.ok(outputs.length > 50, `${outputs.length} lines collected`);
    const all = outputs.join("\n");
    for (const password of passwords) {
      assert.ok(!all.includes(password), "a password was printed");
    }
    assert.ok(
      !all.includes("not-the-password"),
      "a wrong password was printed",
    );
  });
});
