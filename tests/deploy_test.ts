/**
 * Deployment artifacts, checked without Docker or AWS: the JSON files have
 * the fields their services require, every command, flag and environment
 * variable they name is accepted by the programs' own option parsers, no
 * file holds a secret, the compose fleet hangs together, and
 * `deno task compile` builds what it should or fails saying why.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  CLIENT_OPTIONS,
  parseClientConfig,
  parseServerConfig,
  parseStatsConfig,
  type ProgramName,
  reads,
  SERVER_OPTIONS,
  STATS_OPTIONS,
} from "./deploy/_programs.ts";
import {
  clientEnvironment,
  SERVER_SECRETS,
  serverEnvironment,
  STATS_SECRETS,
  statsEnvironment,
  STORE_FLUSH_TIMEOUT,
} from "../deploy/environments.ts";
import {
  CompileError,
  explainFailure,
  parseCompileArgs,
  permissionFlags,
  PROGRAMS,
  ROOT,
} from "../scripts/compile.ts";
import { freePort } from "./_helpers/net.ts";

type Env = Record<string, string>;
type Json = Record<string, unknown>;

const read = (path: string) => Deno.readTextFileSync(join(ROOT, path));
const readJson = (path: string) => JSON.parse(read(path)) as Json;

const PROGRAM = {
  client: { parse: parseClientConfig, options: Object.values(CLIENT_OPTIONS) },
  server: { parse: parseServerConfig, options: Object.values(SERVER_OPTIONS) },
  stats: { parse: parseStatsConfig, options: Object.values(STATS_OPTIONS) },
} as const;

/**
 * Asserts every variable of `env` is one `program` reads (or one `extra`
 * allows), and returns `env`.
 */
function acceptedEnv(
  program: ProgramName,
  env: Env,
  where: string,
  extra: (name: string) => boolean = () => false,
): Env {
  for (const name of Object.keys(env)) {
    if (extra(name)) continue;
    assert.ok(
      reads(program, name),
      `${where}: ${program} does not read ${name}`,
    );
  }
  return env;
}

/** Runs the program's own parser; a ConfigError fails the test with context. */
function parseConfig(
  program: ProgramName,
  args: string[],
  env: Env,
  where: string,
) {
  try {
    return PROGRAM[program].parse(args, env);
  } catch (error) {
    throw new Error(`${where}: ${program} refuses its configuration`, {
      cause: error,
    });
  }
}

/** The HTTP port the program serves /livez on, or undefined. */
function livezPort(
  program: ProgramName,
  config: ReturnType<typeof parseConfig>,
): number | undefined {
  if (program === "stats") return (config as { port: number }).port;
  const port = (config as { metricsPort?: number }).metricsPort;
  return port && port > 0 ? port : undefined;
}

