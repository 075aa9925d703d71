/**
 * `deno task demo [--sqlite-path FILE]`: runs a server, a client and the
 * stats API together on the embedded store, printing where to look. Ctrl-C
 * stops them all.
 *
 * The client polls `ETH_RPC_URL` when set. Otherwise the public mainnet
 * endpoints are tried briefly, and when none answers (no internet) a local
 * devnet (anvil from npm) is started instead, so blocks flow anywhere.
 * Documents go to a fresh temporary directory unless `--sqlite-path` says
 * otherwise. `ETH_DEMO_PUBLIC_RPC` replaces the public list (for tests).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_RPC_URLS } from "../lib/client/options.ts";
import { abortableSleep } from "../lib/shared/async.ts";
import { SECOND_SIGNAL_MS } from "../lib/shared/run_main.ts";
import { RpcError } from "../lib/shared/jsonrpc.ts";
import { redactUrl } from "../lib/shared/redact.ts";
import { RpcClient } from "../lib/shared/rpc.ts";

/** How long a public endpoint gets to answer before the devnet is used. */
const PROBE_TIMEOUT_MS = 3000;

const ROOT = new URL("../", import.meta.url);
const PERMS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys=hostname",
];

/** `preferred` when it is free on 127.0.0.1, else any free port. */
function pickPort(preferred: number): number {
  for (const port of [preferred, 0]) {
    try {
      using l = Deno.listen({ hostname: "127.0.0.1", port });
      return (l.addr as Deno.NetAddr).port;
    } catch {
      // Taken: fall through to a free one.
    }
  }
  throw new Error("No free port");
}

async function waitForPort(port: number, child: Deno.ChildProcess) {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 600 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      await abortableSleep(50);
    }
  }
  return false;
}

function spawn(program: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, program, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

const say = (line: string) => console.error(`demo: ${line}`);

/** Why `url` does not answer eth_blockNumber, or undefined when it does. */
async function probe(url: string): Promise<string | undefined> {
  try {
    await new RpcClient([url], { timeoutMs: PROBE_TIMEOUT_MS }).blockNumber();
    return undefined;
  } catch (error) {
    if (error instanceof RpcError && error.kind === "timeout") {
      return `no answer in ${PROBE_TIMEOUT_MS / 1000} s`;
    }
    // The innermost reason: "Connection refused (os error 111)", a DNS
    // failure, an HTTP status.
    let inner = error as Error;
    while (inner.cause instanceof Error) inner = inner.cause;
    return inner.message.split("\n")[0].split(": ").at(-1);
  }
}

/** Starts `deno task devnet` on a free port; resolves its RPC URL. */
async function startDevnet(): Promise<string | undefined> {
  const port = pickPort(8545);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-run",
      "scripts/devnet.ts",
      "--port",
      String(port),
      "--block-time",
      "1",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  children.push(child);
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  let text = "";
  for await (const chunk of lines) {
    text += chunk;
    const m = /ETH_RPC_URL=(http\S+)/.exec(text);
    if (m) {
      lines.cancel().catch(() => {});
      return m[1];
    }
  }
  return undefined;
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { "sqlite-path": { type: "string" } },
});
const children: Deno.ChildProcess[] = [];
const sqlitePath = flags["sqlite-path"] ??
  `${await Deno.makeTempDir({ prefix: "eth-demo-" })}/eth.sqlite`;
const serverPort = pickPort(9999);
const statsPort = pickPort(8080);
let rpc = Deno.env.get("ETH_RPC_URL") || "";
if (!rpc) {
  const publicUrls = Deno.env.get("ETH_DEMO_PUBLIC_RPC")?.split(",") ??
    DEFAULT_RPC_URLS;
  const failures = await Promise.all(publicUrls.map(probe));
  const working = publicUrls.filter((_, i) => failures[i] === undefined);
  if (working.length > 0) rpc = working.join(",");
  else {
    say(
      `no public endpoint answered (${
        publicUrls.map((u, i) => `${redactUrl(u)}: ${failures[i]}`).join("; ")
      }); starting a local devnet (anvil from npm). Set ETH_RPC_URL to use a node of yours.`,
    );
    const url = await startDevnet();
    if (!url) {
      say("the devnet did not start; see its message above");
      Deno.exit(1);
    }
    rpc = url;
  }
}

const server = spawn("server.ts", [
  "--host",
  "127.0.0.1",
  "--port",
  String(serverPort),
  "--sqlite-path",
  sqlitePath,
  // The spool lives with the store, not in the working directory.
  "--spool-dir",
  join(dirname(sqlitePath), "eth.spool"),
]);
children.push(server);
if (!await waitForPort(serverPort, server)) {
  say("the server did not start; see its message above");
  Deno.exit(1);
}
say(`server listening on 127.0.0.1:${serverPort}, storing into ${sqlitePath}`);

const stats = spawn("stats.ts", [
  "--host",
  "127.0.0.1",
  "--port",
  String(statsPort),
  "--sqlite-path",
  sqlitePath,
]);
if (await waitForPort(statsPort, stats)) {
  children.push(stats);
  say(
    `stats API on http://127.0.0.1:${statsPort}/_cat, dashboard on http://127.0.0.1:${statsPort}/dashboard`,
  );
} else {
  say("the stats API did not start; see its message above");
  await stats.status;
}

children.push(spawn("client.ts", [
  "--host",
  "127.0.0.1",
  "--port",
  String(serverPort),
  "--rpc-url",
  rpc,
]));
say(
  `client polling ${
    rpc.split(",").map(redactUrl).join(", ")
  }; DATA lines follow. Ctrl-C stops.`,
);

// A terminal's Ctrl-C reaches every program of the process group, and
// `deno task` forwards it to this one again: a signal within
// SECOND_SIGNAL_MS of the first is that copy. The programs are signalled
// only if still running a moment later (a signal sent to this process
// alone), so a Ctrl-C does not make each log a second one. A later Ctrl-C
// exits at once, as the programs' own second Ctrl-C does.
let stoppingAt: number | undefined;
const signalChildren = () => {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
  }
};
const stop = (signal: Deno.Signal) => () => {
  if (stoppingAt !== undefined) {
    if (signal === "SIGINT" && Date.now() - stoppingAt > SECOND_SIGNAL_MS) {
      Deno.exit(130);
    }
    return;
  }
  stoppingAt = Date.now();
  setTimeout(signalChildren, SECOND_SIGNAL_MS);
};
Deno.addSignalListener("SIGINT", stop("SIGINT"));
Deno.addSignalListener("SIGTERM", stop("SIGTERM"));

// One program exiting on its own (e.g. a bad ETH_RPC_URL) stops the demo.
const first = await Promise.race(children.map((c) => c.status));
// A Ctrl-C reaches the programs and this process at once: its handler may
// not have run yet when the quickest program has already exited.
if (stoppingAt === undefined) await abortableSleep(SECOND_SIGNAL_MS);
const unexpected = stoppingAt === undefined;
if (unexpected) {
  say(`a program exited with status ${first.code}; stopping`);
  stoppingAt = Date.now();
  signalChildren();
}
await Promise.all(children.map((c) => c.status));
Deno.exit(unexpected ? 1 : 0);
