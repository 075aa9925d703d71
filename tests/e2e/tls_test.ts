/**
 * Security of the client→server link: optional TLS (--tls-cert/--tls-key on
 * the server, --tls/--tls-ca on the client) and the server's --allow-from
 * list of client networks, against real processes and real sockets.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/shared/options.ts";
import { parseClientConfig } from "../../lib/client/options.ts";
import { parseServerConfig } from "../../lib/server/options.ts";
import { sendDocument, SendError } from "../../lib/client/sender.ts";
import { BlockTemplate } from "../../lib/shared/template.ts";
import { makeCerts } from "../_helpers/certs.ts";
import { sendRaw, waitFor } from "../_helpers/net.ts";
import { runProgram, startServer } from "../_helpers/process.ts";
import { RpcStub } from "../_helpers/rpc_stub.ts";
import { encodeNetstring } from "../../lib/shared/netstring.ts";

const template = await BlockTemplate.load();
const dataLines = (stdout: string[]) =>
  stdout.filter((l) => l.startsWith("DATA - "));

Deno.test("TLS: the client process delivers every block over TLS", async () => {
  await using certs = await makeCerts();
  await using rpc = new RpcStub({ chain: { head: 7000n, step: 1n } });
  await using server = await startServer([
    "--no-store",
    "--tls-cert",
    certs.certFile,
    "--tls-key",
    certs.keyFile,
  ]);
  await using client = runProgram("client.ts", [
    "--host",
    `127.0.0.1:${server.port}`,
    "--rpc-url",
    rpc.url,
    "--interval",
    "0.2",
    "--tls-ca",
    certs.caFile,
  ]);
  await waitFor(() => dataLines(server.child.stdout).length >= 3, {
    what: "3 documents over TLS",
  });
  const blocks = dataLines(server.child.stdout).map((l) =>
    template.parse(l.replace(/^DATA - [^ ]+ - /, "").replaceAll("\\n", "\n"))
  );
  assert.ok(blocks.every((b) => b !== undefined));
  for (let i = 1; i < blocks.length; i++) {
    assert.equal(blocks[i], blocks[i - 1]! + 1n);
  }
  assert.equal(client.status, undefined);
  assert.deepEqual(client.stderr.filter((l) => / (WARN|ERROR) /.test(l)), []);
});

Deno.test("TLS: plaintext and unverified peers are refused, the server serves on", async () => {
  await using certs = await makeCerts();
  await using server = await startServer([
    "--no-store",
    "-v",
    "--tls-cert",
    certs.certFile,
    "--tls-key",
    certs.keyFile,
  ]);
  const to = { host: "127.0.0.1", port: server.port };
  const doc = (n: bigint) => template.render(n);

  // A plaintext client (as the originals) speaks no TLS: nothing is taken.
  await sendRaw(server.port, encodeNetstring(doc(1n)));
  // A client that trusts only public roots, or another CA, refuses the cert.
  await assert.rejects(
    sendDocument(to, doc(2n), { tls: {} }),
    (e) =>
      e instanceof SendError && /certificate|UnknownIssuer/i.test(e.message),
  );
  await assert.rejects(
    sendDocument(to, doc(3n), {
      tls: { caCerts: [await Deno.readTextFile(certs.otherCaFile)] },
    }),
    SendError,
  );
  // The right CA works, also by name (the certificate covers localhost).
  await sendDocument(to, doc(4n), { tls: { caCerts: [certs.caPem] } });
  await sendDocument({ host: "localhost", port: server.port }, doc(5n), {
    tls: { caCerts: [certs.caPem] },
  });
  await waitFor(() => dataLines(server.child.stdout).length >= 2, {
    what: "the two verified documents",
  });
  const printed = dataLines(server.child.stdout).map((l) =>
    template.parse(l.replace(/^DATA - [^ ]+ - /, "").replaceAll("\\n", "\n"))
  );
  assert.deepEqual(printed, [4n, 5n]);
  assert.equal(server.child.status, undefined);
});

Deno.test("TLS: a TLS client against a plaintext server fails cleanly", async () => {
  await using certs = await makeCerts();
  await using server = await startServer(["--no-store"]);
  await assert.rejects(
    sendDocument(
      { host: "127.0.0.1", port: server.port },
      template.render(9n),
      { tls: { caCerts: [certs.caPem] }, timeoutMs: 2000 },
    ),
    SendError,
  );
  // The ClientHello is not a netstring: rejected, nothing printed.
  await waitFor(
    () => server.child.stderr.some((l) => /Closed connection/.test(l)),
    { what: "the rejection logged" },
  );
  assert.deepEqual(dataLines(server.child.stdout), []);
});

Deno.test("--allow-from: peers outside the networks are closed unread", async (t) => {
  const cases: [string, string, string][] = [
    // [allow-from, allowed peer, refused peer]
    ["127.0.0.0/8", "127.0.0.1", "::1"],
    ["::1/128", "::1", "127.0.0.1"],
  ];
  for (const [allow, good, bad] of cases) {
    await t.step(`--allow-from ${allow}`, async () => {
      // A dual-stack listener sees both IPv4 and IPv6 loopback peers.
      await using server = await startServer([
        "--no-store",
        "--host",
        "::",
        "--allow-from",
        allow,
        // A refused peer is held unanswered for this long.
        "--idle-timeout",
        "0.5",
      ]);
      await sendRaw(server.port, encodeNetstring(template.render(1n)), {
        hostname: bad,
      });
      await sendRaw(server.port, encodeNetstring(template.render(2n)), {
        hostname: good,
      });
      await waitFor(() => dataLines(server.child.stdout).length >= 1, {
        what: "the allowed document",
      });
      await waitFor(
        () => server.child.stderr.some((l) => /not in --allow-from/.test(l)),
        { what: "the refusal logged" },
      );
      const lines = dataLines(server.child.stdout);
      assert.equal(lines.length, 1);
      const peer = good.includes(":") ? `[${good}]` : good;
      assert.ok(lines[0].startsWith(`DATA - ${peer}:`), lines[0]);
      assert.ok(lines[0].endsWith("<p>2</p>\\n    </body>\\n</html>"));
    });
  }
});

Deno.test("TLS and --allow-from settings are checked at start", async () => {
  assert.throws(
    () => parseServerConfig(["--tls-cert", "a.pem"], {}),
    /--tls-cert and --tls-key must be given together/,
  );
  assert.throws(
    () => parseServerConfig(["--allow-from", "10.0.0.0/33"], {}),
    (e) => e instanceof ConfigError && /--allow-from .*prefix/.test(e.message),
  );
  assert.throws(
    () => parseServerConfig([], { ETH_SERVER_ALLOW_FROM: "10.0.0.0/8,nope" }),
    ConfigError,
  );
  const s = parseServerConfig([
    "--allow-from",
    "10.0.0.0/8,fd00::/8",
    "--allow-from",
    "127.0.0.1",
    "--tls-cert",
    "c.pem",
    "--tls-key",
    "k.pem",
  ], {});
  assert.deepEqual(s.allowFrom, ["10.0.0.0/8", "fd00::/8", "127.0.0.1"]);
  assert.deepEqual(s.tls, { certFile: "c.pem", keyFile: "k.pem" });
  assert.deepEqual(parseServerConfig([], {}).allowFrom, []);
  assert.equal(parseServerConfig([], {}).tls, undefined);

  const base = ["--host", "h", "--port", "1"];
  assert.equal(parseClientConfig(base, {}).tls, undefined);
  assert.deepEqual(parseClientConfig([...base, "--tls"], {}).tls, {
    caFile: undefined,
  });
  assert.deepEqual(
    parseClientConfig(base, { ETH_CLIENT_TLS_CA: "ca.pem" }).tls,
    { caFile: "ca.pem" },
  );

  // Unreadable key material stops the server with a clear message.
  const server = runProgram("server.ts", [
    "--no-store",
    "--port",
    "0",
    "--tls-cert",
    "/nonexistent/cert.pem",
    "--tls-key",
    "/nonexistent/key.pem",
  ]);
  const status = await server.exited();
  assert.equal(status.code, 2);
  assert.match(server.stderr.join("\n"), /Cannot read --tls-cert/);
});
