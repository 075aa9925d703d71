/**
 * The templates under AWS's own linter: `cfn-lint -t <templates>` with its
 * defaults finds no error and no warning in what `deno task synth` writes,
 * at the default settings and with every setting at its minimum and at its
 * maximum (and each choice: multiAz both ways, zone created or given,
 * account-agnostic or not, tag or digest). A setting CloudFormation would
 * reject fails synth in one line naming it; each rule is checked here too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../../scripts/compile.ts";
import { CFN_LINT_METADATA } from "../../deploy/cfn_lint.ts";
import {
  FARGATE_MEMORY,
  LOG_RETENTION_DAYS,
  settingsFromContext,
} from "../../deploy/settings.ts";

/** Context of the two synth runs at the settings' extremes. */
const MINIMUM: Record<string, string> = {
  clientCount: "0",
  clientCpu: "256",
  clientMemory: "512",
  serverMin: "1",
  serverMax: "1",
  serverWeight: "0",
  logRetentionDays: String(LOG_RETENTION_DAYS[0]),
  statsMemory: "128",
  multiAz: "false",
  // The fleet in the edge's region: the stacks' references stay in one.
  region: "us-east-1",
};
const MAXIMUM: Record<string, string> = {
  clientCount: "100",
  clientCpu: "4096",
  clientMemory: String(FARGATE_MEMORY[4096].at(-1)),
  serverMin: "100",
  serverMax: "100",
  serverWeight: "255",
  logRetentionDays: String(LOG_RETENTION_DAYS.at(-1)),
  statsMemory: "10240",
  multiAz: "true",
  account: "123456789012",
  hostedZoneId: "Z0123456789ABC",
  imageTag: `sha256:${"a".repeat(64)}`,
  clientImageTag: "v1.1.0",
  extraServerFleets: JSON.stringify([
    { id: "go", dnsName: "go-nlb.example", weight: 255 },
    { id: "python", dnsName: "py-nlb.example", weight: 0 },
  ]),
};

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Whether cfn-lint runs; the tests below fail saying how to install it. */
const CFN_LINT = await new Deno.Command("cfn-lint", {
  args: ["--version"],
  stdout: "piped",
  stderr: "piped",
}).output().then(
  (out) => out.success ? decode(out.stdout).trim() : undefined,
  () => undefined,
);
const NEED_CFN_LINT =
  "cfn-lint is not installed (or does not run): pip install cfn-lint";

interface Synth {
  code: number;
  stderr: string;
  templates: string[];
}

/** `deno task synth -c ...` into a temp dir, as a fresh clone runs it. */
async function synth(context: Record<string, string>): Promise<Synth> {
  const outdir = await Deno.makeTempDir({ prefix: "eth_t_cfn_lint_" });
  addEventListener(
    "unload",
    () => Deno.removeSync(outdir, { recursive: true }),
  );
  const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"];
  const env = Object.fromEntries(keep.flatMap((k) => {
    const v = Deno.env.get(k);
    return v === undefined ? [] : [[k, v]];
  }));
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "synth",
      ...Object.entries(context).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    ],
    cwd: ROOT,
    clearEnv: true,
    env: { ...env, NO_COLOR: "1", CDK_OUTDIR: outdir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const templates = decode(out.stdout).trim().split("\n").filter(Boolean)
    .map((line) => line.split(": ")[1]);
  return { code: out.code, stderr: decode(out.stderr), templates };
}

/** cfn-lint's findings (errors and warnings at its defaults) on `run`. */
async function lint(run: Synth): Promise<string> {
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.templates.length, 3, run.stderr);
  const out = await new Deno.Command("cfn-lint", {
    args: ["-t", ...run.templates],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const findings = (decode(out.stdout) + decode(out.stderr)).trim();
  // Exit 0: nothing at cfn-lint's default level (errors and warnings).
  return out.code === 0 ? findings : `exit ${out.code}\n${findings}`;
}

// Synth (several seconds each) runs once per setting, all at once.
const RUNS = CFN_LINT === undefined ? undefined : {
  defaults: synth({}),
  minimum: synth(MINIMUM),
  maximum: synth(MAXIMUM),
  badRetention: synth({ logRetentionDays: "10" }),
};
const LINTS = RUNS && {
  defaults: RUNS.defaults.then(lint),
  minimum: RUNS.minimum.then(lint),
  maximum: RUNS.maximum.then(lint),
};
// Each test awaits its own; none may reject unobserved before that.
for (const p of [...Object.values(RUNS ?? {}), ...Object.values(LINTS ?? {})]) {
  (p as Promise<unknown>).catch(() => {});
}

for (const which of ["defaults", "minimum", "maximum"] as const) {
  Deno.test(`cfn-lint (${CFN_LINT ?? "missing"}): no error or warning with the settings at their ${which}`, async () => {
    assert.ok(LINTS, NEED_CFN_LINT);
    assert.equal(await LINTS[which], "");
  });
}

Deno.test("cfn-lint: every finding accepted is on its resource, with its reason", async () => {
  assert.ok(RUNS, NEED_CFN_LINT);
  let accepted = 0;
  for (const path of (await RUNS.defaults).templates) {
    const template = JSON.parse(await Deno.readTextFile(path));
    assert.equal(template.Metadata?.[CFN_LINT_METADATA], undefined, path);
    for (const [id, r] of Object.entries(template.Resources)) {
      const meta = (r as { Metadata?: Record<string, unknown> }).Metadata
        ?.[CFN_LINT_METADATA] as {
          config: { ignore_checks: string[] };
          reasons: Record<string, string>;
        } | undefined;
      if (!meta) continue;
      for (const rule of meta.config.ignore_checks) {
        accepted++;
        assert.match(rule, /^[EWI]\d{4}$/, id);
        assert.ok((meta.reasons[rule] ?? "").length >= 40, `${id} ${rule}`);
      }
    }
  }
  assert.ok(accepted > 0, "the acceptances are in the templates");
});

Deno.test("synth: logRetentionDays=10 fails in one line naming the setting", async () => {
  assert.ok(RUNS, NEED_CFN_LINT);
  const run = await RUNS.badRetention;
  assert.notEqual(run.code, 0);
  assert.deepEqual(run.templates, []);
  // Deno's own progress lines (Task, Download) aside, one line.
  const lines = run.stderr.trim().split("\n").filter((l) =>
    !/^(Task|Download) /.test(l)
  );
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /^synth: Context logRetentionDays must be one of /);
  assert.match(lines[0], /not "10"$/);
});

