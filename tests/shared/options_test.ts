import assert from "node:assert/strict";
import {
  type Command,
  ConfigError,
  type OptionTable,
  parseCommand,
} from "../../lib/shared/options.ts";
import {
  CLIENT_COMMAND,
  DEFAULT_RPC_URLS,
  parseClientConfig,
} from "../../lib/client/options.ts";
import { parseHostPort } from "../../lib/shared/net.ts";
import { parseServerConfig, SERVER_COMMAND } from "../../lib/server/options.ts";
import { parseStatsConfig, STATS_COMMAND } from "../../lib/stats/options.ts";

const configError = (pattern: RegExp) => (e: unknown) =>
  e instanceof ConfigError && pattern.test(e.message);

Deno.test("client: the originals' flags, defaults and environment", () => {
  const c = parseClientConfig(["--host", "srv", "--port", "8888"], {});
  assert.deepEqual(c.servers, [{ host: "srv", port: 8888 }]);
  assert.deepEqual(c.rpcUrls, DEFAULT_RPC_URLS);
  assert.equal(c.intervalMs, 5000);
  assert.equal(c.timeoutMs, 1000);
  assert.equal(c.verbose, false);
  assert.equal(c.waitMs, 0);

  const e = parseClientConfig([], {
    ETH_CLIENT_HOST: "a,b:7000",
    ETH_CLIENT_PORT: "9999",
    ETH_RPC_URL: "http://127.0.0.1:8545",
    ETH_VERBOSE: "1",
    ETH_WAIT: "2",
  });
  assert.deepEqual(e.servers, [
    { host: "a", port: 9999 },
    { host: "b", port: 7000 },
  ]);
  assert.deepEqual(e.rpcUrls, ["http://127.0.0.1:8545"]);
  assert.equal(e.verbose, true);
  assert.equal(e.waitMs, 2000);
});

Deno.test("client: flags win over environment; lists repeat or use commas", () => {
  const c = parseClientConfig([
    "--host",
    "x",
    "--port",
    "1",
    "--rpc-url",
    "http://a,http://b",
    "--rpc-url",
    "https://c",
    "--interval",
    "0.25",
    "-v",
  ], { ETH_CLIENT_HOST: "y", ETH_RPC_URL: "http://env", ETH_VERBOSE: "0" });
  assert.deepEqual(c.servers, [{ host: "x", port: 1 }]);
  assert.deepEqual(c.rpcUrls, ["http://a", "http://b", "https://c"]);
  assert.equal(c.intervalMs, 250);
  assert.equal(c.verbose, true);
});

