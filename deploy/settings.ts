/**
 * The fleet's settings: what differs between deployments (domain, sizes,
 * client count, image tags, region), read from CDK context (`-c key=value`)
 * with defaults that synthesize on a fresh clone without AWS credentials.
 *
 * @module
 */
import project from "../deno.json" with { type: "json" };

/**
 * The images deployed unless `imageTag` says otherwise: the project's version
 * (`v1.1.0`), never `latest`, since the repositories' tags are immutable and a
 * template must name one image for good.
 */
export const DEFAULT_IMAGE_TAG: string = `v${project.version}`;

/** A fleet of servers of another implementation sharing the servers' name. */
export interface ExtraServerFleet {
  /** Record set identifier, e.g. `go` or `python`. */
  id: string;
  /** DNS name of that fleet's internal load balancer. */
  dnsName: string;
  /** Route53 weight, 0-255. */
  weight: number;
}

/** Everything a deployment may change. */
export interface FleetSettings {
  /** Region of everything but the edge (CloudFront's certificate is in us-east-1). @default "eu-west-1" */
  region: string;
  /** Account; unset synthesizes account-agnostic templates. @default CDK_DEFAULT_ACCOUNT */
  account?: string;
  /** Public domain; the stats API is served at `stats.<domain>`. @default "eth.example.com" */
  domain: string;
  /** Existing public hosted zone of `domain`; unset creates one. */
  hostedZoneId?: string;
  /** Private zone the servers' name lives in. @default "eth.internal" */
  privateZone: string;
  /**
   * Image tag of each program in its ECR repository.
   * @default {DEFAULT_IMAGE_TAG}
   */
  imageTags: { client: string; server: string; stats: string };
  /** Fargate clients. @default 2 */
  clientCount: number;
  /**
   * Fargate CPU units and MiB of each client task, a pair Fargate offers
   * ({@linkcode FARGATE_MEMORY}). @default 256, 512
   */
  clientCpu: number;
  clientMemory: number;
  /** EC2 instance type of the servers. @default "t3.small" */
  serverInstanceType: string;
  /** Servers in the Auto Scaling group. @default 2, 4 */
  serverMin: number;
  serverMax: number;
  /** Elastic Beanstalk Docker platform (solution stack name). */
  solutionStack: string;
  /** Weight of our servers' record under the servers' name. @default 80 */
  serverWeight: number;
  /** Other implementations' fleets under the same name. @default [] */
  extraServerFleets: ExtraServerFleet[];
  /** RDS instance class (without `db.`). @default "t4g.micro" */
  dbInstanceType: string;
  /** ElastiCache node type. @default "cache.t4g.micro" */
  cacheNodeType: string;
  /** Standby database and replica cache node in the second AZ. @default true */
  multiAz: boolean;
  /** Days logs are kept: one of {@linkcode LOG_RETENTION_DAYS}. @default 30 */
  logRetentionDays: number;
  /** Stats Lambda memory in MiB. @default 512 */
  statsMemory: number;
  /** SSM SecureString parameter holding the clients' RPC URL(s). @default "/eth/rpc-url" */
  rpcUrlParameter: string;
}

/** Reads CDK context values (strings from `-c`, JSON values from files). */
export type ContextReader = (key: string) => unknown;

/** A context value that cannot be used. */
export class SettingsError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

/** The default solution stack; `aws elasticbeanstalk list-available-solution-stacks` lists current ones. */
export const DEFAULT_SOLUTION_STACK =
  "64bit Amazon Linux 2023 v4.7.2 running Docker";

/**
 * The retention periods CloudWatch Logs accepts, in days; any other value
 * is rejected by CloudFormation at deploy (and by cfn-lint as E3030).
 */
// deno-fmt-ignore
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
  2192, 2557, 2922, 3288, 3653,
];

const range = (min: number, max: number, step: number) =>
  Array.from({ length: (max - min) / step + 1 }, (_, i) => min + i * step);
/**
 * Fargate's CPU units and the task memory sizes (MiB) each allows; ECS
 * refuses any other pair at deploy.
 */
export const FARGATE_MEMORY: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
};

/**
 * What an image reference may be: an ECR tag (the repositories' tags are
 * immutable, so a tag names one image) or a digest.
 */