// Dockerfiles

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages (line continuations and comments as Docker). */
function parseDockerfile(text: string): { args: Env; stages: Stage[] } {
  const lines: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    current += line;
    if (current.trim() !== "") lines.push(current.trim());
    current = "";
  }
  const args: Env = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword, rest = ""] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: keyword.toUpperCase(), args: rest };
    if (instruction.keyword === "FROM") {
      const expanded = rest.replace(
        /\$\{(\w+)\}/g,
        (_, n) => args[n] ?? `\${${n}}`,
      );
      const [image, as, name] = expanded.split(/\s+/);
      assert.ok(as === undefined || /^as$/i.test(as), line);
      stages.push({ image, name, instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(instruction.keyword, "ARG", `before FROM: ${line}`);
      const [name, value = ""] = rest.split("=");
      args[name] = value;
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

/** `KEY=VALUE ...` of ENV (quotes removed), or the legacy `KEY VALUE`. */
function envPairs(args: string): Env {
  if (!/^\w+=/.test(args)) {
    const [key, ...value] = args.split(/\s+/);
    return { [key]: value.join(" ") };
  }
  const out: Env = {};
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  }
  return out;
}

/** Drops leading `--flag=value` options of RUN, COPY and HEALTHCHECK. */
function withoutFlags(args: string): { flags: Env; rest: string } {
  const flags: Env = {};
  let rest = args;
  for (let m; (m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest));) {
    flags[m[1]] = m[2] ?? "";
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** An exec-form (JSON array) argument list. */
function execForm(args: string, where: string): string[] {
  assert.ok(args.startsWith("["), `${where} must use the exec form`);
  return JSON.parse(args) as string[];
}

interface Image {
  file: string;
  program: ProgramName;
  binary: string;
  final: Stage;
  /** ENV of the final stage. */
  env: Env;
  /** CMD of the final stage, the program's default arguments. */
  args: string[];
  healthcheck?: string[];
  exposed: number[];
  lambdaAdapter: boolean;
  /** The entrypoint that runs the binary, if not the binary itself. */
  wrapper?: string;
  stages: Stage[];
  /** ARG defaults before the first FROM. */
  buildArgs: Env;
}

function loadImage(file: string): Image {
  const { args, stages } = parseDockerfile(read(file));
  assert.ok(stages.length >= 2, `${file} is not multi-stage`);
  const final = stages.at(-1)!;
  const entrypoint = all(final, "ENTRYPOINT");
  assert.equal(entrypoint.length, 1, `${file}: one ENTRYPOINT`);
  const entry = execForm(entrypoint[0], file);
  // The stats image starts through its secrets entrypoint, which runs the binary.
  const wrapper = entry[0] === SECRETS_ENTRYPOINT ? entry.shift() : undefined;
  const [binaryPath, ...entryArgs] = entry;
  assert.deepEqual(entryArgs, [], `${file}: flags belong in CMD or ENV`);
  const binary = binaryPath.split("/").at(-1)!;
  const program = PROGRAMS.find((p) => p.binary === binary);
  assert.ok(program, `${file}: ENTRYPOINT ${binaryPath} is no program`);
  const health = all(final, "HEALTHCHECK");
  let healthcheck: string[] | undefined;
  if (health.length > 0) {
    const { rest } = withoutFlags(health.at(-1)!);
    assert.match(rest, /^CMD\s+/, `${file}: HEALTHCHECK CMD ...`);
    healthcheck = execForm(rest.replace(/^CMD\s+/, ""), `${file} HEALTHCHECK`);
  }
  return {
    file,
    program: program.name,
    binary,
    final,
    env: Object.assign({}, ...all(final, "ENV").map(envPairs)),
    args: all(final, "CMD").flatMap((a) => execForm(a, `${file} CMD`)),
    healthcheck,
    exposed: all(final, "EXPOSE").flatMap((a) =>
      a.split(/\s+/).map((p) => Number(p.split("/")[0]))
    ),
    lambdaAdapter: all(final, "COPY").some((c) =>
      / \/opt\/extensions\/\S+$/.test(c)
    ),
    wrapper,
    stages,
    buildArgs: args,
  };
}

/** The stats image's entrypoint (deploy/secrets_to_files.sh). */
const SECRETS_ENTRYPOINT = "/usr/local/bin/secrets-to-files";

const DOCKERFILES: Record<string, ProgramName> = {
  "Dockerfile-client-ecs": "client",
  "Dockerfile-server-beanstalk": "server",
  "Dockerfile-stats": "stats",
};
const IMAGES = Object.keys(DOCKERFILES).map(loadImage);
const imageOf = (program: ProgramName) =>
  IMAGES.find((i) => i.program === program)!;

/** What the program needs at run time besides the image, for image checks. */
const RUNTIME_SAMPLE: Record<ProgramName, Env> = {
  client: { ETH_CLIENT_HOST: "servers.example", ETH_CLIENT_PORT: "8888" },
  server: {},
  stats: {},
};

const lwaVariable = (image: Image) => (name: string) =>
  image.lambdaAdapter && name.startsWith("AWS_LWA_");

const CI_DENO_VERSION = /deno@(\d+\.\d+\.\d+)/.exec(read(".ci/run"))?.[1];

for (const image of IMAGES) {
  const { file, program } = image;

  Deno.test(`${file}: multi-stage from the official Deno image to a slim non-root runtime running the ${program} binary`, () => {
    assert.equal(program, DOCKERFILES[file]);
    const { stages, buildArgs } = image;
    const build = stages.find((s) => s.image.startsWith("denoland/deno:"));
    assert.ok(build?.name, `${file}: no named denoland/deno build stage`);
    assert.match(
      build.image,
      new RegExp(`^denoland/deno:${CI_DENO_VERSION}@sha256:[0-9a-f]{64}$`),
      `${file}: build with the Deno CI uses (${CI_DENO_VERSION}); ARG ${
        JSON.stringify(buildArgs)
      }`,
    );
    const compile = all(build, "RUN").map((r) => withoutFlags(r).rest)
      .map((r) => /^deno task compile\s+(.*)$/.exec(r)).find(Boolean);
    assert.ok(compile, `${file}: the build stage runs deno task compile`);
    const options = parseCompileArgs(compile[1].split(/\s+/));
    assert.deepEqual(options.programs.map((p) => p.name), [program]);

    assert.match(
      image.final.image,
      /^(debian:[\w.-]+-slim|gcr\.io\/distroless\/[\w.-]+)(:[\w.-]+)?@sha256:[0-9a-f]{64}$/,
      `${file}: the runtime image is pinned by digest`,
    );
    const copies = all(image.final, "COPY").map(withoutFlags);
    const binary = copies.find((c) => c.flags.from === build.name);
    assert.ok(binary, `${file}: binary not copied from ${build.name}`);
    const [source, dest] = binary.rest.split(/\s+/);
    assert.equal(relative("/src", source), join("dist", image.binary));
    assert.deepEqual(
      execForm(all(image.final, "ENTRYPOINT")[0], file),
      image.wrapper ? [image.wrapper, dest] : [dest],
    );
    if (image.wrapper) {
      const script = copies.find((c) =>
        c.flags.from === build.name && c.rest.endsWith(` ${image.wrapper}`)
      );
      assert.equal(
        script?.rest.split(/\s+/)[0],
        "/src/deploy/secrets_to_files.sh",
      );
      assert.match(read(".dockerignore"), /^!deploy\/secrets_to_files\.sh$/m);
    }
    assert.equal(all(build, "WORKDIR").at(-1), "/src");

    const user = all(image.final, "USER").at(-1);
    assert.ok(user, `${file}: no USER`);
    assert.ok(!/^(root|0)(:|$)/.test(user), `${file} runs as ${user}`);
  });

  Deno.test(`${file}: configured only by variables ${program} reads, and they parse`, () => {
    const env = acceptedEnv(program, image.env, file, lwaVariable(image));
    const config = parseConfig(
      program,
      image.args,
      { ...RUNTIME_SAMPLE[program], ...env },
      file,
    );
    if (program !== "client") {
      const port = (config as { port: number }).port;
      assert.ok(image.exposed.includes(port), `${file}: EXPOSE ${port}`);
    }
    if (program === "server") {
      assert.equal((config as { port: number }).port, 8888, "as the originals");
    }
    assert.deepEqual(all(image.final, "ARG"), [], `${file}: no run-time ARG`);
  });

  Deno.test({
    name: `${file}: HEALTHCHECK probes /livez on the port ${program} serves it`,
    fn() {
      const config = parseConfig(
        program,
        image.args,
        { ...RUNTIME_SAMPLE[program], ...image.env },
        file,
      );
      const port = livezPort(program, config);
      assert.ok(port, `${file}: ${program} serves no HTTP port`);
      assert.ok(image.healthcheck, `${file}: no HEALTHCHECK`);
      const url = image.healthcheck.find((a) => a.startsWith("http://"));
      assert.equal(url, `http://127.0.0.1:${port}/livez`);
      assert.ok(image.exposed.includes(port), `${file}: EXPOSE ${port}`);
      const tool = image.healthcheck[0];
      const installs = all(image.final, "RUN").some((r) =>
        new RegExp(`apt-get install[^&;]*\\s${tool}(\\s|$)`).test(r)
      );
      assert.ok(installs, `${file}: ${tool} is not installed for HEALTHCHECK`);
    },
  });
}

Deno.test("Dockerfile-stats: the Lambda Web Adapter forwards to the stats port and checks /livez", () => {
  const image = imageOf("stats");
  assert.ok(image.lambdaAdapter, "adapter not in /opt/extensions");
  assert.ok(
    image.final.instructions.some((i) =>
      i.keyword === "COPY" &&
      /--from=\S+ \/lambda-adapter \/opt\/extensions\/lambda-adapter$/.test(
        i.args,
      )
    ),
  );
  const adapterStage = image.stages.find(
    (s) => s.image.startsWith("public.ecr.aws/awsguru/aws-lambda-adapter:"),
  );
  assert.ok(adapterStage, "adapter image not pinned");
  assert.match(adapterStage.image, /:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  const config = parseStatsConfig([], image.env);
  assert.equal(image.env.AWS_LWA_PORT, String(config.port));
  assert.equal(image.env.AWS_LWA_READINESS_CHECK_PATH, "/livez");
});

// Dockerrun.aws.json: the design card (the fleet's servers are defined in
// deploy/servers.ts; tests/deploy/fleet_test.ts checks the two agree)

const SAMPLES: Env = {
  AWS_ACCOUNT_ID: "123456789012",
  AWS_REGION: "eu-west-1",
  IMAGE_TAG: "3f2c1ab",
};

/** Dockerrun.aws.json with its `${NAME}` placeholders filled with samples. */
function dockerrun(): Json {
  const text = read("Dockerrun.aws.json").replace(
    /\$\{([A-Z][A-Z0-9_]*)\}/g,
    (_, name) => {
      assert.ok(name in SAMPLES, `Dockerrun.aws.json: unknown \${${name}}`);
      return SAMPLES[name];
    },
  );
  return JSON.parse(text) as Json;
}

const imageRepo = (uri: string) =>
  /\/([\w-]+):[\w.-]+$/.exec(uri)?.[1] ?? assert.fail(`image ${uri}`);
const programOfRepo = (uri: string) => {
  const program = PROGRAMS.find((p) => p.binary === imageRepo(uri));
  assert.ok(program, `${uri} is not an image of this project`);
  return program.name;
};
const arnOfSecret =
  /^arn:aws:(secretsmanager|ssm):[\w-]+:\d{12}:(secret|parameter)[:/]\S+$/;
const SAMPLE_SECRET = "sample-secret-from-the-store";

type NameValue = { name: string; value?: string; valueFrom?: string };
const toEnv = (list: NameValue[] = []) =>
  Object.fromEntries(list.map((e) => [e.name, e.value ?? ""]));

/** The server's environment from Dockerrun.aws.json plus what a deployment adds. */
function dockerrunServer() {
  const run = dockerrun();
  const [container] = run.containerDefinitions as Json[];
  const env = {
    ...imageOf("server").env,
    ...toEnv(container.environment as NameValue[]),
    ETH_SERVER_MYSQL_HOST: "mysql.sample",
    ETH_SERVER_REDIS_HOST: "redis.sample",
    ETH_SERVER_MYSQL_PASS: SAMPLE_SECRET,
  };
  return { run, container, env };
}

Deno.test("Dockerrun.aws.json: Elastic Beanstalk v2 with one essential eth-server container on 8888", () => {
  const { run, container, env } = dockerrunServer();
  assert.equal(run.AWSEBDockerrunVersion, 2);
  assert.match(run.executionRoleArn as string, /^arn:aws:iam::\d{12}:role\//);
  assert.equal((run.containerDefinitions as Json[]).length, 1);
  assert.equal(typeof container.name, "string");
  assert.equal(container.essential, true);
  assert.ok(
    typeof container.memory === "number" ||
      typeof container.memoryReservation === "number",
    "memory or memoryReservation is required",
  );
  assert.equal(programOfRepo(container.image as string), "server");
  const ports = container.portMappings as Json[];
  for (const p of ports) {
    assert.ok(
      Number.isInteger(p.hostPort) && Number.isInteger(p.containerPort),
    );
  }
  const config = parseServerConfig(
    [],
    acceptedEnv("server", env, "Dockerrun.aws.json"),
  );
  assert.ok(ports.some((p) => p.containerPort === config.port));
  assert.equal(config.port, 8888);
  assert.equal(config.host, "0.0.0.0");
  assert.ok(config.store.mysql && config.store.redis, "MySQL and Redis");
  assert.equal(config.store.mysql.password, SAMPLE_SECRET);
  assert.ok(
    (container.stopTimeout as number) * 1000 > config.storeFlushTimeoutMs,
    "stopTimeout outlasts --store-flush-timeout",
  );
});

Deno.test({
  name:
    "Dockerrun.aws.json: the container health check probes the server's metrics port",
  fn() {
    const { container, env } = dockerrunServer();
    const config = parseServerConfig(
      [],
      acceptedEnv("server", env, "Dockerrun.aws.json"),
    );
    const check = (container.healthCheck as { command: string[] }).command;
    assert.equal(check[0], "CMD");
    assert.equal(check.at(-1), `http://127.0.0.1:${config.metricsPort}/livez`);
    assert.ok(
      (container.portMappings as Json[]).some((p) =>
        p.containerPort === config.metricsPort
      ),
    );
  },
});

Deno.test("deploy/ holds the CDK app, not hand-kept JSON", () => {
  const files = [...Deno.readDirSync(join(ROOT, "deploy"))].map((e) => e.name);
  // Its own Deno project: a config and a lock, so the programs' first run
  // never fetches the CDK.
  const project = ["deno.json", "deno.lock"];
  assert.deepEqual(
    files.filter((f) => !/\.(ts|sh)$/.test(f) && !project.includes(f)),
    [],
  );
  assert.ok(files.includes("app.ts"));
});

const BOTOCORE = `
import json, sys
import botocore.session
from botocore.validate import ParamValidator
session = botocore.session.get_session()
out = []
for item in json.load(sys.stdin):
    shape = session.get_service_model(item["service"]).operation_model(item["operation"]).input_shape
    report = ParamValidator().validate(item["params"], shape)
    out.append(report.generate_report() if report.has_errors() else "")
print(json.dumps(out))
`;
const hasBotocore = (() => {
  try {
    return new Deno.Command("python3", {
      args: ["-c", "import botocore"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: `AWS's own request validation (botocore) accepts Dockerrun.aws.json${
    hasBotocore ? "" : " (ignored: python3 with botocore is not installed)"
  }`,
  ignore: !hasBotocore,
  async fn() {
    const run = dockerrun();
    const requests = [
      {
        // Elastic Beanstalk turns Dockerrun.aws.json v2 into a task definition.
        service: "ecs",
        operation: "RegisterTaskDefinition",
        params: {
          family: "eth-server",
          executionRoleArn: run.executionRoleArn,
          containerDefinitions: run.containerDefinitions,
        },
      },
      {
        // The validator itself must be able to fail.
        service: "route53",
        operation: "ChangeResourceRecordSets",
        params: { ChangeBatch: { Changes: [{ Action: "UPSERT" }] } },
      },
    ];
    const child = new Deno.Command("python3", {
      args: ["-c", BOTOCORE],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(requests)));
    await writer.close();
    const out = await child.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const reports = JSON.parse(
      new TextDecoder().decode(out.stdout),
    ) as string[];
    assert.equal(reports.length, requests.length);
    reports.slice(0, -1).forEach((report, i) =>
      assert.equal(report, "", `${requests[i].operation}: ${report}`)
    );
    assert.match(reports.at(-1)!, /Missing required parameter/);
  },
});

// docker-compose.yml

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  entrypoint?: string[] | string;
  command?: string[] | string;
  environment?: Env | string[];
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  secrets?: (string | { source: string; target?: string })[];
}

const COMPOSE_TEXT = read("docker-compose.yml");
const COMPOSE = parseYaml(COMPOSE_TEXT, { merge: true }) as {
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string; file?: string }>;
};
const SERVICES = COMPOSE.services;

/** Where Compose mounts a service's secret `name`. */
const secretPath = (name: string) => `/run/secrets/${name}`;
/** The secrets a service lists. */
const secretsOf = (s: Service) =>
  (s.secrets ?? []).map((e) => typeof e === "string" ? e : e.source);
/**
 * Each top-level secret's sample value, in a temporary file standing for
 * its mount, so the parsers read `*_FILE` variables as in the container.
 */
const SECRET_SAMPLES = Object.keys(COMPOSE.secrets ?? {}).map((name) => {
  const value = `sample-secret-${name}-${crypto.randomUUID()}`;
  const file = Deno.makeTempFileSync({ prefix: "eth_t_compose_secret_" });
  Deno.writeTextFileSync(file, `${value}\n`);
  return { name, value, file };
});
globalThis.addEventListener("unload", () => {
  for (const s of SECRET_SAMPLES) Deno.removeSync(s.file);
});
const mounted = (value: string) =>
  SECRET_SAMPLES.find((s) => secretPath(s.name) === value)?.file ?? value;

const composeEnv = (s: Service): Env =>
  Array.isArray(s.environment)
    ? Object.fromEntries(s.environment.map((e) => e.split(/=(.*)/s, 2)))
    : Object.fromEntries(
      Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]),
    );
const words = (v: string[] | string | undefined) =>
  v === undefined ? [] : Array.isArray(v) ? v.map(String) : v.split(/\s+/);
const dependsOn = (s: Service) =>
  Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});

/** Compose's `${VAR:?message}`, replaced by a sample for the parsers. */
const interpolate = (value: string) =>
  value.replace(/\$\{(\w+)(:?\?[^}]*)?\}/g, (_, name) => `sample-${name}`);

/** Our services: the program its Dockerfile runs and its effective config. */
const FLEET = Object.entries(SERVICES).flatMap(([name, service]) => {
  if (!service.build) return [];
  const image = IMAGES.find((i) => i.file === service.build!.dockerfile);
  assert.ok(image, `${name}: ${service.build.dockerfile} is not one of ours`);
  const raw = composeEnv(service);
  const env = Object.fromEntries(
    Object.entries({ ...image.env, ...raw }).map((
      [k, v],
    ) => [k, mounted(interpolate(v))]),
  );
  const args = service.command === undefined
    ? image.args
    : words(service.command);
  return [{ name, service, image, program: image.program, raw, env, args }];
});

Deno.test("compose: MySQL 8, Redis 7, anvil, two servers, two clients and stats, all built here", () => {
  const count = (p: ProgramName) => FLEET.filter((f) => f.program === p).length;
  assert.equal(count("server"), 2);
  assert.equal(count("client"), 2);
  assert.equal(count("stats"), 1);
  assert.match(SERVICES.mysql?.image ?? "", /^mysql:8(\.|$)/);
  assert.match(SERVICES.redis?.image ?? "", /^redis:7(\.|-|$)/);
  const anvil = SERVICES.anvil;
  assert.match(anvil?.image ?? "", /^ghcr\.io\/foundry-rs\/foundry:/);
  assert.deepEqual(
    [...words(anvil.entrypoint), ...words(anvil.command)],
    ["anvil", "--host", "0.0.0.0", "--block-time", "2"],
  );
  for (const f of FLEET) {
    assert.equal(f.service.build!.context, ".");
    assert.ok(Deno.statSync(join(ROOT, f.service.build!.dockerfile)).isFile);
  }
});

Deno.test("compose: every variable and command of our services is accepted by its program", () => {
  for (const f of FLEET) {
    const env = acceptedEnv(
      f.program,
      f.env,
      `compose ${f.name}`,
      lwaVariable(f.image),
    );
    parseConfig(f.program, f.args, env, `compose ${f.name}`);
  }
});

Deno.test("compose: services reference each other consistently", () => {
  const names = new Set(Object.keys(SERVICES));
  for (const [name, service] of Object.entries(SERVICES)) {
    for (const dep of dependsOn(service)) {
      assert.ok(names.has(dep), `${name} depends on unknown ${dep}`);
    }
  }
  const needs = (from: string, host: string) => {
    assert.ok(names.has(host), `${from} uses host ${host}, no such service`);
    assert.ok(
      dependsOn(SERVICES[from]).includes(host),
      `${from} uses ${host} without depends_on`,
    );
  };
  const mysqlEnv = composeEnv(SERVICES.mysql);
  // MySQL's image reads its user's password from the mounted secret.
  const shared = SECRET_SAMPLES.find((s) =>
    secretPath(s.name) === mysqlEnv.MYSQL_PASSWORD_FILE
  );
  assert.ok(shared, "MySQL's password must be a mounted Compose secret");
  assert.ok(secretsOf(SERVICES.mysql).includes(shared.name), "mysql");
  const byName = new Map(FLEET.map((f) => [f.name, f]));
  for (const f of FLEET) {
    const env = acceptedEnv(f.program, f.env, f.name, lwaVariable(f.image));
    if (f.program === "client") {
      const config = parseClientConfig(f.args, env);
      for (const server of config.servers) {
        needs(f.name, server.host);
        const target = byName.get(server.host);
        assert.equal(target?.program, "server", `${server.host} is no server`);
        const listening = parseServerConfig(target.args, target.env);
        assert.equal(
          server.port,
          listening.port,
          `${f.name} -> ${server.host}`,
        );
      }
      for (const url of config.rpcUrls) {
        const u = new URL(url);
        needs(f.name, u.hostname);
        assert.equal(u.hostname, "anvil");
        assert.equal(u.port, "8545", "anvil's default port");
      }
      continue;
    }
    const config =
      (f.program === "server" ? parseServerConfig : parseStatsConfig)(
        f.args,
        env,
      );
    const { mysql, redis } = config.store;
    assert.ok(mysql && redis, `${f.name} uses MySQL and Redis`);
    needs(f.name, mysql.host);
    needs(f.name, redis.host);
    assert.match(SERVICES[mysql.host].image ?? "", /^mysql:/);
    assert.match(SERVICES[redis.host].image ?? "", /^redis:/);
    assert.equal(mysql.port, 3306);
    assert.equal(redis.port, 6379);
    assert.equal(mysql.database, mysqlEnv.MYSQL_DATABASE);
    assert.equal(mysql.user, mysqlEnv.MYSQL_USER);
    // The same secret, mounted in this service, read through *_FILE.
    assert.equal(mysql.password, shared.value, f.name);
    assert.ok(secretsOf(f.service).includes(shared.name), f.name);
  }
  const published = Object.values(SERVICES).flatMap((s) =>
    (s.ports ?? []).map((p) => p.split(":").at(-2))
  );
  assert.equal(new Set(published).size, published.length, "host ports clash");
});

Deno.test("compose: secrets are files both Docker Compose and podman-compose read, interpolations are required variables or a secret's default path, and the secret stays out of git and images", () => {
  const uses = [...COMPOSE_TEXT.matchAll(/\$\{[^}]*\}/g)].map((m) => m[0]);
  const fileDefault = /^\$\{([A-Z][A-Z0-9_]*_FILE):-\.\/\.state\/[\w.]+\}$/;
  for (const use of uses) {
    assert.match(use, /^\$\{\w+:\?[^}]+\}$|^\$\{\w+_FILE:-[^}]+\}$/);
  }
  assert.ok(SECRET_SAMPLES.length > 0, "no Compose secrets");
  for (const [name, source] of Object.entries(COMPOSE.secrets ?? {})) {
    // podman-compose 1.0.3 cannot read an `environment:` source.
    assert.equal(source.environment, undefined, name);
    assert.match(source.file ?? "", fileDefault, name);
    const path = fileDefault.exec(source.file!)![0].split(":-")[1].slice(0, -1);
    // The header says how to make the file.
    assert.ok(COMPOSE_TEXT.includes(`> ${path.slice(2)}`), `${name}: ${path}`);
  }
  assert.match(read(".gitignore"), /^\.state\/$/m);
  assert.match(read(".dockerignore"), /^\.state\/$/m);
});

