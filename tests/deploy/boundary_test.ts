/**
 * The CDK app stays out of the programs: nothing under lib/ imports
 * aws-cdk-lib, constructs or cdk-nag, and the module graph of each program
 * `deno task compile` builds reaches none of them. (What a binary embeds
 * is the programs' lock, which tests/import_maps_test.ts keeps free of them.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROGRAMS, ROOT } from "../../scripts/compile.ts";

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

Deno.test("no program's module graph reaches the CDK", async () => {
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
    const reached = graph.modules.flatMap((m) =>
      m.npmPackage ? [m.specifier, m.npmPackage] : [m.specifier]
    );
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
