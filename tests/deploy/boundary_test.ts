/**
 * The CDK app stays out of the programs: nothing under lib/ imports
 * aws-cdk-lib, constructs or cdk-nag, and the module graph of each program
 * `deno task compile` builds reaches none of them, so no binary embeds them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Lockfile,
  PROGRAMS,
  pruneLock,
  ROOT,
} from "../../scripts/compile.ts";

const CDK_PACKAGES = ["aws-cdk-lib", "constructs", "cdk-nag", "aws-cdk"];
const IMPORT = new RegExp(
  `(from|import\\()\\s*["'](npm:)?(${
    CDK_PACKAGES.join("|")
  })(@[^/"']*)?(/[^"']*)?["']`,
);

Deno.test("nothing under lib/ or in the programs imports the CDK", () => {
  const files: string[] = PROGRAMS.map((p) => p.entry);
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(join(ROOT, dir))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (/\.[cm]?[jt]sx?$/.test(e.name)) files.push(path);
    }
  };
  walk("lib");
  assert.ok(files.length > 10);
  for (const file of files) {
    const text = Deno.readTextFileSync(join(ROOT, file));
    assert.doesNotMatch(text, IMPORT, `${file} imports the CDK`);
  }
  assert.match('import { App } from "aws-cdk-lib";', IMPORT);
  assert.match('import * as s3 from "aws-cdk-lib/aws-s3";', IMPORT);
});

Deno.test("no program's module graph reaches the CDK, so no binary embeds it", async () => {
  for (const program of PROGRAMS) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", program.entry],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: { specifier: string; npmPackage?: string }[];
    };
    assert.ok(graph.modules.length > 10, program.entry);
    const roots = graph.modules.flatMap((m) =>
      m.npmPackage ? [m.npmPackage] : []
    );
    // What deno task compile embeds: the lock pruned to these roots.
    const lock = JSON.parse(
      Deno.readTextFileSync(join(ROOT, "deno.lock")),
    ) as Lockfile;
    const embedded = Object.keys(pruneLock(lock, roots).npm ?? {});
    assert.ok(
      Object.keys(lock.npm ?? {}).some((id) => id.startsWith("aws-cdk-lib@")),
      "the lock holds the CDK (for deploy/)",
    );
    const reached = [...graph.modules.map((m) => m.specifier), ...embedded];
    for (const name of CDK_PACKAGES) {
      assert.ok(
        !reached.some((r) =>
          r.startsWith(`${name}@`) || r.includes(`npm:${name}`)
        ),
        `${program.entry} reaches ${name}`,
      );
    }
    assert.ok(
      !reached.some((r) => r.includes("/deploy/")),
      `${program.entry} reaches deploy/`,
    );
  }
});