Deno.test("compose: images pinned by digest, servers outlast their flush timeout, clients wait for healthy servers", () => {
  for (const [name, service] of Object.entries(SERVICES)) {
    if (service.build) continue;
    assert.match(service.image ?? "", /@sha256:[0-9a-f]{64}$/, name);
  }
  const seconds = (v: string | undefined) => {
    const m = /^(\d+)s$/.exec(v ?? "");
    return m ? Number(m[1]) : 10; // Docker's default
  };
  for (const f of FLEET) {
    if (f.program !== "server") continue;
    const config = parseServerConfig(
      f.args,
      acceptedEnv("server", f.env, f.name),
    );
    assert.ok(
      seconds(f.service.stop_grace_period) * 1000 > config.storeFlushTimeoutMs,
      `${f.name}: stop_grace_period must outlast --store-flush-timeout`,
    );
    assert.equal(config.storeFlushTimeoutMs, STORE_FLUSH_TIMEOUT * 1000);
  }
  for (const f of FLEET) {
    if (f.program !== "client") continue;
    const deps = f.service.depends_on as Record<string, { condition: string }>;
    for (const [dep, { condition }] of Object.entries(deps)) {
      const target = FLEET.find((g) => g.name === dep);
      if (target?.program === "server") {
        assert.equal(condition, "service_healthy", `${f.name} -> ${dep}`);
        assert.ok(target.image.healthcheck, `${dep} has a HEALTHCHECK`);
      }
    }
  }
});

