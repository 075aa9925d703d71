/**
 * The whole AWS fleet as one CDK app: `deno task synth` writes the
 * CloudFormation templates to `dist/cdk.out/` (offline, no credentials), and
 * `deno task deploy` hands this app to the CDK CLI. Context (`-c key=value`)
 * sets what differs per deployment; see deploy/settings.ts.
 *
 * Stacks: `EthImages` (ECR repositories), `EthFleet` (everything in the
 * region) and `EthEdge` (us-east-1: certificate, CloudFront, DNS).
 *
 * @module
 */
import { App, Tags } from "aws-cdk-lib";
import { EdgeStack } from "./edge_stack.ts";
import { FleetStack } from "./fleet_stack.ts";
import { ImagesStack } from "./images_stack.ts";
import {
  type FleetSettings,
  SettingsError,
  settingsFromContext,
} from "./settings.ts";
import { nagFindings } from "./nag.ts";

/** The app and its stacks. */
export interface Fleet {
  app: App;
  settings: FleetSettings;
  images: ImagesStack;
  fleet: FleetStack;
  edge: EdgeStack;
}

/** Options of {@linkcode buildFleet}. */
export interface BuildOptions {
  /** Context values, as `-c` gives them. */
  context?: Record<string, unknown>;
  /** Where the cloud assembly goes. @default CDK_OUTDIR, or a temp dir */
  outdir?: string;
  /** Environment the defaults come from (CDK_DEFAULT_ACCOUNT/REGION). */
  env?: Record<string, string | undefined>;
}

/**
 * CDK's context key for how a stack reads another's values. `weak` makes
 * the edge stack read the fleet's API domain with `Fn::GetStackOutput`, so
 * neither stack needs CDK's cross-region helper Lambdas (whose own log
 * groups would never expire). A fleet deployed with the older `strong`
 * references moves over through `both` (docs/deploy.md).
 */
export const CROSS_STACK_REFERENCES =
  "@aws-cdk/core:defaultCrossStackReferences";

/** Builds the app with cdk-nag's AwsSolutions checks applied. */
export function buildFleet(options: BuildOptions = {}): Fleet {
  const app = new App({
    outdir: options.outdir,
    // Context from -c or the CDK CLI takes precedence over these.
    context: { [CROSS_STACK_REFERENCES]: "weak", ...options.context },
    // Keeps templates free of CDK version metadata, so they diff cleanly.
    analyticsReporting: false,
  });
  const settings = settingsFromContext(
    (key) => app.node.tryGetContext(key),
    options.env ?? {},
  );
  const env = { account: settings.account, region: settings.region };
  const images = new ImagesStack(app, "EthImages", {
    env,
    description: "eth-client-server: ECR repositories",
  });
  const fleet = new FleetStack(app, "EthFleet", {
    env,
    settings,
    crossRegionReferences: true,
    description: "eth-client-server: network, stores, clients, servers, stats",
  });
  fleet.addStackDependency(images);
  const edge = new EdgeStack(app, "EthEdge", {
    env: { account: settings.account, region: "us-east-1" },
    crossRegionReferences: true,
    domain: settings.domain,
    hostedZoneId: settings.hostedZoneId,
    apiDomain: fleet.stats.apiDomain,
    description: "eth-client-server: stats certificate, CloudFront, DNS",
  });
  Tags.of(app).add("project", "eth-client-server");
  return { app, settings, images, fleet, edge };
}

/** `-c key=value` pairs of the command line. */
export function contextArgs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] === "-c" || args[i] === "--context"
      ? args[++i]
      : /^--context=(.*)$/.exec(args[i])?.[1];
    const m = arg === undefined ? null : /^([^=]+)=(.*)$/s.exec(arg);
    if (!m) throw new Error(`Unknown argument ${args[i]}: use -c key=value`);
    out[m[1]] = m[2];
  }
  return out;
}

/** Where `deno task synth` writes the templates unless CDK_OUTDIR says. */
export const SYNTH_OUTDIR = "dist/cdk.out";

/** Builds the fleet; a setting that cannot be deployed ends synth in one line. */
function buildOrExit(options: BuildOptions): Fleet {
  try {
    return buildFleet(options);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(`synth: ${error.message}`);
    Deno.exit(1);
  }
}

if (import.meta.main) {
  const fromCli = Deno.env.get("CDK_CONTEXT_JSON") !== undefined;
  const { app } = buildOrExit({
    context: fromCli ? undefined : contextArgs(Deno.args),
    outdir: fromCli ? undefined : Deno.env.get("CDK_OUTDIR") ?? SYNTH_OUTDIR,
    env: Deno.env.toObject(),
  });
  const assembly = app.synth();
  const findings = nagFindings(app);
  for (const f of findings) {
    console.error(`${f.level} ${f.rule}: ${f.paths.join(", ")}`);
  }
  const errors = findings.filter((f) => f.level === "error");
  if (errors.length > 0) {
    console.error(`synth: ${errors.length} cdk-nag errors not accepted`);
    Deno.exit(1);
  }
  if (!fromCli) {
    for (const stack of assembly.stacks) {
      console.log(
        `${stack.displayName}: ${assembly.directory}/${stack.templateFile}`,
      );
    }
  }
}
