/**
 * `deno task demo`: runs a server, a client and the stats API together on
 * the embedded store, printing where to look. Ctrl-C stops all three.
 *
 * The client polls `ETH_RPC_URL` when set, else public mainnet endpoints.
 *
 * @module
 */
import { DEFAULT_RPC_URLS } from "../lib/client/options.ts";
import { abortableSleep } from "../lib/shared/async.ts";
import { redactUrl } from "../lib/client/redact.ts";

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

const serverPort = pickPort(9999);
const statsPort = pickPort(8080);
const rpc = Deno.env.get("ETH_RPC_URL") ?? DEFAULT_RPC_URLS.join(",");
const children: Deno.ChildProcess[] = [];

const server = spawn("server.ts", [
  "--host",
  "127.0.0.1",
  "--port",
  String(serverPort),
]);
children.push(server);
if (!await waitForPort(serverPort, server)) {
  say("the server did not start; see its message above");
  Deno.exit(1);
}
say(`server listening on 127.0.0.1:${serverPort}, storing into eth.sqlite`);

const stats = spawn("stats.ts", [
  "--host",
  "127.0.0.1",
  "--port",
  String(statsPort),
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

let stopping = false;
const stop = () => {
  if (stopping) Deno.exit(130);
  stopping = true;
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
  }
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

// One program exiting on its own (e.g. a bad ETH_RPC_URL) stops the demo.
const first = await Promise.race(children.map((c) => c.status));
const unexpected = !stopping;
if (unexpected) {
  say(`a program exited with status ${first.code}; stopping`);
  stop();
}
await Promise.all(children.map((c) => c.status));
Deno.exit(unexpected ? 1 : 0);