// Secrets

const SECRET_NAME =
  /PASS(WORD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL/i;
const FLAG_VALUE = /^(yes|no|true|false|0|1)$/i;
/** `<VAR>_FILE` naming a mounted file: where the secret is, not the secret. */
const isSecretFile = (name: string, value: string) =>
  /_FILE$/.test(name) && /^\/[\w./-]+$/.test(value);

/** Problems found in the text of one deployment file. */
function findSecrets(file: string, text: string): string[] {
  const found: string[] = [];
  const rules: [RegExp, string][] = [
    [/AKIA[0-9A-Z]{16}/, "an AWS access key id"],
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
    [/\b[a-z][\w+.-]*:\/\/[^\s:@/"'`]*:[^\s@/"'`$]+@/i, "credentials in a URL"],
    [/\beth_password\b/, "the originals' default MySQL password"],
    [/--mysql-pass(=|\s+)["']?[^\s"'$]/, "a literal --mysql-pass"],
    [/infura\.io\/v3\/[0-9a-f]{32}/i, "an Infura key"],
    [/alchemy\.com\/v2\/[\w-]{20,}/i, "an Alchemy key"],
    // A *_FILE variable's default is where the secret is, not the secret.
    [
      /\$\{\w*(PASS|SECRET|TOKEN|KEY)\w*(?<!_FILE):?-[^}]+\}/i,
      "a default for a secret",
    ],
  ];
  for (const [pattern, why] of rules) {
    const m = pattern.exec(text);
    if (m) found.push(`${file}: ${why}: ${m[0]}`);
  }
  const assignment =
    /(?<!\$\{)\b([A-Z][A-Z0-9_]*)\s*[=:]\s*["']?([^\s"'$,}][^\s"',}]*)/g;
  for (const [, name, value] of text.matchAll(assignment)) {
    if (
      SECRET_NAME.test(name) && !FLAG_VALUE.test(value) &&
      !isSecretFile(name, value)
    ) {
      found.push(`${file}: ${name} is set to a literal`);
    }
  }
  return found;
}

/** Problems found in a parsed JSON/YAML document: secret-named literals. */
function findSecretValues(file: string, doc: unknown): string[] {
  const found: string[] = [];
  const isReference = (v: string) =>
    v === "" || v.startsWith("${") || arnOfSecret.test(v) ||
    FLAG_VALUE.test(v);
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== "object") return;
    const obj = node as Record<string, unknown>;
    if (
      typeof obj.name === "string" && SECRET_NAME.test(obj.name) &&
      "value" in obj
    ) {
      found.push(`${file}: ${obj.name} has a value; use secrets/valueFrom`);
    }
    for (const [key, value] of Object.entries(obj)) {
      if (
        SECRET_NAME.test(key) && typeof value === "string" &&
        !isReference(value) && !isSecretFile(key, value) &&
        key !== "MYSQL_RANDOM_ROOT_PASSWORD"
      ) {
        found.push(`${file}: ${key} is set to a literal`);
      }
      walk(value);
    }
  };
  walk(doc);
  return found;
}

function deploymentFiles(): string[] {
  const files = [
    ...Object.keys(DOCKERFILES),
    "docker-compose.yml",
    "Dockerrun.aws.json",
    ".dockerignore",
    "docs/deploy.md",
  ];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      // The app's TypeScript is checked on what it synthesizes
      // (tests/deploy/fleet_test.ts).
      else if (!path.endsWith(".ts")) files.push(path);
    }
  };
  walk("deploy");
  return files;
}

