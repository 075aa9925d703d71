/**
 * The VPC over two AZs and one security group per part, each admitting
 * only what that part needs: servers from the clients' subnets on the
 * server port, MySQL and Redis from the servers and stats only, the
 * Secrets Manager endpoint from the three programs.
 *
 * @module
 */
import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { MYSQL_PORT, REDIS_PORT, SERVER_PORT } from "./environments.ts";

/** What the network needs to know. */
export interface NetworkProps {
  /** The two AZs, explicit (or `Fn::GetAZs` tokens) so synthesis needs no lookup. */
  availabilityZones: string[];
  logRetention: logs.RetentionDays;
}

/** The VPC and the security groups of every part. */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Subnets the clients, servers, their load balancer and stats run in. */
  readonly appSubnets: ec2.SubnetSelection = {
    subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
  };
  /** Subnets of MySQL and Redis: no route out of the VPC. */
  readonly storeSubnets: ec2.SubnetSelection = {
    subnetType: ec2.SubnetType.PRIVATE_ISOLATED,
  };
  readonly clients: ec2.SecurityGroup;
  readonly servers: ec2.SecurityGroup;
  readonly stats: ec2.SecurityGroup;
  readonly mysql: ec2.SecurityGroup;
  readonly redis: ec2.SecurityGroup;
  readonly secretsEndpoint: ec2.SecurityGroup;

  /** Builds the network. */
  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      availabilityZones: props.availabilityZones,
      ipAddresses: ec2.IpAddresses.cidr("10.20.0.0/16"),
      // One NAT gateway: only the clients need the internet (their RPC
      // provider), and an AZ outage pauses them, it loses nothing.
      natGateways: 1,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        {
          name: "app",
          subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
          cidrMask: 22,
        },
        {
          name: "stores",
          subnetType: ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: 24,
        },
      ],
      restrictDefaultSecurityGroup: false,
    });
    this.vpc.addFlowLog("FlowLog", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, "FlowLogs", {
          retention: props.logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
      maxAggregationInterval: ec2.FlowLogMaxAggregationInterval.TEN_MINUTES,
    });

    const group = (name: string, description: string, allOut = true) =>
      new ec2.SecurityGroup(this, name, {
        vpc: this.vpc,
        description,
        allowAllOutbound: allOut,
      });
    this.clients = group("Clients", "eth clients: no inbound");
    this.servers = group("Servers", "eth servers: TCP from the app subnets");
    this.stats = group("Stats", "eth stats Lambda: no inbound", false);
    this.mysql = group("Mysql", "RDS MySQL: servers and stats", false);
    this.redis = group("Redis", "ElastiCache Redis: servers and stats", false);
    this.secretsEndpoint = group(
      "SecretsEndpoint",
      "Secrets Manager endpoint: the programs",
      false,
    );

    // The network load balancer keeps the clients' addresses and sits in
    // the same subnets, so the servers admit those subnets, not a group.
    for (const subnet of this.vpc.selectSubnets(this.appSubnets).subnets) {
      this.servers.addIngressRule(
        ec2.Peer.ipv4(subnet.ipv4CidrBlock),
        ec2.Port.tcp(SERVER_PORT),
        `clients and load balancer in ${subnet.availabilityZone}`,
      );
    }
    for (
      const [from, name] of [[this.servers, "servers"], [
        this.stats,
        "stats",
      ]] as const
    ) {
      this.mysql.addIngressRule(from, ec2.Port.tcp(MYSQL_PORT), name);
      this.redis.addIngressRule(from, ec2.Port.tcp(REDIS_PORT), name);
    }
    this.stats.addEgressRule(this.mysql, ec2.Port.tcp(MYSQL_PORT), "MySQL");
    this.stats.addEgressRule(this.redis, ec2.Port.tcp(REDIS_PORT), "Redis");
    this.stats.addEgressRule(
      this.secretsEndpoint,
      ec2.Port.tcp(443),
      "Secrets Manager",
    );
    for (
      const [from, name] of [
        [this.clients, "clients"],
        [this.servers, "servers"],
        [this.stats, "stats"],
      ] as const
    ) {
      this.secretsEndpoint.addIngressRule(from, ec2.Port.tcp(443), name);
    }

    // The stats Lambda has no route out; it reads its secrets through this.
    this.vpc.addInterfaceEndpoint("SecretsManager", {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets: this.appSubnets,
      securityGroups: [this.secretsEndpoint],
      open: false,
      privateDnsEnabled: true,
    });
  }
}