const IMAGE_REF = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$/;
/** An instance type or class: family and size, e.g. `t3.small`. */
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/** A DNS name of two labels or more, as Route53 and ACM take it. */
const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Reads and validates the settings from context. */
export function settingsFromContext(
  get: ContextReader,
  env: Record<string, string | undefined> = {},
): FleetSettings {
  const str = (key: string, fallback: string) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (typeof v !== "string" || v === "") {
      throw new SettingsError(`Context ${key} must be a non-empty string`);
    }
    return v;
  };
  const int = (key: string, fallback: number, min: number, max: number) => {
    const v = get(key);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new SettingsError(
        `Context ${key} must be an integer ${min}-${max}, not ${
          JSON.stringify(v)
        }`,
      );
    }
    return n;
  };
  const oneOf = (key: string, fallback: number, allowed: readonly number[]) => {
    const v = get(key);
    const n = v === undefined ? fallback : Number(v);
    if (!allowed.includes(n)) {
      throw new SettingsError(
        `Context ${key} must be one of ${allowed.join(", ")}, not ${
          JSON.stringify(v)
        }`,
      );
    }
    return n;
  };
  const optional = (key: string, re: RegExp, what: string) => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string" || !re.test(v)) {
      throw new SettingsError(
        `Context ${key} must be ${what}, not ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const bool = (key: string, fallback: boolean) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    throw new SettingsError(`Context ${key} must be true or false`);
  };
  const matching = (
    key: string,
    fallback: string,
    re: RegExp,
    what: string,
  ) => {
    const v = str(key, fallback);
    if (!re.test(v)) {
      throw new SettingsError(
        `Context ${key} must be ${what}, not ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const image = (key: string, fallback: string) =>
    matching(key, fallback, IMAGE_REF, "an image tag or sha256: digest");
  const tag = image("imageTag", DEFAULT_IMAGE_TAG);
  const extra = (() => {
    const v = get("extraServerFleets");
    if (v === undefined) return [];
    let list = v;
    try {
      if (typeof v === "string") list = JSON.parse(v);
    } catch {
      throw new SettingsError("Context extraServerFleets is not JSON");
    }
    if (!Array.isArray(list)) {
      throw new SettingsError("Context extraServerFleets must be a list");
    }
    return list.map((f, i): ExtraServerFleet => {
      if (
        typeof f?.id !== "string" || !/^[\w.-]{1,128}$/.test(f.id) ||
        typeof f?.dnsName !== "string" || !DOMAIN.test(f.dnsName) ||
        !Number.isInteger(f?.weight) || f.weight < 0 || f.weight > 255
      ) {
        throw new SettingsError(
          `Context extraServerFleets[${i}] needs id, dnsName and weight 0-255`,
        );
      }
      return { id: f.id, dnsName: f.dnsName, weight: f.weight };
    });
  })();
  const serverMin = int("serverMin", 2, 1, 100);
  const settings: FleetSettings = {
    region: matching(
      "region",
      env.CDK_DEFAULT_REGION ?? "eu-west-1",
      /^[a-z]{2}(-[a-z]+)+-\d$/,
      "an AWS region such as eu-west-1",
    ),
    account: optional("account", /^\d{12}$/, "a 12-digit account id") ??
      env.CDK_DEFAULT_ACCOUNT,
    domain: matching("domain", "eth.example.com", DOMAIN, "a domain"),
    hostedZoneId: optional(
      "hostedZoneId",
      /^Z[A-Z0-9]{1,31}$/,
      "a Route53 hosted zone id (Z...)",
    ),
    privateZone: matching("privateZone", "eth.internal", DOMAIN, "a domain"),
    imageTags: {
      client: image("clientImageTag", tag),
      server: image("serverImageTag", tag),
      stats: image("statsImageTag", tag),
    },
    clientCount: int("clientCount", 2, 0, 100),
    clientCpu: int("clientCpu", 256, 256, 4096),
    clientMemory: int("clientMemory", 512, 512, 30720),
    serverInstanceType: matching(
      "serverInstanceType",
      "t3.small",
      INSTANCE_TYPE,
      "an EC2 instance type such as t3.small",
    ),
    serverMin,
    serverMax: int("serverMax", Math.max(4, serverMin), serverMin, 100),
    // The source bundle is a Compose file: only the Docker platform runs it.
    solutionStack: matching(
      "solutionStack",
      DEFAULT_SOLUTION_STACK,
      /^64bit Amazon Linux .* running Docker$/,
      "an Amazon Linux Docker solution stack",
    ),
    serverWeight: int("serverWeight", 80, 0, 255),
    extraServerFleets: extra,
    dbInstanceType: matching(
      "dbInstanceType",
      "t4g.micro",
      INSTANCE_TYPE,
      "an RDS instance class without db., such as t4g.micro",
    ),
    cacheNodeType: matching(
      "cacheNodeType",
      "cache.t4g.micro",
      /^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$/,
      "an ElastiCache node type such as cache.t4g.micro",
    ),
    multiAz: bool("multiAz", true),
    logRetentionDays: oneOf("logRetentionDays", 30, LOG_RETENTION_DAYS),
    statsMemory: int("statsMemory", 512, 128, 10240),
    rpcUrlParameter: matching(
      "rpcUrlParameter",
      "/eth/rpc-url",
      /^[A-Za-z0-9_.\-/]{1,2048}$/,
      "an SSM parameter name",
    ),
  };
  const memory = FARGATE_MEMORY[settings.clientCpu];
  if (!memory) {
    throw new SettingsError(
      `Context clientCpu must be one of ${
        Object.keys(FARGATE_MEMORY).join(", ")
      } (Fargate's CPU units), not ${settings.clientCpu}`,
    );
  }
  if (!memory.includes(settings.clientMemory)) {
    throw new SettingsError(
      `Context clientMemory must be ${
        memory.length > 3
          ? `${memory[0]}-${memory.at(-1)} in steps of ${memory[1] - memory[0]}`
          : `one of ${memory.join(", ")}`
      } with ` +
        `clientCpu ${settings.clientCpu} (Fargate), not ${settings.clientMemory}`,
    );
  }
  return settings;
}
