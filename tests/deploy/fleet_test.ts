/**
 * The CDK app (deploy/app.ts), synthesized once, offline, and asserted:
 * every part of the fleet is there, no secret value is in any template or
 * asset, MySQL and Redis require TLS, the security groups admit exactly
 * what each part needs, every container's and function's environment is
 * accepted by its program's own parser, and cdk-nag's AwsSolutions checks
 * find no error that is not accepted with a reason.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as s3 from "aws-cdk-lib/aws-s3";
import { buildFleet } from "../../deploy/app.ts";
import {
  CLIENT_METRICS_PORT,
  MYSQL_PORT,
  REDIS_PORT,
  SECRET_ARN_SUFFIX,
  SERVER_METRICS_PORT,
  SERVER_PORT,
  serverEnvironment,
  STOP_GRACE,
  STORE_FLUSH_TIMEOUT,
} from "../../deploy/environments.ts";
import { IMAGE_PROPERTY } from "../../deploy/servers.ts";
import { nagFindings, suppress, suppressions } from "../../deploy/nag.ts";
import {
  DEFAULT_IMAGE_TAG,
  settingsFromContext,
} from "../../deploy/settings.ts";
import {
  parseClientConfig,
  parseServerConfig,
  parseStatsConfig,
  PROGRAM,
  type ProgramName,
  reads,
} from "./_programs.ts";

type Json = Record<string, unknown>;
type Env = Record<string, string>;

const OUTDIR = Deno.makeTempDirSync({ prefix: "eth_t_cdk_" });
const started = performance.now();
const FLEET = buildFleet({ outdir: OUTDIR, env: {} });
const ASSEMBLY = FLEET.app.synth();
const FINDINGS = nagFindings(FLEET.app);
const SYNTH_MS = performance.now() - started;
addEventListener("unload", () => Deno.removeSync(OUTDIR, { recursive: true }));

const templateOf = (name: string) =>
  ASSEMBLY.getStackByName(name).template as {
    Resources: Record<string, { Type: string; Properties?: Json }>;
  };
const TEMPLATES = {
  EthImages: templateOf("EthImages"),
  EthFleet: templateOf("EthFleet"),
  EthEdge: templateOf("EthEdge"),
};
const fleet = Template.fromJSON(TEMPLATES.EthFleet);
const edge = Template.fromJSON(TEMPLATES.EthEdge);
const images = Template.fromJSON(TEMPLATES.EthImages);

const resourcesOf = (template: Template, type: string) =>
  Object.entries(template.findResources(type)) as [
    string,
    { Properties: Json },
  ][];
const only = (template: Template, type: string) => {
  const found = resourcesOf(template, type);
  assert.equal(found.length, 1, `one ${type}`);
  return found[0][1].Properties;
};

/** A sample string for an intrinsic, naming what it points at. */
function sample(value: unknown): string {
  if (typeof value === "string") return value;
  const ref = JSON.stringify(value);
  const id = /"(?:Ref|Fn::GetAtt)":\[?"(\w+)"/.exec(ref)?.[1] ?? "token";
  return `${id.toLowerCase()}.sample`;
}
const logicalId = (value: unknown) =>
  /"(?:Ref|Fn::GetAtt)":\[?"(\w+)"/.exec(JSON.stringify(value))?.[1];

const DB_ID = resourcesOf(fleet, "AWS::RDS::DBInstance")[0][0];
const CACHE_ID = resourcesOf(fleet, "AWS::ElastiCache::ReplicationGroup")[0][0];
const SECRET_IDS = resourcesOf(fleet, "AWS::SecretsManager::Secret").map((
  [id],
) => id);

Deno.test(`synth: three stacks, offline, in ${Math.round(SYNTH_MS)} ms with cdk-nag`, () => {
  assert.deepEqual(
    ASSEMBLY.stacks.map((s) => s.stackName).sort(),
    ["EthEdge", "EthFleet", "EthImages"],
  );
  assert.equal(
    ASSEMBLY.getStackByName("EthEdge").environment.region,
    "us-east-1",
  );
  assert.equal(
    ASSEMBLY.getStackByName("EthFleet").environment.region,
    FLEET.settings.region,
  );
  assert.ok(SYNTH_MS < 120_000, `${SYNTH_MS} ms`);
});

Deno.test("synth: every kind of resource the fleet needs is there", () => {
  const wanted: [Template, string, number][] = [
    [images, "AWS::ECR::Repository", 3],
    [fleet, "AWS::EC2::VPC", 1],
    [fleet, "AWS::EC2::NatGateway", 1],
    [fleet, "AWS::EC2::FlowLog", 1],
    [fleet, "AWS::EC2::VPCEndpoint", 1],
    [fleet, "AWS::RDS::DBInstance", 1],
    [fleet, "AWS::RDS::DBParameterGroup", 1],
    [fleet, "AWS::ElastiCache::ReplicationGroup", 1],
    [fleet, "AWS::SecretsManager::Secret", 2],
    [fleet, "AWS::ECS::Cluster", 1],
    [fleet, "AWS::ECS::TaskDefinition", 1],
    [fleet, "AWS::ECS::Service", 1],
    [fleet, "AWS::ElasticBeanstalk::Application", 1],
    [fleet, "AWS::ElasticBeanstalk::ApplicationVersion", 1],
    [fleet, "AWS::ElasticBeanstalk::Environment", 1],
    [fleet, "AWS::Route53::HostedZone", 1],
    [fleet, "AWS::Route53::RecordSet", 1],
    [fleet, "AWS::ApiGatewayV2::Api", 1],
    [fleet, "AWS::ApiGatewayV2::Stage", 1],
    [edge, "AWS::CloudFront::Distribution", 1],
    [edge, "AWS::CertificateManager::Certificate", 1],
    [edge, "AWS::Route53::RecordSet", 2], // A and AAAA
  ];
  for (const [template, type, count] of wanted) {
    template.resourceCountIs(type, count);
  }
  const statsFunctions = resourcesOf(fleet, "AWS::Lambda::Function").filter((
    [, r],
  ) => r.Properties.PackageType === "Image");
  assert.equal(statsFunctions.length, 1, "the stats image function");
  // Every log group the stack creates expires.
  for (const template of [fleet, edge, images]) {
    for (const [id, r] of resourcesOf(template, "AWS::Logs::LogGroup")) {
      assert.ok(Number(r.Properties.RetentionInDays) > 0, id);
    }
  }
  assert.ok(resourcesOf(fleet, "AWS::Logs::LogGroup").length >= 4);
});

Deno.test("no secret value in any template or asset", () => {
  const texts: [string, string][] = Object.entries(TEMPLATES).map((
    [name, t],
  ) => [name, JSON.stringify(t)]);
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) walk(path);
      else if (e.isFile && Deno.statSync(path).size < 5_000_000) {
        texts.push([path, new TextDecoder().decode(Deno.readFileSync(path))]);
      }
    }
  };
  walk(ASSEMBLY.directory);
  for (const [where, text] of texts) {
    assert.doesNotMatch(text, /AKIA[0-9A-Z]{16}/, where);
    assert.doesNotMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, where);
    assert.doesNotMatch(text, /\beth_password\b/, where);
    assert.doesNotMatch(text, /"(SecretString|GenerateStringKey)":/, where);
  }
  // The only ways a secret reaches a resource: dynamic references that
  // CloudFormation resolves, or ARNs the platform resolves at run time.
  const db = only(fleet, "AWS::RDS::DBInstance");
  assert.match(
    JSON.stringify(db.MasterUserPassword),
    /\{\{resolve:secretsmanager:/,
  );
  assert.match(JSON.stringify(db.MasterUserPassword), /MysqlPassword/);
  const cache = only(fleet, "AWS::ElastiCache::ReplicationGroup");
  assert.match(JSON.stringify(cache.AuthToken), /\{\{resolve:secretsmanager:/);
  assert.match(JSON.stringify(cache.AuthToken), /RedisAuthToken/);
  const secretLike = /PASS(WORD)?$|SECRET$|TOKEN$|API_?KEY$/;
  const fn = statsFunction();
  for (const name of Object.keys(fn.env)) {
    assert.doesNotMatch(name, secretLike, `Lambda environment has ${name}`);
  }
  const task = clientContainer();
  for (const e of task.Environment as { Name: string }[]) {
    assert.doesNotMatch(e.Name, secretLike, `task environment has ${e.Name}`);
  }
  const eb = beanstalk();
  for (const name of Object.keys(eb.properties)) {
    assert.doesNotMatch(name, secretLike, `Beanstalk property ${name}`);
  }
  for (const arn of Object.values(eb.secrets)) {
    assert.ok(SECRET_IDS.includes(logicalId(arn)!), "a secret's ARN");
  }
});

Deno.test("MySQL and Redis require TLS, Redis needs its AUTH token, both encrypt at rest", () => {
  const params = only(fleet, "AWS::RDS::DBParameterGroup");
  assert.deepEqual(params.Parameters, { require_secure_transport: "ON" });
  const db = only(fleet, "AWS::RDS::DBInstance");
  assert.equal(
    logicalId(db.DBParameterGroupName),
    resourcesOf(fleet, "AWS::RDS::DBParameterGroup")[0][0],
  );
  assert.equal(db.StorageEncrypted, true);
  assert.equal(db.PubliclyAccessible, false);
  assert.equal(db.Engine, "mysql");
  assert.equal(db.Port, String(MYSQL_PORT));
  const cache = only(fleet, "AWS::ElastiCache::ReplicationGroup");
  assert.equal(cache.TransitEncryptionEnabled, true);
  assert.equal(cache.TransitEncryptionMode, "required");
  assert.equal(cache.AtRestEncryptionEnabled, true);
  assert.ok(cache.AuthToken);
  assert.equal(cache.Port, REDIS_PORT);
});

/** Every ingress (or egress) rule as `to <- from:port`. */
function rules(kind: "Ingress" | "Egress"): string[] {
  const name = (id: string | undefined) =>
    /^Network(\w+?)[0-9A-F]{8}$/.exec(id ?? "")?.[1] ?? id ?? "?";
  const out: string[] = [];
  const peer = (r: Json) =>
    r.CidrIp ? String(r.CidrIp) : name(logicalId(
      r.SourceSecurityGroupId ?? r.DestinationSecurityGroupId,
    ));
  for (const [id, r] of resourcesOf(fleet, "AWS::EC2::SecurityGroup")) {
    for (const rule of (r.Properties[`SecurityGroup${kind}`] ?? []) as Json[]) {
      if (rule.Description === "Disallow all traffic") continue;
      out.push(
        `${name(id)} ${peer(rule)} ${rule.IpProtocol}:${rule.FromPort ?? "*"}`,
      );
    }
  }
  for (const [, r] of resourcesOf(fleet, `AWS::EC2::SecurityGroup${kind}`)) {
    out.push(
      `${name(logicalId(r.Properties.GroupId))} ${
        peer(r.Properties)
      } ${r.Properties.IpProtocol}:${r.Properties.FromPort}`,
    );
  }
  return out.sort();
}

Deno.test("security groups admit exactly what each part needs", () => {
  const appSubnets = resourcesOf(fleet, "AWS::EC2::Subnet")
    .filter(([id]) => /appSubnet/.test(id))
    .map(([, r]) => String(r.Properties.CidrBlock));
  assert.equal(appSubnets.length, 2, "clients' subnets in two AZs");
  assert.deepEqual(
    rules("Ingress"),
    [
      ...appSubnets.map((cidr) => `Servers ${cidr} tcp:${SERVER_PORT}`),
      `Mysql Servers tcp:${MYSQL_PORT}`,
      `Mysql Stats tcp:${MYSQL_PORT}`,
      `Redis Servers tcp:${REDIS_PORT}`,
      `Redis Stats tcp:${REDIS_PORT}`,
      "SecretsEndpoint Clients tcp:443",
      "SecretsEndpoint Servers tcp:443",
      "SecretsEndpoint Stats tcp:443",
    ].sort(),
  );
  assert.deepEqual(
    rules("Egress"),
    [
      // Clients reach their RPC provider and the servers; servers pull
      // images and talk to Beanstalk; both through the NAT.
      "Clients 0.0.0.0/0 -1:*",
      "Servers 0.0.0.0/0 -1:*",
      `Stats Mysql tcp:${MYSQL_PORT}`,
      `Stats Redis tcp:${REDIS_PORT}`,
      "Stats SecretsEndpoint tcp:443",
    ].sort(),
  );
  // The stores sit in subnets without a route out.
  const storeSubnets = resourcesOf(fleet, "AWS::EC2::Subnet")
    .filter(([id]) => /storesSubnet/.test(id)).map(([id]) => id);
  assert.equal(storeSubnets.length, 2);
  const groups = only(fleet, "AWS::RDS::DBSubnetGroup");
  assert.deepEqual(
    (groups.SubnetIds as unknown[]).map(logicalId).sort(),
    storeSubnets.sort(),
  );
});

// Environments, through the programs' parsers

/** Asserts `program` reads every variable of `env`; returns `env`. */
function checkedEnv(program: ProgramName, env: Env, where: string): Env {
  for (const name of Object.keys(env)) {
    assert.ok(
      reads(program, name),
      `${where}: ${program} does not read ${name}`,
    );
  }
  return env;
}

function clientContainer(): Json {
  const task = only(fleet, "AWS::ECS::TaskDefinition");
  const containers = task.ContainerDefinitions as Json[];
  assert.equal(containers.length, 1);
  return containers[0];
}

function statsFunction() {
  const [[id, fn]] = resourcesOf(fleet, "AWS::Lambda::Function").filter((
    [, r],
  ) => r.Properties.PackageType === "Image");
  const raw = (fn.Properties.Environment as { Variables: Json }).Variables;
  return {
    id,
    props: fn.Properties,
    raw,
    env: Object.fromEntries(
      Object.entries(raw).map(([k, v]) => [k, sample(v)]),
    ) as Env,
  };
}

function beanstalk() {
  const env = only(fleet, "AWS::ElasticBeanstalk::Environment");
  const settings = env.OptionSettings as {
    Namespace: string;
    OptionName: string;
    Value: unknown;
  }[];
  const ns = (namespace: string) =>
    Object.fromEntries(
      settings.filter((s) => s.Namespace === namespace).map((
        s,
      ) => [s.OptionName, s.Value]),
    );
  const properties = ns("aws:elasticbeanstalk:application:environment");
  const secrets = ns("aws:elasticbeanstalk:application:environmentsecrets");
  // The bundle's Compose file, from the cloud assembly.
  const version = only(fleet, "AWS::ElasticBeanstalk::ApplicationVersion");
  const key = JSON.stringify(
    (version.SourceBundle as Json).S3Key,
  );
  const hash = /([0-9a-f]{64})\.zip/.exec(key)?.[1];
  assert.ok(hash, `bundle key ${key}`);
  const compose = JSON.parse(
    Deno.readTextFileSync(
      join(ASSEMBLY.directory, `asset.${hash}`, "docker-compose.yml"),
    ),
  );
  return { env, settings, ns, properties, secrets, compose };
}

const SAMPLE_SECRET = "sample-secret-from-the-store";

Deno.test("clients: the Fargate container's environment parses, servers by name, RPC URL by reference", () => {
  const container = clientContainer();
  const env = Object.fromEntries(
    (container.Environment as { Name: string; Value: unknown }[]).map((
      e,
    ) => [e.Name, sample(e.Value)]),
  );
  const secrets = container.Secrets as { Name: string; ValueFrom: unknown }[];
  assert.deepEqual(secrets.map((s) => s.Name), ["ETH_RPC_URL"]);
  assert.match(JSON.stringify(secrets[0].ValueFrom), /parameter\/eth\/rpc-url/);
  const config = parseClientConfig(
    [],
    checkedEnv(
      "client",
      { ...env, ETH_RPC_URL: "https://rpc.example/v1/key" },
      "ECS task",
    ),
  );
  const server = beanstalk();
  assert.deepEqual(config.servers, [{
    host: `servers.${FLEET.settings.privateZone}`,
    port: SERVER_PORT,
  }]);
  assert.equal(config.metricsPort, CLIENT_METRICS_PORT);
  const record = only(fleet, "AWS::Route53::RecordSet");
  assert.equal(record.Name, `servers.${FLEET.settings.privateZone}.`);
  assert.ok(server.env.OptionSettings);
  assert.deepEqual(
    (container.HealthCheck as { Command: string[] }).Command.at(-1),
    `http://127.0.0.1:${config.metricsPort}/livez`,
  );
});

Deno.test("clients: read-only root with a writable /tmp for the code cache, logs in a group the stack owns", () => {
  const task = only(fleet, "AWS::ECS::TaskDefinition");
  const container = clientContainer();
  assert.equal(container.ReadonlyRootFilesystem, true);
  const volumes = task.Volumes as { Name: string }[];
  const mounts = container.MountPoints as Json[];
  assert.deepEqual(mounts, [{
    ContainerPath: "/tmp",
    ReadOnly: false,
    SourceVolume: volumes[0].Name,
  }]);
  const logs = container.LogConfiguration as { Options: Json };
  assert.equal(logs.Options["awslogs-create-group"], undefined);
  assert.ok(
    resourcesOf(fleet, "AWS::Logs::LogGroup").some(([id]) =>
      id === logicalId(logs.Options["awslogs-group"])
    ),
    "the stack creates the clients' log group",
  );
  assert.equal(container.StopTimeout, STOP_GRACE);
  assert.deepEqual(task.RequiresCompatibilities, ["FARGATE"]);
  const service = only(fleet, "AWS::ECS::Service");
  assert.equal(service.DesiredCount, FLEET.settings.clientCount);
});

Deno.test("servers: Beanstalk's Docker platform with launch templates and an internal NLB on TCP 8888", () => {
  const { env, ns } = beanstalk();
  assert.match(String(env.SolutionStackName), /running Docker$/);
  const launch = ns("aws:autoscaling:launchconfiguration");
  assert.equal(launch.DisableIMDSv1, "true", "launch templates");
  assert.equal(launch.DisableDefaultEC2SecurityGroup, "true");
  assert.equal(
    logicalId(launch.SecurityGroups),
    resourcesOf(fleet, "AWS::EC2::SecurityGroup").find(([id]) =>
      /^NetworkServers/.test(id)
    )![0],
  );
  const environment = ns("aws:elasticbeanstalk:environment");
  assert.equal(environment.LoadBalancerType, "network");
  assert.equal(ns("aws:ec2:vpc").ELBScheme, "internal");
  const listeners = [
    ...new Set(
      (env.OptionSettings as { Namespace: string }[])
        .map((s) => /^aws:elbv2:listener:(\d+)$/.exec(s.Namespace)?.[1])
        .filter(Boolean),
    ),
  ];
  assert.deepEqual(listeners, [String(SERVER_PORT)]);
  assert.equal(ns(`aws:elbv2:listener:${SERVER_PORT}`).Protocol, "TCP");
  assert.equal(ns("aws:elbv2:listener:default").ListenerEnabled, "false");
  assert.equal(
    ns("aws:elasticbeanstalk:environment:process:eth").Port,
    String(SERVER_PORT),
  );
  assert.equal(
    ns("aws:elasticbeanstalk:cloudwatch:logs").RetentionInDays,
    String(FLEET.settings.logRetentionDays),
  );
});

Deno.test("servers: the container gets what the bundle's Compose file names, and it parses", () => {
  const { properties, secrets, compose } = beanstalk();
  const service = compose.services["eth-server"];
  assert.equal(service.image, `\${${IMAGE_PROPERTY}}`);
  assert.match(JSON.stringify(properties[IMAGE_PROPERTY]), /eth-server:/);
  assert.equal(service.stop_grace_period, `${STOP_GRACE}s`);
  assert.ok(STOP_GRACE > STORE_FLUSH_TIMEOUT);
  assert.deepEqual(service.ports, [`${SERVER_PORT}:${SERVER_PORT}`]);
  const given = { ...properties, ...secrets };
  const env: Env = {};
  for (const [name, value] of Object.entries(service.environment as Env)) {
    const from = /^\$\{(\w+)\}$/.exec(value)?.[1];
    assert.ok(
      from && from in given,
      `${name}: ${value} is not set by Beanstalk`,
    );
    env[name] = from in secrets ? SAMPLE_SECRET : sample(given[from]);
  }
  assert.deepEqual(
    Object.keys(given).filter((k) => k !== IMAGE_PROPERTY).sort(),
    Object.keys(env).sort(),
    "every property reaches the container",
  );
  const config = parseServerConfig([], checkedEnv("server", env, "Beanstalk"));
  assert.equal(config.port, SERVER_PORT);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.metricsPort, SERVER_METRICS_PORT);
  assert.equal(config.storeFlushTimeoutMs, STORE_FLUSH_TIMEOUT * 1000);
  assert.ok(config.store.mysql && config.store.redis);
  assert.equal(config.store.mysql.password, SAMPLE_SECRET, "from the secret");
  assert.equal(config.store.mysql.host, `${DB_ID.toLowerCase()}.sample`);
  assert.equal(config.store.redis.host, `${CACHE_ID.toLowerCase()}.sample`);
  assert.equal(config.store.mysql.port, MYSQL_PORT);
});

Deno.test("stats: the Lambda function's environment parses, with its secrets read at run time", () => {
  const fn = statsFunction();
  assert.equal(fn.props.PackageType, "Image");
  assert.ok((fn.props.VpcConfig as Json).SubnetIds);
  // The entrypoint turns NAME_SECRET_ARN into NAME_FILE: parse as it will.
  const dir = Deno.makeTempDirSync({ prefix: "eth_t_stats_" });
  try {
    const env: Env = {};
    let secrets = 0;
    for (const [name, value] of Object.entries(fn.env)) {
      if (!name.endsWith(SECRET_ARN_SUFFIX)) {
        env[name] = value;
        continue;
      }
      assert.ok(SECRET_IDS.includes(logicalId(fn.raw[name])!), name);
      const target = name.slice(0, -SECRET_ARN_SUFFIX.length);
      const file = join(dir, target);
      Deno.writeTextFileSync(file, SAMPLE_SECRET);
      env[`${target}_FILE`] = file;
      secrets++;
    }
    assert.equal(secrets, 2, "MySQL password and Redis token");
    const checked = checkedEnv("stats", env, "Lambda");
    const config = parseStatsConfig([], checked);
    assert.ok(config.store.mysql && config.store.redis);
    assert.equal(config.store.mysql.host, `${DB_ID.toLowerCase()}.sample`);
    assert.equal(config.store.redis.host, `${CACHE_ID.toLowerCase()}.sample`);
    if ("ETH_STATS_MYSQL_PASS_FILE" in checked) {
      assert.equal(config.store.mysql.password, SAMPLE_SECRET);
    }
    assert.equal(String(config.port), env.ETH_STATS_PORT);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  // Its role may read exactly the two secrets.
  const reads = resourcesOf(fleet, "AWS::IAM::Policy").filter(([, p]) =>
    JSON.stringify(p.Properties.Roles).includes("StatsFunction")
  ).flatMap(([, p]) =>
    (p.Properties.PolicyDocument as { Statement: Json[] }).Statement
  ).filter((s) => JSON.stringify(s.Action).includes("GetSecretValue"));
  assert.deepEqual(
    reads.map((s) => logicalId(s.Resource)).sort(),
    [...SECRET_IDS].sort(),
  );
});

Deno.test("stats: HTTP API behind CloudFront with an ACM certificate for stats.<domain>", () => {
  const api = only(fleet, "AWS::ApiGatewayV2::Api");
  assert.equal(api.ProtocolType, "HTTP");
  const stage = only(fleet, "AWS::ApiGatewayV2::Stage");
  assert.ok((stage.AccessLogSettings as Json).DestinationArn);
  const domain = `stats.${FLEET.settings.domain}`;
  edge.hasResourceProperties("AWS::CertificateManager::Certificate", {
    DomainName: domain,
    ValidationMethod: "DNS",
  });
  const dist = only(edge, "AWS::CloudFront::Distribution")
    .DistributionConfig as Json;
  assert.deepEqual(dist.Aliases, [domain]);
  const viewer = dist.ViewerCertificate as Json;
  assert.equal(viewer.MinimumProtocolVersion, "TLSv1.2_2021");
  assert.ok(viewer.AcmCertificateArn);
  const [origin] = dist.Origins as Json[];
  assert.match(
    JSON.stringify(origin.DomainName),
    /execute-api|Fn::GetAtt|Custom/,
  );
  assert.equal(
    (origin.CustomOriginConfig as Json).OriginProtocolPolicy,
    "https-only",
  );
  assert.ok(dist.Logging, "access logs");
  edge.hasResourceProperties("AWS::Route53::RecordSet", {
    Name: `${domain}.`,
    Type: "A",
    AliasTarget: Match.objectLike({}),
  });
});

Deno.test("Route53: one weighted name for our servers and any Go or Python fleets", () => {
  const record = only(fleet, "AWS::Route53::RecordSet");
  assert.equal(record.SetIdentifier, "typescript");
  assert.equal(record.Weight, FLEET.settings.serverWeight);
  assert.equal(record.Type, "CNAME");
  const mixed = buildFleet({
    outdir: Deno.makeTempDirSync({ prefix: "eth_t_cdk_mixed_" }),
    context: {
      extraServerFleets: JSON.stringify([
        { id: "go", dnsName: "go-nlb.example", weight: 10 },
        { id: "python", dnsName: "py-nlb.example", weight: 10 },
      ]),
    },
  });
  try {
    const t = Template.fromJSON(
      mixed.app.synth().getStackByName("EthFleet").template,
    );
    const sets = resourcesOf(t, "AWS::Route53::RecordSet").map(([, r]) =>
      `${r.Properties.Name} ${r.Properties.SetIdentifier} ${r.Properties.Weight}`
    ).sort();
    const name = `servers.${FLEET.settings.privateZone}.`;
    assert.deepEqual(sets, [
      `${name} go 10`,
      `${name} python 10`,
      `${name} typescript 80`,
    ]);
  } finally {
    Deno.removeSync(mixed.app.outdir, { recursive: true });
  }
});

Deno.test("context: settings are validated and the defaults need no AWS account", () => {
  const none = settingsFromContext(() => undefined);
  assert.equal(none.account, undefined);
  assert.equal(none.region, "eu-west-1");
  assert.match(DEFAULT_IMAGE_TAG, /^v\d+\.\d+\.\d+$/);
  assert.deepEqual(none.imageTags, {
    client: DEFAULT_IMAGE_TAG,
    server: DEFAULT_IMAGE_TAG,
    stats: DEFAULT_IMAGE_TAG,
  });
  const ctx = (values: Record<string, unknown>) => (k: string) => values[k];
  const set = settingsFromContext(
    ctx({ imageTag: "3f2c1ab", statsImageTag: "9", clientCount: "5" }),
  );
  assert.deepEqual(set.imageTags, {
    client: "3f2c1ab",
    server: "3f2c1ab",
    stats: "9",
  });
  assert.equal(set.clientCount, 5);
  assert.throws(
    () => settingsFromContext(ctx({ clientCount: "two" })),
    /clientCount/,
  );
  assert.throws(() => settingsFromContext(ctx({ domain: "nope" })), /domain/);
  assert.throws(
    () => settingsFromContext(ctx({ extraServerFleets: '[{"id":"go"}]' })),
    /extraServerFleets\[0\]/,
  );
});

// cdk-nag

/** Our acceptances; CDK records its own for its template validator too. */
const ACCEPTED = suppressions(FLEET.app).filter((s) =>
  s.id.startsWith("AwsSolutions-")
);

Deno.test(`cdk-nag AwsSolutions: no error that is not accepted with a reason (${ACCEPTED.length} accepted)`, () => {
  const errors = FINDINGS.filter((f) => f.level === "error");
  assert.deepEqual(
    errors.map((f) => `${f.rule} at ${f.paths.join(", ")}`),
    [],
  );
  for (const s of ACCEPTED) {
    assert.match(s.id, /^AwsSolutions-[A-Z]+\d+(\[.+\])?$/, s.path);
    assert.ok(s.reason.length >= 40, `${s.path} ${s.id}: say why`);
  }
  const warnings = FINDINGS.filter((f) => f.level === "warning");
  console.log(
    [
      `cdk-nag: ${ACCEPTED.length} accepted, ${warnings.length} warnings:`,
      ...ACCEPTED.map((s) => `  ${s.id} ${s.path}`),
      ...warnings.map((w) => `  warning ${w.rule} ${w.paths.join(", ")}`),
    ].join("\n"),
  );
});

Deno.test("cdk-nag: the checks are live, and an acceptance silences exactly its rule", () => {
  const app = new App({ outdir: Deno.makeTempDirSync() });
  try {
    const bucket = new s3.Bucket(new Stack(app, "Probe"), "Bucket");
    const rules = () => nagFindings(app).map((f) => f.rule);
    assert.ok(rules().includes("AwsSolutions-S10"), rules().join(" "));
    suppress(bucket, [{ id: "AwsSolutions-S10", reason: "probe" }]);
    assert.ok(!rules().includes("AwsSolutions-S10"));
    assert.ok(rules().includes("AwsSolutions-S1"));
  } finally {
    Deno.removeSync(app.outdir, { recursive: true });
  }
});

Deno.test("Dockerrun.aws.json (design card) agrees with the app's server settings", () => {
  const run = JSON.parse(
    Deno.readTextFileSync(new URL("../../Dockerrun.aws.json", import.meta.url)),
  );
  const [container] = run.containerDefinitions;
  const expected = serverEnvironment({ mysqlHost: "", redisHost: "" });
  delete expected.ETH_SERVER_MYSQL_HOST;
  delete expected.ETH_SERVER_REDIS_HOST;
  assert.deepEqual(
    Object.fromEntries(
      container.environment.map((e: { name: string; value: string }) => [
        e.name,
        e.value,
      ]),
    ),
    expected,
    "the app's environment table, less the per-deployment hosts",
  );
  assert.deepEqual(
    container.portMappings.map((p: Json) => p.containerPort),
    [SERVER_PORT, SERVER_METRICS_PORT],
  );
  assert.equal(container.stopTimeout, STOP_GRACE);
  assert.match(container.image, /\/eth-server:/);
  assert.equal(
    container.healthCheck.command.at(-1),
    `http://127.0.0.1:${SERVER_METRICS_PORT}/livez`,
  );
  assert.ok(PROGRAM.server.options.length > 0);
});

Deno.test("docs/deploy.md names every accepted cdk-nag rule and every part in its picture", () => {
  const doc = Deno.readTextFileSync(
    new URL("../../docs/deploy.md", import.meta.url),
  );
  const table = doc.split("### cdk-nag findings accepted")[1]?.split(
    "\n## ",
  )[0];
  assert.ok(table, "the table of accepted findings");
  for (const s of ACCEPTED) {
    const rule = /^AwsSolutions-([A-Z]+\d+)/.exec(s.id)![1];
    assert.match(table, new RegExp(`\\b${rule}\\b`), `${s.id} at ${s.path}`);
  }
  const picture = /```mermaid\n([^]*?)```/.exec(doc)?.[1];
  assert.ok(picture);
  for (
    const part of [
      "CloudFront",
      "ACM",
      "API Gateway HTTP API",
      "Lambda eth-stats",
      "ECS Fargate eth-client",
      "Beanstalk eth-server",
      `internal NLB, TCP ${SERVER_PORT}`,
      `servers.${FLEET.settings.privateZone}`,
      "RDS MySQL",
      "ElastiCache Redis",
      "Secrets Manager",
      "ECR",
      "two AZs",
    ]
  ) {
    assert.ok(picture.includes(part), `the picture lacks ${part}`);
  }
});
