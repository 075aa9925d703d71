/**
 * The three Deno projects (the programs at the root, the CDK app in
 * deploy/, the tests in tests/) each have their own import map and lock so
 * that a program's first run fetches only what programs run. The tests'
 * map repeats the other two; this keeps the copies in step, and keeps the
 * programs' lock free of the CDK and of test-only packages.
 */
import assert from "node:assert/strict";

type Config = { imports: Record<string, string> };
type Lock = {
  npm?: Record<string, unknown>;
  specifiers?: Record<string, string>;
};

const readJson = <T>(path: string): T =>
  JSON.parse(Deno.readTextFileSync(new URL(`../${path}`, import.meta.url)));

const programs = readJson<Config>("deno.json").imports;
const deploy = readJson<Config>("deploy/deno.json").imports;
const tests = readJson<Config>("tests/deno.json").imports;

/** What only the tests import. */
const TEST_ONLY = ["fast-check", "playwright-core", "yaml"];
/** The CDK app's packages. */
const CDK = ["aws-cdk-lib", "constructs", "cdk-nag", "aws-cdk"];

Deno.test("the tests' import map maps each program and CDK import as its own project does", () => {
  for (
    const [name, target] of [
      ...Object.entries(programs),
      ...Object.entries(deploy),
    ]
  ) {
    assert.equal(tests[name], target, `tests/deno.json: ${name}`);
  }
  for (const name of Object.keys(tests)) {
    assert.ok(
      name in programs || name in deploy || TEST_ONLY.includes(name),
      `tests/deno.json maps ${name}, which no project and no test-only list names`,
    );
  }
  assert.deepEqual(
    Object.keys(programs).filter((name) => name in deploy),
    [],
    "the programs and the CDK app share no import",
  );
});

Deno.test("the programs' import map and lock hold no CDK or test-only package", () => {
  const lock = readJson<Lock>("deno.lock");
  const ids = [
    ...Object.keys(programs),
    ...Object.values(programs),
    ...Object.keys(lock.specifiers ?? {}),
    ...Object.keys(lock.npm ?? {}),
  ];
  assert.ok(ids.some((id) => id.startsWith("eta@")), "the lock holds eta");
  for (const name of [...CDK, ...TEST_ONLY]) {
    assert.ok(
      !ids.some((id) => new RegExp(`^(npm:/?)?${name}(@|/|$)`).test(id)),
      `the programs' deno.json or deno.lock holds ${name}`,
    );
  }
});
