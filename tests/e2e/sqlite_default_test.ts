/**
 * The embedded store as a user meets it: `deno task server` with no store
 * flags keeps documents in ./eth.sqlite; `--no-store` writes no file. Each
 * test runs the task in a copy of the project, so the file lands in a
 * directory of its own.
 */
import assert from "node:assert/strict";
import { encodeNetstring } from "../../lib/shared/netstring.ts";
import { SqliteReader } from "../../lib/store/sqlite_reader.ts";
import { makeDocument, printedDocuments } from "../_helpers/db.ts";
import { freePort, sendRaw, waitFor, waitForPort } from "../_helpers/net.ts";
import { Child } from "../_helpers/process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PROJECT_FILES = [
  "deno.json",
  "deno.lock",
  "server.ts",
  "lib",
  "templates",
];

async function withProjectCopy(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "eth_sqlite_default_" });
  try {
    for (const name of PROJECT_FILES) {
      await copy(`${ROOT}${name}`, `${dir}/${name}`);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function copy(from: string, to: string) {
  const info = await Deno.stat(from).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory) return await Deno.copyFile(from, to);
  await Deno.mkdir(to);
  for await (const entry of Deno.readDir(from)) {
    await copy(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

async function startTask(dir: string, args: string[]) {
  const port = freePort();
  const child = new Child(
    Deno.execPath(),
    ["task", "server", "--host", "127.0.0.1", "--port", String(port), ...args],
    { __CWD: dir },
  );
  try {
    await waitForPort(port, { timeoutMs: 60_000 });
  } catch (error) {
    await child.stop("SIGKILL");
    throw new Error(
      `deno task server did not start:\n${child.stderr.join("\n")}`,
      {
        cause: error,
      },
    );
  }
  return { child, port };
}

Deno.test("sqlite default: `deno task server` with no store flags stores into ./eth.sqlite", async () => {
  await withProjectCopy(async (dir) => {
    const { child, port } = await startTask(dir, []);
    const reader = new SqliteReader(`${dir}/eth.sqlite`);
    try {
      const a = await makeDocument(5000000);
      const b = await makeDocument(5000001);
      for (const doc of [a, b, a]) {
        await sendRaw(port, encodeNetstring(doc.payload));
      }
      await waitFor(() => printedDocuments(child.stdout).length === 3, {
        what: "3 DATA lines",
      });
      // Readable while the server has it open and writes it (WAL).
      await waitFor(async () => (await reader.countBlocks()) === 2, {
        what: "2 documents in eth.sqlite",
      });
      const stored = await reader.document(a.hash);
      assert.equal(stored?.payload, a.payload);
      assert.equal(stored?.block, 5000000n);
      assert.equal(stored?.copies, 2);
      assert.match(stored?.server ?? "", new RegExp(`:${port}$`));
      assert.deepEqual(
        (await reader.clients()).map((c) => [c.ip, c.count]),
        [["127.0.0.1", 3]],
      );
    } finally {
      await reader.close();
      assert.equal((await child.stop("SIGTERM")).code, 0);
    }
    assert.ok((await Deno.stat(`${dir}/eth.sqlite`)).isFile);
  });
});

Deno.test("sqlite default: --no-store prints documents and writes no file", async () => {
  await withProjectCopy(async (dir) => {
    const { child, port } = await startTask(dir, ["--no-store"]);
    try {
      const doc = await makeDocument(1);
      await sendRaw(port, encodeNetstring(doc.payload));
      await waitFor(() => printedDocuments(child.stdout).length === 1, {
        what: "a DATA line",
      });
    } finally {
      assert.equal((await child.stop("SIGTERM")).code, 0);
    }
    const files = [];
    for await (const entry of Deno.readDir(dir)) files.push(entry.name);
    assert.deepEqual(files.sort(), [...PROJECT_FILES].sort());
  });
});
