/**
 * `deno task synth` as a fresh clone runs it: no AWS credentials, account
 * or region in the environment, no network to AWS. It writes the three
 * templates and passes cdk-nag.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../../scripts/compile.ts";

Deno.test("deno task synth works without AWS credentials", async () => {
  const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"];
  const env = Object.fromEntries(
    keep.flatMap((k) => {
      const v = Deno.env.get(k);
      return v === undefined ? [] : [[k, v]];
    }),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "synth"],
    cwd: ROOT,
    clearEnv: true,
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, stderr);
  const printed = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.deepEqual(printed.map((l) => l.split(":")[0]).sort(), [
    "EthEdge",
    "EthFleet",
    "EthImages",
  ]);
  for (const line of printed) {
    const path = join(ROOT, line.split(": ")[1]);
    const template = JSON.parse(await Deno.readTextFile(path));
    assert.ok(Object.keys(template.Resources).length > 0, path);
  }
  assert.doesNotMatch(stderr, /cdk-nag errors/);
});
