/** The store flags of the server: the originals' and ours, flags and env. */
import assert from "node:assert/strict";
import { parseServerConfig } from "../../lib/server/options.ts";
import { runProgram } from "../_helpers/process.ts";

Deno.test("store flags: an empty MySQL password is allowed", () => {
  const c = parseServerConfig([
    "--use-mysql",
    "--mysql-host",
    "db",
    "--mysql-user",
    "eth_user",
    "--mysql-db",
    "eth",
  ], {});
  assert.deepEqual(c.store.mysql, {
    host: "db",
    port: 3306,
    user: "eth_user",
    password: "",
    database: "eth",
    passwordFrom: "--mysql-pass-file, ETH_SERVER_MYSQL_PASS_FILE",
  });
  assert.equal(c.store.sqlitePath, undefined);
});

Deno.test("store flags: ours, from flags and ETH_SERVER_* variables", () => {
  const env = {
    ETH_SERVER_USE_REDIS: "1",
    ETH_SERVER_REDIS_HOST: "cache",
    ETH_SERVER_REDIS_KEY_PREFIX: "blue:",
    ETH_SERVER_SERVER_ID: "web-1",
    ETH_SERVER_STORE_QUEUE_SIZE: "500",
    ETH_SERVER_STORE_FLUSH_TIMEOUT: "2.5",
  };
  const c = parseServerConfig([], env);
  assert.equal(c.store.redis?.keyPrefix, "blue:");
  assert.equal(c.serverId, "web-1");
  assert.equal(c.storeQueueSize, 500);
  assert.equal(c.storeFlushTimeoutMs, 2500);
  const f = parseServerConfig([
    "--server-id",
    "web-2",
    "--store-queue-size",
    "9",
  ], env);
  assert.equal(f.serverId, "web-2");
  assert.equal(f.storeQueueSize, 9);
  const d = parseServerConfig([], {});
  assert.equal(d.serverId, undefined, "defaults to <hostname>:<port>");
  assert.equal(d.storeQueueSize, 100_000);
  assert.equal(d.storeFlushTimeoutMs, 10_000);
  assert.equal(d.store.sqlitePath, "eth.sqlite");
  assert.throws(
    () => parseServerConfig(["--store-queue-size", "0"], {}),
    /--store-queue-size must be an integer from 1/,
  );
});

Deno.test("store flags: a store without its settings exits non-zero with the original message", async () => {
  for (
    const [args, message] of [
      [["--use-redis"], "--use-redis called without --redis-host"],
      [["--use-mysql"], "--use-mysql called without --mysql-host"],
      [
        ["--use-mysql", "--mysql-host", "db"],
        "--use-mysql called without --mysql-user",
      ],
    ] as const
  ) {
    const child = runProgram("server.ts", [...args, "--port", "0"]);
    const status = await child.exited();
    assert.notEqual(status.code, 0);
    assert.match(child.stderr.join("\n"), new RegExp(message));
  }
});