// Each rule of deploy/settings.ts, at and beyond its limits.

const ctx = (values: Record<string, unknown>) => (k: string) => values[k];
const refused = (values: Record<string, unknown>, key: string) =>
  assert.throws(
    () => settingsFromContext(ctx(values)),
    new RegExp(`^SettingsError: Context ${key.replace(/[[\]]/g, "\\$&")} `),
    JSON.stringify(values),
  );

Deno.test("settings: the extremes used above are accepted", () => {
  for (const values of [MINIMUM, MAXIMUM]) settingsFromContext(ctx(values));
});

Deno.test("settings: logRetentionDays is one of CloudWatch's periods", () => {
  for (const days of LOG_RETENTION_DAYS) {
    assert.equal(
      settingsFromContext(ctx({ logRetentionDays: String(days) }))
        .logRetentionDays,
      days,
    );
  }
  for (const bad of ["0", "2", "10", "31", "3654", "x"]) {
    refused({ logRetentionDays: bad }, "logRetentionDays");
  }
});

Deno.test("settings: client CPU and memory form a pair Fargate offers", () => {
  for (const [cpu, sizes] of Object.entries(FARGATE_MEMORY)) {
    for (const memory of [sizes[0], sizes.at(-1)!]) {
      settingsFromContext(ctx({ clientCpu: cpu, clientMemory: memory }));
    }
    refused({ clientCpu: cpu, clientMemory: sizes[0] - 1 }, "clientMemory");
    refused(
      { clientCpu: cpu, clientMemory: sizes.at(-1)! + 1024 },
      "clientMemory",
    );
  }
  refused({ clientCpu: "256", clientMemory: "1536" }, "clientMemory");
  refused({ clientCpu: "300", clientMemory: "1024" }, "clientCpu");
  refused({ clientCpu: "8192", clientMemory: "16384" }, "clientCpu");
});

Deno.test("settings: integer ranges", () => {
  const ranges: [string, number, number][] = [
    ["clientCount", 0, 100],
    ["serverMin", 1, 100],
    ["serverWeight", 0, 255],
    ["statsMemory", 128, 10240],
  ];
  for (const [key, min, max] of ranges) {
    settingsFromContext(ctx({ [key]: String(min) }));
    settingsFromContext(ctx({ [key]: String(max), serverMax: "100" }));
    refused({ [key]: String(min - 1) }, key);
    refused({ [key]: String(max + 1), serverMax: "100" }, key);
    refused({ [key]: "1.5" }, key);
  }
  refused({ serverMin: "3", serverMax: "2" }, "serverMax");
  refused({ serverMax: "101" }, "serverMax");
});

Deno.test("settings: names, ids and types have the form AWS takes", () => {
  const bad: [string, string][] = [
    ["region", "eu-west"],
    ["region", "EU-WEST-1"],
    ["account", "12345"],
    ["hostedZoneId", "0123"],
    ["domain", "nope"],
    ["domain", "-eth.example.com"],
    ["privateZone", "eth_internal"],
    ["imageTag", "has space"],
    ["imageTag", "sha256:abc"],
    ["serverImageTag", ".dot"],
    ["serverInstanceType", "small"],
    ["dbInstanceType", "db.t4g.micro.x"],
    ["cacheNodeType", "t4g.micro"],
    ["solutionStack", "64bit Amazon Linux 2023 v6.1.0 running Node.js 20"],
    ["rpcUrlParameter", "/eth/rpc url"],
    ["multiAz", "yes"],
  ];
  for (const [key, value] of bad) refused({ [key]: value }, key);
  refused(
    { extraServerFleets: '[{"id":"go","dnsName":"x","weight":1}]' },
    "extraServerFleets[0]",
  );
  refused(
    { extraServerFleets: '[{"id":"go","dnsName":"go.example","weight":256}]' },
    "extraServerFleets[0]",
  );
  refused({ extraServerFleets: '{"id":"go"}' }, "extraServerFleets");
  const ok = settingsFromContext(ctx({
    region: "ap-southeast-2",
    account: "123456789012",
    privateZone: "fleet.internal",
    serverImageTag: `sha256:${"0".repeat(64)}`,
    dbInstanceType: "r6g.large",
    cacheNodeType: "cache.r7g.large",
  }));
  assert.equal(ok.imageTags.server, `sha256:${"0".repeat(64)}`);
});

Deno.test("the test synthesizes in temp dirs, not the checkout's dist/", async () => {
  assert.ok(RUNS, NEED_CFN_LINT);
  for (const path of (await RUNS.defaults).templates) {
    assert.ok(!path.startsWith(join(ROOT, "dist")), path);
  }
});
