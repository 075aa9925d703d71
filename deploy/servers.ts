/**
 * The servers on Elastic Beanstalk's Docker platform: launch templates
 * (IMDSv1 off), an internal network load balancer with a TCP listener on
 * the server port, the store passwords as environment secrets, and a
 * weighted record under the servers' name in the private zone, beside the
 * records of any Go or Python fleets.
 *
 * The source bundle is a Compose file generated here from the servers'
 * environment table; it names every variable as `${NAME}`, which Elastic
 * Beanstalk fills from the environment properties and secrets, so the
 * bundle holds no account, endpoint or secret.
 *
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duration } from "aws-cdk-lib";
import type * as ecr from "aws-cdk-lib/aws-ecr";
import * as elasticbeanstalk from "aws-cdk-lib/aws-elasticbeanstalk";
import * as iam from "aws-cdk-lib/aws-iam";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as s3assets from "aws-cdk-lib/aws-s3-assets";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  SERVER_PORT,
  SERVER_SECRETS,
  serverEnvironment,
  STOP_GRACE,
  type StoreEndpoints,
} from "./environments.ts";
import type { ExtraServerFleet } from "./settings.ts";
import type { Network } from "./network.ts";
import { suppress } from "./nag.ts";

/** The environment property holding the image; only Compose reads it. */
export const IMAGE_PROPERTY = "SERVER_IMAGE";

/** The bundle's Compose file for `names`, the container's variables. */
export function beanstalkCompose(names: string[]): Record<string, unknown> {
  return {
    services: {
      "eth-server": {
        image: `\${${IMAGE_PROPERTY}}`,
        ports: [`${SERVER_PORT}:${SERVER_PORT}`],
        environment: Object.fromEntries(names.map((n) => [n, `\${${n}}`])),
        // Longer than --store-flush-timeout, so queued documents are written.
        stop_grace_period: `${STOP_GRACE}s`,
        restart: "unless-stopped",
      },
    },
  };
}

/** What the servers need. */
export interface ServersProps {
  network: Network;
  repository: ecr.IRepository;
  imageTag: string;
  stores: StoreEndpoints;
  secrets: Record<"mysql" | "redis", secretsmanager.ISecret>;
  instanceType: string;
  minSize: number;
  maxSize: number;
  solutionStack: string;
  logRetentionDays: number;
  /** The private zone and the name in it the clients send to. */
  zone: route53.IPrivateHostedZone;
  recordName: string;
  weight: number;
  extraFleets: ExtraServerFleet[];
}

/** The Beanstalk application, environment and the servers' records. */
export class Servers extends Construct {
  readonly environment: elasticbeanstalk.CfnEnvironment;
  /** Every variable the server container gets, secrets as their ARNs. */
  readonly properties: Record<string, string>;
  readonly secretProperties: Record<string, string>;
  readonly compose: Record<string, unknown>;

