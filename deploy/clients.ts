/**
 * The clients: an ECS cluster running them on Fargate, with their RPC URL
 * injected by reference from SSM Parameter Store, logs in a log group the
 * stack owns (so the execution role needs no logs:CreateLogGroup), and a
 * read-only root with a writable /tmp for the compiled binary's code cache.
 *
 * @module
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as ecr from "aws-cdk-lib/aws-ecr";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as ssm from "aws-cdk-lib/aws-ssm";
import { Construct } from "constructs";
import {
  CLIENT_METRICS_PORT,
  clientEnvironment,
  STOP_GRACE,
} from "./environments.ts";
import type { Network } from "./network.ts";
import { suppress } from "./nag.ts";

/** What the clients need. */
export interface ClientsProps {
  network: Network;
  repository: ecr.IRepository;
  imageTag: string;
  /** The servers' name and port. */
  servers: { host: string; port: number };
  count: number;
  cpu: number;
  memory: number;
  rpcUrlParameter: string;
  logRetention: logs.RetentionDays;
}

/** The ECS cluster and the clients' Fargate service. */
export class Clients extends Construct {
  readonly cluster: ecs.Cluster;
  readonly task: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly service: ecs.FargateService;
  readonly logGroup: logs.LogGroup;

  /** Builds the clients. */
  constructor(scope: Construct, id: string, props: ClientsProps) {
    super(scope, id);
    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc: props.network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.task = new ecs.FargateTaskDefinition(this, "Task", {
      family: "eth-client",
      cpu: props.cpu,
      memoryLimitMiB: props.memory,
      runtimePlatform: {
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
      },
      volumes: [{ name: "tmp" }],
    });
    const rpcUrl = ssm.StringParameter.fromSecureStringParameterAttributes(
      this,
      "RpcUrl",
      { parameterName: props.rpcUrlParameter },
    );
    this.container = this.task.addContainer("eth-client", {
      containerName: "eth-client",
      image: ecs.ContainerImage.fromEcrRepository(
        props.repository,
        props.imageTag,
      ),
      essential: true,
      environment: clientEnvironment(props.servers),
      secrets: { ETH_RPC_URL: ecs.Secret.fromSsmParameter(rpcUrl) },
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(STOP_GRACE),
      portMappings: [{ containerPort: CLIENT_METRICS_PORT }],
      healthCheck: {
        command: [
          "CMD",
          "curl",
          "-fsS",
          "-o",
          "/dev/null",
          `http://127.0.0.1:${CLIENT_METRICS_PORT}/livez`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(3),
        retries: 3,
        startPeriod: Duration.seconds(10),
      },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: "eth-client",
      }),
    });
    // deno compile's binaries keep their V8 code cache under the temp dir.
    this.container.addMountPoints({
      sourceVolume: "tmp",
      containerPath: "/tmp",
      readOnly: false,
    });
    suppress(this.task, [{
      id: "AwsSolutions-ECS2",
      reason: "The plain variables are the servers' name and ports, nothing " +
        "secret; the RPC URL, which may carry a key, is a secret reference.",
    }, {
      id: "AwsSolutions-IAM5",
      reason:
        "ecr:GetAuthorizationToken has no resource-level permissions; the " +
        "execution role pulls only from the eth-client repository.",
      appliesTo: ["Resource::*"],
    }]);
    this.service = new ecs.FargateService(this, "Service", {
      serviceName: "eth-client",
      cluster: this.cluster,
      taskDefinition: this.task,
      desiredCount: props.count,
      securityGroups: [props.network.clients],
      vpcSubnets: props.network.appSubnets,
      assignPublicIp: false,
      minHealthyPercent: 50,
      circuitBreaker: { rollback: true },
    });
  }
}
