// `deno task demo` on a machine where no public endpoint answers: the demo
// says so in one line, starts the local devnet, DATA lines flow within 30 s,
// and Ctrl-C leaves no process behind; a terminal's Ctrl-C stops each program
// once.
import assert from "node:assert/strict";
import { freePort, waitFor } from "../_helpers/net.ts";
import { Child } from "../_helpers/process.ts";
import { SECOND_SIGNAL_MS } from "../../lib/shared/run_main.ts";

/** Every process whose ancestry leads to `pid`. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // The command name may hold spaces: fields follow its closing paren.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry.name), ppid);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until none of `family` is alive. */
async function noneLeft(family: number[]): Promise<void> {
  await waitFor(() => family.every((pid) => !alive(pid)), {
    what: `no process left of ${family.join(", ")}`,
    timeoutMs: 10_000,
  });
}

/** Kills what is left of a demo and its programs; removes its folder. */
async function cleanUp(demo: Child, family: number[], dir: string) {
  // Children first: one left holding the demo's stderr would keep the
  // pipe, and the test, open.
  if (family.length === 0) family = descendants(demo.pid);
  for (const pid of family) {
    if (alive(pid)) Deno.kill(pid, "SIGKILL");
  }
  if (demo.status === undefined) await demo.stop("SIGKILL");
  await Deno.remove(dir, { recursive: true });
}

Deno.test("demo: offline, it starts the devnet and DATA lines flow; Ctrl-C stops everything", async () => {
  const closed = [freePort(), freePort()];
  const dir = await Deno.makeTempDir({ prefix: "eth_demo_" });
  const demo = new Child(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-sys=hostname",
    "scripts/demo.ts",
    "--sqlite-path",
    `${dir}/eth.sqlite`,
  ], {
    ETH_RPC_URL: "",
    ETH_DEMO_PUBLIC_RPC: closed.map((p) => `http://127.0.0.1:${p}`).join(","),
  });
  let family: number[] = [];
  try {
    const started = Date.now();
    const said = await demo.waitForLine(/no public endpoint answered/, {
      stream: "stderr",
      timeoutMs: 10_000,
    });
    for (const port of closed) {
      assert.match(said, new RegExp(`:${port}/?: Connection refused`));
    }
    assert.match(said, /starting a local devnet.*ETH_RPC_URL/);
    await demo.waitForLine(/^DATA - 127\.0\.0\.1:\d+ - <!doctype html>/, {
      timeoutMs: 30_000,
    });
    assert.ok(Date.now() - started < 30_000);
    assert.ok(
      demo.stderr.some((l) => l.includes(`storing into ${dir}/eth.sqlite`)),
    );
    // The server's spool sits with the store, not in the working directory.
    assert.ok(Deno.statSync(`${dir}/eth.spool`).isDirectory);
    assert.ok(demo.stderr.some((l) => /dashboard on http:\/\//.test(l)));
    family = descendants(demo.pid);
    assert.ok(family.length >= 4, `server, stats, client, devnet + anvil`);
    Deno.kill(demo.pid, "SIGINT");
    await waitFor(() => demo.status !== undefined, {
      what: "the demo to exit",
      timeoutMs: 20_000,
    });
    await noneLeft(family);
  } finally {
    await cleanUp(demo, family, dir);
  }
});

Deno.test("demo: a terminal's Ctrl-C (the whole process group, forwarded again by `deno task`) stops each program once; the demo waits for them and exits 0", async () => {
  const closed = freePort();
  const dir = await Deno.makeTempDir({ prefix: "eth_demo_" });
  // setsid: `deno task demo` in a process group of its own, signalled as a
  // whole as a terminal's Ctrl-C does; the task runner forwards it to the
  // demo again.
  const demo = new Child("setsid", [
    Deno.execPath(),
    "task",
    "demo",
    "--sqlite-path",
    `${dir}/eth.sqlite`,
  ], {
    ETH_RPC_URL: "",
    ETH_DEMO_PUBLIC_RPC: `http://127.0.0.1:${closed}`,
  });
  let family: number[] = [];
  try {
    await demo.waitForLine(/^DATA - 127\.0\.0\.1:\d+ - <!doctype html>/, {
      timeoutMs: 40_000,
    });
    family = descendants(demo.pid);
    Deno.kill(-demo.pid, "SIGINT");
    const status = await demo.exited();
    const log = demo.stderr.join("\n");
    // The forwarded copy is not a second Ctrl-C: the demo waited for its
    // programs (the server's last line is in its output) and exits 0.
    assert.equal(status.code, 0, log);
    assert.match(log, /server: Stopped$/m);
    assert.doesNotMatch(log, /a program exited/);
    for (const program of ["server", "stats", "client", "devnet"]) {
      const stopping = demo.stderr.filter((l) =>
        l.includes(`INFO ${program}: Stopping`)
      );
      assert.equal(stopping.length, 1, `${program}:\n${log}`);
    }
    // Each program had the Ctrl-C itself. The demo signals those still
    // running SECOND_SIGNAL_MS later, so a program may see a second
    // signal only if it took that long to stop.
    const at = (line: string) => Date.parse(line.split(" ")[0]);
    const first = Math.min(
      ...demo.stderr.filter((l) => / Stopping$/.test(l)).map(at),
    );
    for (const again of demo.stderr.filter((l) => /again/.test(l))) {
      assert.ok(at(again) - first >= SECOND_SIGNAL_MS, `${again}\n${log}`);
    }
    await noneLeft(family);
  } finally {
    await cleanUp(demo, family, dir);
  }
});