  /** Builds the servers. */
  constructor(scope: Construct, id: string, props: ServersProps) {
    super(scope, id);
    const { network } = props;
    const instanceRole = new iam.Role(this, "InstanceRole", {
      assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName(
          "AWSElasticBeanstalkWebTier",
        ),
      ],
    });
    props.repository.grantPull(instanceRole);
    for (const secret of Object.values(props.secrets)) {
      secret.grantRead(instanceRole);
    }
    suppress(instanceRole, [{
      id: "AwsSolutions-IAM4",
      reason:
        "AWSElasticBeanstalkWebTier is what the Beanstalk agent needs to " +
        "upload logs and report health; AWS keeps it in step with the platform.",
      appliesTo: [
        "Policy::arn:<AWS::Partition>:iam::aws:policy/AWSElasticBeanstalkWebTier",
      ],
    }, {
      id: "AwsSolutions-IAM5",
      reason: "ecr:GetAuthorizationToken has no resource-level permissions; " +
        "pulls are limited to the eth-server repository.",
      appliesTo: ["Resource::*"],
    }]);
    const profile = new iam.CfnInstanceProfile(this, "InstanceProfile", {
      roles: [instanceRole.roleName],
    });
    const serviceRole = new iam.Role(this, "ServiceRole", {
      assumedBy: new iam.ServicePrincipal("elasticbeanstalk.amazonaws.com"),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName(
          "service-role/AWSElasticBeanstalkEnhancedHealth",
        ),
        iam.ManagedPolicy.fromAwsManagedPolicyName(
          "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
        ),
      ],
    });
    suppress(serviceRole, [{
      id: "AwsSolutions-IAM4",
      reason: "Elastic Beanstalk's service role is defined by these two AWS " +
        "policies (enhanced health, managed platform updates); a copy " +
        "would fall behind the platform.",
      appliesTo: [
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth",
        "Policy::arn:<AWS::Partition>:iam::aws:policy/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
      ],
    }]);

    const plain = serverEnvironment(props.stores);
    this.properties = plain;
    this.secretProperties = Object.fromEntries(
      Object.entries(SERVER_SECRETS).map((
        [name, which],
      ) => [name, props.secrets[which as "mysql" | "redis"].secretArn]),
    );
    this.compose = beanstalkCompose([
      ...Object.keys(plain),
      ...Object.keys(this.secretProperties),
    ]);
    const dir = mkdtempSync(join(tmpdir(), "eth-server-bundle-"));
    let bundle: s3assets.Asset;
    try {
      writeFileSync(
        join(dir, "docker-compose.yml"),
        JSON.stringify(this.compose, null, 2) + "\n",
      );
      bundle = new s3assets.Asset(this, "Bundle", { path: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const app = new elasticbeanstalk.CfnApplication(this, "Application", {
      applicationName: "eth",
      description: "eth-client-server servers",
    });
    const version = new elasticbeanstalk.CfnApplicationVersion(
      this,
      "Version",
      {
        applicationName: app.ref,
        sourceBundle: {
          s3Bucket: bundle.s3BucketName,
          s3Key: bundle.s3ObjectKey,
        },
      },
    );
    const subnets = network.vpc.selectSubnets(network.appSubnets).subnetIds
      .join(",");
    const option = (
      namespace: string,
      settings: Record<string, string | number | boolean>,
    ) =>
      Object.entries(settings).map(([optionName, value]) => ({
        namespace,
        optionName,
        value: String(value),
      }));
    this.environment = new elasticbeanstalk.CfnEnvironment(
      this,
      "Environment",
      {
        applicationName: app.ref,
        environmentName: "eth-server",
        solutionStackName: props.solutionStack,
        versionLabel: version.ref,
        optionSettings: [
          ...option("aws:elasticbeanstalk:environment", {
            EnvironmentType: "LoadBalanced",
            LoadBalancerType: "network",
            ServiceRole: serviceRole.roleArn,
          }),
          ...option("aws:elbv2:listener:default", { ListenerEnabled: false }),
          ...option(`aws:elbv2:listener:${SERVER_PORT}`, {
            ListenerEnabled: true,
            Protocol: "TCP",
            DefaultProcess: "eth",
          }),
          ...option("aws:elasticbeanstalk:environment:process:eth", {
            Port: SERVER_PORT,
            Protocol: "TCP",
            HealthCheckInterval: 10,
            HealthyThresholdCount: 3,
            UnhealthyThresholdCount: 3,
          }),
          ...option("aws:ec2:vpc", {
            VPCId: network.vpc.vpcId,
            Subnets: subnets,
            ELBSubnets: subnets,
            ELBScheme: "internal",
            AssociatePublicIpAddress: false,
          }),
          // DisableIMDSv1 makes Beanstalk use launch templates, which
          // accounts created since late 2024 require.
          ...option("aws:autoscaling:launchconfiguration", {
            IamInstanceProfile: profile.ref,
            SecurityGroups: network.servers.securityGroupId,
            DisableDefaultEC2SecurityGroup: true,
            DisableIMDSv1: true,
            RootVolumeType: "gp3",
          }),
          ...option("aws:ec2:instances", {
            InstanceTypes: props.instanceType,
          }),
          ...option("aws:autoscaling:asg", {
            MinSize: props.minSize,
            MaxSize: props.maxSize,
          }),
          ...option("aws:elasticbeanstalk:command", {
            DeploymentPolicy: "Rolling",
            BatchSizeType: "Fixed",
            BatchSize: 1,
          }),
          ...option("aws:elasticbeanstalk:healthreporting:system", {
            SystemType: "enhanced",
          }),
          ...option("aws:elasticbeanstalk:managedactions", {
            ManagedActionsEnabled: true,
            PreferredStartTime: "Sun:03:00",
          }),
          ...option("aws:elasticbeanstalk:managedactions:platformupdate", {
            UpdateLevel: "minor",
          }),
          ...option("aws:elasticbeanstalk:hostmanager", {
            LogPublicationControl: true,
          }),
          ...option("aws:elasticbeanstalk:cloudwatch:logs", {
            StreamLogs: true,
            RetentionInDays: props.logRetentionDays,
            DeleteOnTerminate: false,
          }),
          ...option("aws:elasticbeanstalk:application:environment", {
            [IMAGE_PROPERTY]: props.repository.repositoryUriForTagOrDigest(
              props.imageTag,
            ),
            ...plain,
          }),
          // Fetched from Secrets Manager by the instances at boot.
          ...option(
            "aws:elasticbeanstalk:application:environmentsecrets",
            this.secretProperties,
          ),
        ],
      },
    );

    // The load balancer's DNS name is the environment's endpoint.
    const record = (id: string, target: string, weight: number) =>
      new route53.CnameRecord(this, `Record-${id}`, {
        zone: props.zone,
        recordName: props.recordName,
        domainName: target,
        setIdentifier: id,
        weight,
        ttl: Duration.seconds(60),
      });
    record("typescript", this.environment.attrEndpointUrl, props.weight);
    for (const fleet of props.extraFleets) {
      record(fleet.id, fleet.dnsName, fleet.weight);
    }
  }
}
