/**
 * The shared stores: RDS MySQL that refuses connections without TLS, and
 * ElastiCache Redis with in-transit encryption required and an AUTH token.
 * Both passwords are generated into Secrets Manager; templates carry only
 * references to them.
 *
 * @module
 */
import { CfnResource, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as rds from "aws-cdk-lib/aws-rds";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  MYSQL_DATABASE,
  MYSQL_PORT,
  MYSQL_USER,
  REDIS_PORT,
} from "./environments.ts";
import type { Network } from "./network.ts";
import { suppress } from "./nag.ts";
import { acceptLint, CDK_FUNCTION_DEPENDS_ON } from "./cfn_lint.ts";

/** Sizes of the stores. */
export interface StoresProps {
  network: Network;
  dbInstanceType: string;
  cacheNodeType: string;
  multiAz: boolean;
  /** How long the exported MySQL logs are kept. */
  logRetention: logs.RetentionDays;
}

/** MySQL, Redis and their secrets. */
export class Stores extends Construct {
  readonly mysqlPassword: secretsmanager.Secret;
  readonly redisPassword: secretsmanager.Secret;
  readonly database: rds.DatabaseInstance;
  readonly cache: elasticache.CfnReplicationGroup;
  /** Hosts the programs connect to. */
  readonly mysqlHost: string;
  readonly redisHost: string;

  /** Builds the stores. */
  constructor(scope: Construct, id: string, props: StoresProps) {
    super(scope, id);
    const { network } = props;
    // Plain strings, not JSON: Elastic Beanstalk's and ECS's secret
    // references and the stats entrypoint take the whole value.
    const password = (name: string, description: string) => {
      const secret = new secretsmanager.Secret(this, name, {
        description,
        generateSecretString: { passwordLength: 40, excludePunctuation: true },
      });
      suppress(secret, [{
        id: "AwsSolutions-SMG4",
        reason: "The servers read the password once at start; rotation would " +
          "cut them off until restarted. Rotate by hand with a rolling " +
          "restart (docs/deploy.md).",
      }]);
      return secret;
    };
    this.mysqlPassword = password("MysqlPassword", "eth MySQL password");
    this.redisPassword = password("RedisAuthToken", "eth Redis AUTH token");

    const parameters = new rds.ParameterGroup(this, "MysqlParameters", {
      engine: rds.DatabaseInstanceEngine.mysql({
        version: rds.MysqlEngineVersion.VER_8_4_9,
      }),
      description: "eth: TLS required",
      parameters: { require_secure_transport: "ON" },
    });
    // CDK's log-retention function runs with this role: no managed policy,
    // and CDK grants it only the log-retention calls.
    const retentionRole = new iam.Role(this, "LogRetentionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "eth: sets the retention of the MySQL log groups",
    });
    this.database = new rds.DatabaseInstance(this, "Mysql", {
      engine: rds.DatabaseInstanceEngine.mysql({
        version: rds.MysqlEngineVersion.VER_8_4_9,
      }),
      instanceType: new ec2.InstanceType(props.dbInstanceType),
      vpc: network.vpc,
      vpcSubnets: network.storeSubnets,
      securityGroups: [network.mysql],
      port: MYSQL_PORT,
      databaseName: MYSQL_DATABASE,
      credentials: rds.Credentials.fromPassword(
        MYSQL_USER,
        this.mysqlPassword.secretValue,
      ),
      parameterGroup: parameters,
      multiAz: props.multiAz,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: 20,
      maxAllocatedStorage: 100,
      backupRetention: Duration.days(7),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      // Only the error log: the slow query log is off in MySQL's defaults,
      // and the fleet's statements are single-row inserts and indexed reads.
      cloudwatchLogsExports: ["error"],
      // RDS creates the export log groups itself; CDK's log-retention
      // function sets their retention (and its own log group's).
      cloudwatchLogsRetention: props.logRetention,
      cloudwatchLogsRetentionRole: retentionRole,
      publiclyAccessible: false,
    });
    suppress(this.database, [
      {
        id: "AwsSolutions-RDS11",
        reason:
          "3306 is the port of the originals and of every client library's " +
          "default; only the security group admits anyone, whatever the port.",
      },
      ...(props.multiAz ? [] : [{
        id: "AwsSolutions-RDS3",
        reason:
          "multiAz=false was chosen in context for a cheaper demo fleet; " +
          "queued documents survive a store outage in the servers.",
      }]),
    ]);
    suppress(retentionRole, [{
      id: "AwsSolutions-IAM5",
      reason: "CDK's log-retention function sets retention on log groups " +
        "RDS names at creation (and on its own); the logs retention calls " +
        "are all it may make.",
      appliesTo: ["Resource::*"],
    }]);
    // The function is CDK's one per stack, found by its place in the tree.
    for (const node of Stack.of(this).node.findAll()) {
      if (
        CfnResource.isCfnResource(node) &&
        node.cfnResourceType === "AWS::Lambda::Function" &&
        node.node.path.includes("/LogRetention")
      ) acceptLint(node, [CDK_FUNCTION_DEPENDS_ON]);
    }
    this.mysqlHost = this.database.dbInstanceEndpointAddress;

    const subnets = new elasticache.CfnSubnetGroup(this, "RedisSubnets", {
      description: "eth Redis",
      subnetIds: network.vpc.selectSubnets(network.storeSubnets).subnetIds,
    });
    this.cache = new elasticache.CfnReplicationGroup(this, "Redis", {
      replicationGroupDescription: "eth Redis",
      engine: "redis",
      engineVersion: "7.1",
      cacheNodeType: props.cacheNodeType,
      numCacheClusters: props.multiAz ? 2 : 1,
      multiAzEnabled: props.multiAz,
      automaticFailoverEnabled: props.multiAz,
      port: REDIS_PORT,
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [network.redis.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      atRestEncryptionEnabled: true,
      // A dynamic reference, resolved by CloudFormation: not a value.
      authToken: this.redisPassword.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: 1,
    });
    // A final snapshot when the stack deletes or replaces the group, as
    // for MySQL: the hashes and client addresses are not kept elsewhere.
    this.cache.applyRemovalPolicy(RemovalPolicy.SNAPSHOT);
    suppress(this.cache, [
      {
        id: "AwsSolutions-AEC5",
        reason:
          "6379 is the port of the originals and of every client library's " +
          "default; only the security group admits anyone, whatever the port.",
      },
      ...(props.multiAz ? [] : [{
        id: "AwsSolutions-AEC4",
        reason:
          "multiAz=false was chosen in context for a cheaper demo fleet; " +
          "the servers queue documents while Redis is away.",
      }]),
    ]);
    this.redisHost = this.cache.attrPrimaryEndPointAddress;
  }
}
