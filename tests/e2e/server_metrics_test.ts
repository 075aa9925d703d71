// The server's --metrics-port: /livez, /readyz and /metrics of a real
// server process receiving real frames, storing into SQLite (read back by
// the stats API), and reporting a store that is down.
import assert from "node:assert/strict";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { StatsServer } from "../../lib/stats/run_stats.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import { makeDocument } from "../_helpers/db.ts";
import { freePort, sendRaw, waitFor, waitForPort } from "../_helpers/net.ts";
import { startServer } from "../_helpers/process.ts";
import { parseMetrics, type Sample } from "../_helpers/stats.ts";

async function scrape(port: number) {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; version=0.0.4; charset=utf-8",
  );
  return parseMetrics(await response.text());
}

function value(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) =>
    s.name === name &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}

async function get(port: number, path: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

Deno.test("server --metrics-port: counters, health and what the stats API then reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eth_server_metrics_" });
  const sqlitePath = `${dir}/eth.sqlite`;
  const metricsPort = freePort();
  try {
    await using server = await startServer([
      "--sqlite-path",
      sqlitePath,
      "--metrics-port",
      String(metricsPort),
    ]);
    await waitForPort(metricsPort);
    assert.deepEqual(await get(metricsPort, "/livez"), {
      status: 200,
      text: "ok\n",
    });
    await waitFor(
      async () => (await get(metricsPort, "/readyz")).status === 200,
      { what: "the SQLite store to open" },
    );

    const a = await makeDocument(21_000_000);
    const b = await makeDocument(21_000_001);
    for (const doc of [a, b, a]) {
      await sendRaw(server.port, encodeNetstring(doc.payload));
    }
    await sendRaw(server.port, encodeNetstring("<p>not a document</p>"));
    await sendRaw(server.port, "abc:hello,");

    const page = await waitFor(async () => {
      const p = await scrape(metricsPort);
      return value(p.samples, "eth_server_documents_duplicate_total", {
          store: "sqlite",
        }) === 1
        ? p
        : undefined;
    }, { what: "the duplicate to be stored" });
    const s = page.samples;
    // Five sends, plus the probe startServer made to see the port open.
    assert.equal(value(s, "eth_server_connections_total"), 6);
    assert.equal(value(s, "eth_server_frames_accepted_total"), 3);
    assert.equal(
      value(s, "eth_server_frames_rejected_total", {
        reason: "not_a_document",
      }),
      1,
    );
    assert.equal(
      value(s, "eth_server_frames_rejected_total", { reason: "bad_length" }),
      1,
    );
    assert.equal(
      value(s, "eth_server_documents_stored_total", { store: "sqlite" }),
      2,
    );
    assert.equal(
      value(s, "eth_server_documents_queued", { store: "sqlite" }),
      0,
    );
    assert.equal(value(s, "eth_server_store_up", { store: "sqlite" }), 1);
    assert.equal(value(s, "eth_server_connections_active"), 0);
    assert.ok(
      (value(s, "eth_server_store_write_seconds_count", { store: "sqlite" }) ??
        0) >= 1,
    );
    assert.equal(page.types.get("eth_server_store_write_seconds"), "histogram");
    for (const sample of s) {
      for (const v of Object.values(sample.labels)) {
        assert.doesNotMatch(v, /127\.0\.0\.1|::1/);
      }
    }

    // The stats API reads what the server stored.
    const reader = new SqliteReader(sqlitePath);
    try {
      await using stats = StatsServer.listen(reader, {
        hostname: "127.0.0.1",
        port: 0,
      });
      const summary = await (await fetch(`${stats.url}api/summary`)).json();
      assert.equal(summary.documents, 2);
      assert.equal(summary.latest.block, 21_000_001);
      assert.equal(summary.clients, 1);
      const clients = await (await fetch(`${stats.url}_cat/clients`)).text();
      assert.equal(clients, "client       count\n127.0.0.1        3");
    } finally {
      await reader.close();
    }

    const status = await server.child.stop("SIGTERM");
    assert.equal(status.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server --metrics-port: /readyz fails while a store is down, documents stay queued", async () => {
  const metricsPort = freePort();
  // Nothing listens there: Redis is down for the whole test.
  await using server = await startServer([
    "--use-redis",
    "--redis-host",
    "127.0.0.1",
    "--redis-port",
    String(freePort()),
    "--metrics-port",
    String(metricsPort),
  ]);
  await waitForPort(metricsPort);
  await sendRaw(
    server.port,
    encodeNetstring((await makeDocument(7)).payload),
  );
  const ready = await waitFor(async () => {
    const r = await get(metricsPort, "/readyz");
    // The store is opened on a thread of its own: its first attempt may
    // still be under way when the document is spooled.
    return r.text.includes("1 documents spooled") &&
        r.text.includes("Cannot reach")
      ? r
      : undefined;
  }, { what: "the queued document and the cause to show in /readyz" });
  assert.equal(ready.status, 503);
  // The cause says which Redis could not be reached.
  assert.match(
    ready.text,
    /^not ready: redis store failing \(1 documents spooled\): Cannot reach Redis 127\.0\.0\.1:\d+\/0: .+\n$/,
  );
  const s = (await scrape(metricsPort)).samples;
  assert.equal(value(s, "eth_server_store_up", { store: "redis" }), 0);
  assert.equal(value(s, "eth_server_documents_queued", { store: "redis" }), 1);
  assert.ok(
    (value(s, "eth_server_store_errors_total", { store: "redis" }) ??
      0) >= 1,
  );
  assert.equal((await get(metricsPort, "/livez")).status, 200);
});