Deno.test("the secret scanner flags secrets and passes references", () => {
  const bad = [
    "ENV ETH_SERVER_MYSQL_PASS=hunter2",
    "MYSQL_PASSWORD: s3cret",
    "key AKIAIOSFODNN7EXAMPLE",
    "mysql://eth_user:hunter2@db:3306/eth",
    "ETH_STATS_MYSQL_PASS: ${MYSQL_PASSWORD:-hunter2}",
    "server --mysql-pass hunter2",
    "https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef",
    "MYSQL_PASS=eth_password",
    "MYSQL_PASSWORD_FILE: hunter2",
  ];
  for (const text of bad) {
    assert.ok(findSecrets("sample", text).length > 0, text);
  }
  const good = [
    "ETH_SERVER_MYSQL_PASS: ${MYSQL_PASSWORD:?set it}",
    'echo "MYSQL_PASSWORD=$(openssl rand -hex 16)" > .env',
    "MYSQL_RANDOM_ROOT_PASSWORD: yes",
    '--mysql-pass "$MYSQL_PASS"',
    "ETH_SERVER_MYSQL_PASS: ${MYSQL_SECRET_ARN}",
    "ETH_SERVER_MYSQL_PASS_FILE: /run/secrets/mysql_password",
    "file: ${MYSQL_PASSWORD_FILE:-./.state/mysql_password}",
  ];
  for (const text of good) {
    assert.deepEqual(findSecrets("sample", text), [], text);
  }
  assert.equal(
    findSecretValues("sample", {
      environment: [{ name: "ETH_SERVER_MYSQL_PASS", value: "x" }],
    }).length,
    1,
  );
  assert.equal(
    findSecretValues("sample", { Variables: { ETH_STATS_MYSQL_PASS: "x" } })
      .length,
    1,
  );
  assert.deepEqual(
    findSecretValues("sample", {
      secrets: [{
        name: "ETH_SERVER_MYSQL_PASS",
        valueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
      }],
    }),
    [],
  );
});