Deno.test("client: bad input is a clear ConfigError", () => {
  assert.throws(() => parseClientConfig([], {}), configError(/--host/));
  assert.throws(
    () => parseClientConfig(["--host", "a"], {}),
    configError(/--port is required/),
  );
  assert.throws(
    () => parseClientConfig(["--host", "a", "--port", "99999"], {}),
    configError(/--port must be an integer from 1 to 65535/),
  );
  assert.throws(
    () =>
      parseClientConfig(["--host", "a", "--port", "1", "--interval", "x"], {}),
    configError(/--interval must be a number/),
  );
  assert.throws(
    () =>
      parseClientConfig(
        ["--host", "a", "--port", "1", "--rpc-url", "ftp://x"],
        {},
      ),
    configError(/must be http\(s\):\/\/ or ws\(s\):\/\//),
  );
  assert.throws(
    () => parseClientConfig(["--bogus"], {}),
    configError(/bogus/),
  );
  assert.throws(
    () => parseClientConfig(["stray"], {}),
    configError(/stray|positional/),
  );
  assert.throws(
    () =>
      parseClientConfig(["--host", "a", "--port", "1"], {
        ETH_VERBOSE: "maybe",
      }),
    configError(/ETH_VERBOSE="maybe" is not a boolean/),
  );
});

Deno.test("host:port parsing covers IPv6", () => {
  assert.deepEqual(parseHostPort("[::1]:99", undefined), {
    host: "::1",
    port: 99,
  });
  assert.deepEqual(parseHostPort("[::1]", 5), { host: "::1", port: 5 });
  assert.deepEqual(parseHostPort("fe80::1", 5), { host: "fe80::1", port: 5 });
  assert.deepEqual(parseHostPort("h:1", 5), { host: "h", port: 1 });
  assert.throws(() => parseHostPort("h:0", 5), ConfigError);
});

Deno.test("server: defaults and the embedded store", () => {
  const s = parseServerConfig([], {});
  assert.equal(s.host, "localhost");
  assert.equal(s.port, 9999);
  assert.deepEqual(s.store, { sqlitePath: "eth.sqlite" });
  assert.equal(s.maxFrameBytes, 65536);
  assert.equal(s.idleTimeoutMs, 5000);
  assert.equal(s.acceptAnyPayload, false);
  assert.deepEqual(parseServerConfig(["--no-store"], {}).store, {});
});

Deno.test("server: store flags and ETH_SERVER_* environment", () => {
  const s = parseServerConfig(["--use-mysql", "--mysql-host", "db"], {
    ETH_SERVER_MYSQL_USER: "eth_user",
    ETH_SERVER_MYSQL_DB: "eth",
    ETH_SERVER_USE_REDIS: "true",
    ETH_SERVER_REDIS_HOST: "cache",
    ETH_SERVER_PORT: "8888",
  });
  assert.equal(s.port, 8888);
  assert.deepEqual(s.store, {
    mysql: {
      host: "db",
      port: 3306,
      user: "eth_user",
      password: "",
      database: "eth",
      passwordFrom: "--mysql-pass-file, ETH_SERVER_MYSQL_PASS_FILE",
    },
    redis: {
      host: "cache",
      port: 6379,
      db: 0,
      passwordFrom: "--redis-pass-file, ETH_SERVER_REDIS_PASS_FILE",
    },
  });
});

Deno.test("server: a store without its settings gives the original message", () => {
  assert.throws(
    () => parseServerConfig(["--use-redis"], {}),
    configError(/^--use-redis called without --redis-host$/),
  );
  assert.throws(
    () => parseServerConfig(["--use-mysql"], {}),
    configError(/^--use-mysql called without --mysql-host$/),
  );
  assert.throws(
    () => parseServerConfig(["--use-mysql", "--mysql-host", "h"], {}),
    configError(/^--use-mysql called without --mysql-user$/),
  );
  assert.throws(
    () =>
      parseServerConfig(["--no-store", "--use-redis", "--redis-host", "h"], {}),
    configError(/--no-store cannot be combined/),
  );
});

Deno.test("stats: the original environment variables", () => {
  const s = parseStatsConfig([], {});
  assert.equal(s.port, 8080);
  assert.deepEqual(s.store, { sqlitePath: "eth.sqlite" });
  const o = parseStatsConfig([], { MYSQL_HOST: "rds", REDIS_HOST: "cache" });
  assert.deepEqual(o.store, {
    mysql: {
      host: "rds",
      port: 3306,
      user: "eth_user",
      // No built-in password: the Flask API's `eth_password` is not assumed.
      password: "",
      database: "eth",
      passwordFrom:
        "--mysql-pass-file, ETH_STATS_MYSQL_PASS_FILE, MYSQL_PASS_FILE",
    },
    redis: {
      host: "cache",
      port: 6379,
      db: 0,
      passwordFrom: "--redis-pass-file, ETH_STATS_REDIS_PASS_FILE",
    },
  });
});

Deno.test("--help lists every option with its default and environment", () => {
  const help = <T extends OptionTable, C>(command: Command<T, C>) => {
    const parsed = parseCommand(command, ["--help"], {});
    assert.ok("help" in parsed);
    return parsed.help;
  };
  for (
    const text of [
      help(CLIENT_COMMAND),
      help(SERVER_COMMAND),
      help(STATS_COMMAND),
    ]
  ) {
    assert.match(text, /^Usage: /);
    assert.match(text, /--verbose/);
    assert.match(text, /env: ETH_WAIT/);
  }
  const server = help(SERVER_COMMAND);
  assert.match(server, /--port PORT +.*default: 9999.*env: ETH_SERVER_PORT/);
  assert.match(server, /--redis-host HOST.*env: ETH_SERVER_REDIS_HOST/);
});
