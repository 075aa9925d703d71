/**
 * The stats API: the stats image as a Lambda function in the VPC, behind
 * an API Gateway HTTP API (CloudFront and the certificate are in the edge
 * stack). Its store passwords never enter its configuration: it gets the
 * secrets' ARNs, and the image's entrypoint reads them at start.
 *
 * @module
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type * as ecr from "aws-cdk-lib/aws-ecr";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  SECRET_ARN_SUFFIX,
  STATS_SECRETS,
  statsEnvironment,
  type StoreEndpoints,
} from "./environments.ts";
import type { Network } from "./network.ts";
import { suppress } from "./nag.ts";
import { acceptLint, CDK_FUNCTION_DEPENDS_ON } from "./cfn_lint.ts";

/** What the stats API needs. */
export interface StatsApiProps {
  network: Network;
  repository: ecr.IRepository;
  imageTag: string;
  stores: StoreEndpoints;
  secrets: Record<"mysql" | "redis", secretsmanager.ISecret>;
  memory: number;
  logRetention: logs.RetentionDays;
}

/** The function and its HTTP API. */
export class StatsApi extends Construct {
  readonly function: lambda.DockerImageFunction;
  readonly api: apigw.HttpApi;
  /** The API's own host name, CloudFront's origin. */
  readonly apiDomain: string;
  /** The function's environment, as deployed. */
  readonly environment: Record<string, string>;

  /** Builds the function and API. */
  constructor(scope: Construct, id: string, props: StatsApiProps) {
    super(scope, id);
    this.environment = {
      ...statsEnvironment(props.stores),
      ...Object.fromEntries(
        Object.entries(STATS_SECRETS).map(([name, which]) => [
          name + SECRET_ARN_SUFFIX,
          props.secrets[which as "mysql" | "redis"].secretArn,
        ]),
      ),
    };
    this.function = new lambda.DockerImageFunction(this, "Function", {
      description: "eth-client-server stats API",
      code: lambda.DockerImageCode.fromEcr(props.repository, {
        tagOrDigest: props.imageTag,
      }),
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memory,
      timeout: Duration.seconds(15),
      vpc: props.network.vpc,
      vpcSubnets: props.network.appSubnets,
      securityGroups: [props.network.stats],
      environment: this.environment,
      logGroup: new logs.LogGroup(this, "Logs", {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    for (const secret of Object.values(props.secrets)) {
      secret.grantRead(this.function);
    }
    acceptLint(this.function.node.defaultChild as lambda.CfnFunction, [
      CDK_FUNCTION_DEPENDS_ON,
    ]);
    suppress(this.function, [{
      id: "AwsSolutions-IAM4",
      reason:
        "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole " +
        "are the minimum a function in a VPC needs (logs, its network " +
        "interfaces); CDK attaches them.",
      appliesTo: [
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
      ],
    }]);

    const accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new apigw.HttpApi(this, "Api", {
      description: "eth stats API (reached through CloudFront)",
      defaultIntegration: new HttpLambdaIntegration("Stats", this.function),
    });
    const stage = this.api.defaultStage!.node.defaultChild as apigw.CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: "$context.requestId",
        ip: "$context.identity.sourceIp",
        time: "$context.requestTime",
        method: "$context.httpMethod",
        path: "$context.path",
        status: "$context.status",
        latency: "$context.responseLatency",
      }),
    };
    stage.defaultRouteSettings = {
      throttlingBurstLimit: 200,
      throttlingRateLimit: 100,
    };
    suppress(this.api, [{
      id: "AwsSolutions-APIG4",
      reason:
        "The stats API is public and read-only, as the original Flask app " +
        "was: it serves what the fleet stored and accepts no input but GETs.",
    }]);
    this.apiDomain =
      `${this.api.apiId}.execute-api.${this.api.stack.region}.${this.api.stack.urlSuffix}`;
  }
}
