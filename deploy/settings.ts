/**
 * The fleet's settings: what differs between deployments (domain, sizes,
 * client count, image tags, region), read from CDK context (`-c key=value`)
 * with defaults that synthesize on a fresh clone without AWS credentials.
 *
 * @module
 */

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
  /** Image tag of each program in its ECR repository. @default "latest" */
  imageTags: { client: string; server: string; stats: string };
  /** Fargate clients. @default 2 */
  clientCount: number;
  /** Fargate CPU units and MiB of each client task. @default 256, 512 */
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
  /** Days logs are kept. @default 30 */
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
  const bool = (key: string, fallback: boolean) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    throw new SettingsError(`Context ${key} must be true or false`);
  };
  const tag = str("imageTag", "latest");
  const extra = (() => {
    const v = get("extraServerFleets");
    if (v === undefined) return [];
    const list = typeof v === "string" ? JSON.parse(v) : v;
    if (!Array.isArray(list)) {
      throw new SettingsError("Context extraServerFleets must be a list");
    }
    return list.map((f, i): ExtraServerFleet => {
      if (
        typeof f?.id !== "string" || typeof f?.dnsName !== "string" ||
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
    region: str("region", env.CDK_DEFAULT_REGION ?? "eu-west-1"),
    account: (get("account") as string | undefined) ??
      env.CDK_DEFAULT_ACCOUNT,
    domain: str("domain", "eth.example.com"),
    hostedZoneId: get("hostedZoneId") as string | undefined,
    privateZone: str("privateZone", "eth.internal"),
    imageTags: {
      client: str("clientImageTag", tag),
      server: str("serverImageTag", tag),
      stats: str("statsImageTag", tag),
    },
    clientCount: int("clientCount", 2, 0, 100),
    clientCpu: int("clientCpu", 256, 256, 4096),
    clientMemory: int("clientMemory", 512, 512, 30720),
    serverInstanceType: str("serverInstanceType", "t3.small"),
    serverMin,
    serverMax: int("serverMax", Math.max(4, serverMin), serverMin, 100),
    solutionStack: str("solutionStack", DEFAULT_SOLUTION_STACK),
    serverWeight: int("serverWeight", 80, 0, 255),
    extraServerFleets: extra,
    dbInstanceType: str("dbInstanceType", "t4g.micro"),
    cacheNodeType: str("cacheNodeType", "cache.t4g.micro"),
    multiAz: bool("multiAz", true),
    logRetentionDays: int("logRetentionDays", 30, 1, 3653),
    statsMemory: int("statsMemory", 512, 128, 10240),
    rpcUrlParameter: str("rpcUrlParameter", "/eth/rpc-url"),
  };
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(settings.domain)) {
    throw new SettingsError(`Context domain ${settings.domain} is no domain`);
  }
  return settings;
}
