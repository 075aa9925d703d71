// What each program says on start at the default level (info), as text and
// as JSON lines: where it listens, its stores, endpoints and template.
import assert from "node:assert/strict";
import { freePort } from "../_helpers/net.ts";
import { type Child, runProgram } from "../_helpers/process.ts";
import { RpcStub } from "../_helpers/rpc_stub.ts";

interface JsonLine {
  time: string;
  level: string;
  program: string;
  msg: string;
  fields: Record<string, unknown>;
}

function parseJsonLines(child: Child, program: string): JsonLine[] {
  return child.stderr.map((line) => {
    const parsed = JSON.parse(line) as JsonLine;
    assert.ok(!Number.isNaN(Date.parse(parsed.time)), line);
    assert.match(parsed.level, /^(debug|info|warn|error)$/, line);
    assert.equal(parsed.program, program, line);
    assert.equal(typeof parsed.msg, "string", line);
    assert.equal(typeof parsed.fields, "object", line);
    return parsed;
  });
}

for (const format of ["text", "json"] as const) {
  Deno.test(`startup: each program's start-up lines at the default level (${format})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "eth_startup_" });
    const sqlitePath = `${dir}/eth.sqlite`;
    await using rpc = new RpcStub({ chain: { head: 500n, step: 0n } });
    const serverPort = freePort();
    const statsPort = freePort();
    const common = format === "json" ? ["--log-format", "json"] : [];
    const server = runProgram("server.ts", [
      ...common,
      "--host",
      "127.0.0.1",
      "--port",
      String(serverPort),
      "--sqlite-path",
      sqlitePath,
    ]);
    const stats = runProgram("stats.ts", [
      ...common,
      "--host",
      "127.0.0.1",
      "--port",
      String(statsPort),
      "--sqlite-path",
      sqlitePath,
    ]);
    const client = runProgram("client.ts", [
      ...common,
      "--host",
      `127.0.0.1:${serverPort}`,
      "--rpc-url",
      rpc.url,
      "--interval",
      "0.2",
    ]);
    try {
      const wait = (child: Child, pattern: RegExp) =>
        child.waitForLine(pattern, { stream: "stderr" });
      await wait(server, /sqlite: ready|SQLite .*: ready/);
      await wait(server, /Storing into sqlite/);
      await wait(stats, /Gaps run up to/);
      await wait(client, /Polling /);
      await wait(server, /Accepting renderings/);
      await server.waitForLine(/^DATA - /);
      if (format === "text") {
        const all = (c: Child) => c.stderr.join("\n");
        assert.match(
          all(server),
          new RegExp(
            ` INFO server: Listening on 127\\.0\\.0\\.1:${serverPort} address=`,
          ),
        );
        assert.match(
          all(server),
          /INFO server: Accepting renderings of the built-in template/,
        );
        assert.match(all(server), /INFO server: Storing into sqlite/);
        assert.match(
          all(stats),
          new RegExp(
            `INFO stats: Listening on http://127\\.0\\.0\\.1:${statsPort}/`,
          ),
        );
        assert.match(all(stats), /INFO stats: Reading SQLite .*eth\.sqlite/);
        assert.match(all(client), /INFO client: Sending to 127\.0\.0\.1:\d+/);
        assert.match(
          all(client),
          /INFO client: Using RPC endpoint http:\/\/127\.0\.0\.1/,
        );
        assert.match(all(client), /INFO client: Polling http:\/\/127\.0\.0\.1/);
      } else {
        const s = parseJsonLines(server, "server");
        const listening = s.find((l) => l.msg.startsWith("Listening on"));
        assert.equal(listening?.level, "info");
        assert.equal(listening?.fields.address, `127.0.0.1:${serverPort}`);
        assert.deepEqual(
          s.find((l) => l.msg.startsWith("Storing into"))?.fields.stores,
          ["sqlite"],
        );
        const t = parseJsonLines(stats, "stats");
        assert.equal(
          t.find((l) => l.msg.startsWith("Listening"))?.fields.url,
          `http://127.0.0.1:${statsPort}/`,
        );
        const c = parseJsonLines(client, "client");
        assert.ok(c.some((l) => l.msg.startsWith("Polling")));
        assert.ok(c.some((l) => l.msg.startsWith("Sending to")));
      }
    } finally {
      await client.stop("SIGTERM");
      await stats.stop("SIGTERM");
      await server.stop("SIGTERM");
      if (format === "json") {
        for (
          const [c, name] of [[server, "server"], [stats, "stats"], [
            client,
            "client",
          ]] as const
        ) {
          parseJsonLines(c, name);
        }
      }
      await Deno.remove(dir, { recursive: true });
    }
  });
}