Deno.test("no deployment file holds a secret literal", () => {
  const files = deploymentFiles();
  assert.ok(files.includes("deploy/secrets_to_files.sh"));
  const found = files.flatMap((file) => {
    const text = read(file);
    const problems = findSecrets(file, text);
    if (file.endsWith(".json")) {
      problems.push(...findSecretValues(file, JSON.parse(text)));
    } else if (/\.(ya?ml|config)$/.test(file)) {
      problems.push(
        ...findSecretValues(file, parseYaml(text, { merge: true })),
      );
    }
    return problems;
  });
  for (const image of IMAGES) {
    found.push(...findSecretValues(image.file, image.env));
  }
  assert.deepEqual(found, []);
});

/** The variables that carry a secret's value in `program` (not `*_FILE`). */
const secretVariables = (program: ProgramName) =>
  new Set(
    PROGRAM[program].options.filter((o) => o.secret).flatMap((o) =>
      o.env ?? []
    ),
  );

Deno.test("no program is handed a secret as a plain value where a file or a reference can carry it", () => {
  const stores = { mysqlHost: "mysql.sample", redisHost: "redis.sample" };
  const plain: [string, ProgramName, Env][] = [
    ...FLEET.map((f): [string, ProgramName, Env] => [
      `compose ${f.name}`,
      f.program,
      f.raw,
    ]),
    ...IMAGES.map((i): [string, ProgramName, Env] => [
      i.file,
      i.program,
      i.env,
    ]),
    [
      "Dockerrun.aws.json",
      "server",
      toEnv(dockerrunServer().container.environment as NameValue[]),
    ],
    [
      "deploy/environments.ts client",
      "client",
      clientEnvironment({
        host: "h",
        port: 1,
      }),
    ],
    ["deploy/environments.ts server", "server", serverEnvironment(stores)],
    ["deploy/environments.ts stats", "stats", statsEnvironment(stores)],
  ];
  const found: string[] = [];
  for (const [where, program, env] of plain) {
    const secret = secretVariables(program);
    assert.ok(secret.size > 0 || program === "client", program);
    for (const name of Object.keys(env)) {
      if (secret.has(name)) found.push(`${where}: ${name} is a plain value`);
    }
  }
  // The MySQL image too reads its password from the mounted file.
  const mysqlEnv = composeEnv(SERVICES.mysql);
  assert.ok(!("MYSQL_PASSWORD" in mysqlEnv), "compose mysql: MYSQL_PASSWORD");
  assert.ok(!("MYSQL_ROOT_PASSWORD" in mysqlEnv), "compose mysql: root");
  assert.deepEqual(found, []);
  // What the platforms inject is a reference, never a value in the template.
  for (const name of Object.keys({ ...SERVER_SECRETS, ...STATS_SECRETS })) {
    assert.ok(
      secretVariables(name.startsWith("ETH_SERVER_") ? "server" : "stats")
        .has(name),
      `${name} is not a secret option`,
    );
  }
  // The check can fail.
  assert.ok(secretVariables("server").has("ETH_SERVER_MYSQL_PASS"));
  assert.ok(secretVariables("stats").has("MYSQL_PASS"));
});

