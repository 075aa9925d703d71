// stats.ts as a real process: --help, the original's environment variables
// (SPEC 1.6), configuration errors, and a clean exit on SIGTERM.
import assert from "node:assert/strict";
import { makeDocument, TestDatabase, TestRedis } from "../_helpers/db.ts";
import { freePort } from "../_helpers/net.ts";
import { runProgram } from "../_helpers/process.ts";
import { writeOriginal } from "../_helpers/stats.ts";

Deno.test("stats.ts --help lists every option with its default and environment", async () => {
  const child = runProgram("stats.ts", ["--help"]);
  const status = await child.exited();
  assert.equal(status.code, 0);
  const help = child.stdout.join("\n");
  for (
    const line of [
      "--port PORT",
      "default: 8080",
      "env: ETH_STATS_PORT",
      "--stale-after SECONDS",
      "default: 120",
      "env: ETH_STATS_REDIS_HOST, REDIS_HOST",
      "env: ETH_STATS_MYSQL_PASS, MYSQL_PASS",
      "env: ETH_STATS_MYSQL_DB, MYSQL_DB",
      "--sqlite-path FILE",
    ]
  ) {
    assert.ok(help.includes(line), `help lacks ${line}:\n${help}`);
  }
});

Deno.test("stats.ts: bad configuration exits 2 with one clear line", async () => {
  const cases: [string[], RegExp][] = [
    // Not a stats option (nor listed in its --help): it would read nothing.
    [["--no-store"], /Unknown option '--no-store'/],
    [
      ["--mysql-host", "db"],
      /--mysql-host .* is set but MySQL is not in use: add --use-mysql/,
    ],
    [["--port", "99999"], /--port must be an integer from 0 to 65535/],
    [["--stale-after", "soon"], /--stale-after must be a number/],
  ];
  for (const [args, message] of cases) {
    const child = runProgram("stats.ts", ["--port", "0", ...args]);
    const status = await child.exited();
    assert.equal(status.code, 2, child.stderr.join("\n"));
    assert.match(child.stderr.join("\n"), message);
  }
});

Deno.test("stats.ts: the original's environment variables select MySQL + Redis; SIGTERM exits 0", async () => {
  await using db = await TestDatabase.create("stats_env");
  await using redis = await TestRedis.create("stats_env");
  const payload = (await makeDocument(5_000_000)).payload;
  const [hash] = await writeOriginal(db, redis, [
    { payload, score: 1500000000.5, ip: "10.0.0.7" },
  ]);
  const port = freePort();
  const child = runProgram("stats.ts", ["--host", "127.0.0.1"], {
    ETH_STATS_PORT: String(port),
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: "6379",
    REDIS_DB: "0",
    MYSQL_HOST: "127.0.0.1",
    MYSQL_PORT: "3306",
    MYSQL_USER: "root",
    MYSQL_PASS: "",
    MYSQL_DB: db.name,
    // Not an original variable: keeps this test's keys apart from others'.
    ETH_STATS_REDIS_KEY_PREFIX: redis.prefix,
  });
  try {
    const line = await child.waitForLine(/^Stats API listening on /);
    assert.equal(
      line,
      `Stats API listening on http://127.0.0.1:${port}/ (dashboard: http://127.0.0.1:${port}/dashboard)`,
    );
    const base = `http://127.0.0.1:${port}`;
    assert.equal(
      await (await fetch(`${base}/_cat/hashes`)).text(),
      `hash${" ".repeat(60)}        timestamp\n${hash}  1500000000.5000`,
    );
    assert.equal(
      await (await fetch(`${base}/_cat/hashes/${hash}`)).text(),
      payload,
    );
    assert.equal(
      await (await fetch(`${base}/_cat/clients`)).text(),
      "client      count\n10.0.0.7        1",
    );
    const status = await child.stop("SIGTERM");
    assert.equal(status.code, 0, child.stderr.join("\n"));
    await assert.rejects(fetch(`${base}/livez`));
  } finally {
    await child.stop("SIGKILL");
  }
});