// deno task compile

const DENO_JSON = readJson("deno.json") as { tasks: Env };

Deno.test("compile: the deno task runs scripts/compile.ts; each program's baked permissions are narrow", () => {
  assert.match(DENO_JSON.tasks.compile, /scripts\/compile\.ts$/);
  for (const program of PROGRAMS) {
    const task = DENO_JSON.tasks[program.name];
    assert.ok(task.endsWith(` ${program.entry}`), `${program.name} task`);
    const flags = permissionFlags(task);
    assert.ok(flags.includes("--allow-net"), program.name);
    assert.ok(flags.every((f) => /^--(allow|deny)-/.test(f)));
    assert.ok(
      !flags.some((f) => /^--allow-(run|ffi|all)\b/.test(f)),
      flags.join(" "),
    );
  }
  assert.throws(() => permissionFlags("deno run -A server.ts"), CompileError);
  assert.throws(
    () => permissionFlags("deno run --allow-all x.ts"),
    CompileError,
  );
});

Deno.test("compile: arguments choose programs and a target, and typos are clear errors", () => {
  const all = parseCompileArgs([]);
  assert.deepEqual(all.programs.map((p) => p.binary), [
    "eth-client",
    "eth-server",
    "eth-stats",
  ]);
  assert.equal(all.outDir, join(ROOT, "dist"));
  const one = parseCompileArgs([
    "server",
    "--target",
    "aarch64-unknown-linux-gnu",
    "--out-dir",
    "/tmp/x",
  ]);
  assert.deepEqual(one.programs.map((p) => p.name), ["server"]);
  assert.equal(one.target, "aarch64-unknown-linux-gnu");
  assert.equal(one.outDir, "/tmp/x");
  assert.throws(() => parseCompileArgs(["sever"]), /Unknown program "sever"/);
  assert.throws(
    () => parseCompileArgs(["--target", "arm"]),
    /Unknown --target "arm"/,
  );
  assert.throws(() => parseCompileArgs(["--tagret", "x"]), CompileError);
});

Deno.test("compile: deno's download and DENORT_BIN errors become one line naming the cause", () => {
  const dns = [
    "error: Writing deno compile executable to temporary file 'dist/eth-client.tmp-1'",
    "",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known",
    "    2: client error (Connect)",
    "    3: dns error",
    "    4: failed to lookup address information: Name or service not known",
    "",
    "Stack backtrace:",
    "   0: <unknown>",
  ].join("\n");
  const line = explainFailure(dns, { version: "2.9.6" })!;
  assert.ok(!line.includes("\n"));
  assert.match(line, /denort-x86_64-unknown-linux-gnu from dl\.deno\.land/);
  assert.match(
    line,
    /\(failed to lookup address information: Name or service not known\)/,
  );
  assert.match(line, /no network access/);
  assert.match(line, /DENORT_BIN .* Deno 2\.9\.6/);
  const missing = explainFailure(
    "error: Writing ...\n\nCaused by:\n    0: Could not find denort at '/opt/denort'\n",
  )!;
  assert.match(missing, /^DENORT_BIN is \/opt\/denort, which does not exist/);
  assert.equal(explainFailure("error: Type checking failed"), undefined);
});

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("compile: where Deno's runtime cannot be downloaded, the task fails with one clear line", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "eth_t_compile_" });
  try {
    // A proxy nobody listens on makes the download fail here and on a
    // machine with network access alike, quickly.
    const proxy = `http://127.0.0.1:${freePort()}`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile", "client", "--out-dir", outDir],
      cwd: ROOT,
      env: {
        NO_COLOR: "1",
        HTTPS_PROXY: proxy,
        https_proxy: proxy,
        NO_PROXY: "",
        no_proxy: "",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stderr = decode(out.stderr).trim().split("\n");
    assert.equal(out.code, 1, stderr.join("\n"));
    const last = stderr.at(-1)!;
    assert.match(
      last,
      /^compile: Cannot download Deno's compile runtime denort-[\w-]+ from dl\.deno\.land \(.+\): no network access to it here\. Set DENORT_BIN to a local denort binary of Deno \d+\.\d+\.\d+/,
    );
    assert.equal(decode(out.stdout), "");
    assert.deepEqual([...Deno.readDirSync(outDir)], [], "nothing left behind");
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

/** npm packages only tests use; a binary must not embed them. */
const TEST_ONLY = ["@foundry-rs", "fast-check", "playwright-core", "yaml"];

Deno.test("compile: with a stand-in runtime, each binary embeds its modules, the templates and no test-only package", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "eth_t_compile_" });
  try {
    // deno itself as DENORT_BIN: the result does not run as the program,
    // but deno compile does everything else for real and lists the files it
    // embedded.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile", "--out-dir", outDir, "--verbose"],
      cwd: ROOT,
      env: { NO_COLOR: "1", DENORT_BIN: Deno.execPath() },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(300_000),
    }).output();
    const stderr = decode(out.stderr);
    assert.ok(out.success, stderr);
    const listings = stderr.split(/^Embedded Files$/m).slice(1);
    assert.equal(listings.length, PROGRAMS.length);
    for (const [i, program] of PROGRAMS.entries()) {
      const listing = listings[i].split(/^Files:/m)[0];
      const lines = listing.trim().split("\n");
      assert.equal(lines[0].trim(), program.binary);
      assert.match(
        listing,
        /── templates\/\* /,
        `${program.binary}: templates`,
      );
      assert.match(listing, /─┬ lib /, `${program.binary}: lib`);
      assert.match(listing, new RegExp(`── ${program.entry} `));
      for (const name of TEST_ONLY) {
        assert.ok(!listing.includes(name), `${program.binary} embeds ${name}`);
      }
      assert.ok(Deno.statSync(join(outDir, program.binary)).isFile);
    }
    const printed = decode(out.stdout).trim().split("\n");
    assert.deepEqual(
      printed.map((l) => l.split(" ")[1]),
      PROGRAMS.map((p) => join(outDir, p.binary)),
    );
    assert.deepEqual(
      [...Deno.readDirSync(outDir)].map((e) => e.name).sort(),
      PROGRAMS.map((p) => p.binary).sort(),
      "no pruned lock left behind",
    );
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
