/**
 * The regional fleet: network, stores, clients on Fargate, servers on
 * Elastic Beanstalk with their Route53 name, and the stats API.
 *
 * @module
 */
import { Fn, Stack, type StackProps } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as route53 from "aws-cdk-lib/aws-route53";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { Clients } from "./clients.ts";
import { SERVER_PORT } from "./environments.ts";
import { REPOSITORY_NAMES } from "./images_stack.ts";
import { Network } from "./network.ts";
import { Servers } from "./servers.ts";
import type { FleetSettings } from "./settings.ts";
import { StatsApi } from "./stats_api.ts";
import { Stores } from "./stores.ts";

/** The fleet's settings and stack properties. */
export interface FleetStackProps extends StackProps {
  settings: FleetSettings;
}

/** Name of the servers' record in the private zone. */
export const SERVERS_RECORD = "servers";

/** Everything that runs in the fleet's region. */
export class FleetStack extends Stack {
  readonly network: Network;
  readonly stores: Stores;
  readonly clients: Clients;
  readonly servers: Servers;
  readonly stats: StatsApi;

  /** Builds the fleet. */
  constructor(scope: Construct, id: string, props: FleetStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const logRetention = s.logRetentionDays as logs.RetentionDays;
    const repo = (program: keyof typeof REPOSITORY_NAMES) =>
      ecr.Repository.fromRepositoryName(
        this,
        `${program}Repository`,
        REPOSITORY_NAMES[program],
      );
    this.network = new Network(this, "Network", {
      // The region's first two zones, chosen by CloudFormation: not every
      // account has an `a` and a `b`, and synthesis needs no lookup.
      availabilityZones: [0, 1].map((i) => Fn.select(i, Fn.getAzs())),
      logRetention,
    });
    this.stores = new Stores(this, "Stores", {
      network: this.network,
      dbInstanceType: s.dbInstanceType,
      cacheNodeType: s.cacheNodeType,
      multiAz: s.multiAz,
      logRetention,
    });
    const endpoints = {
      mysqlHost: this.stores.mysqlHost,
      redisHost: this.stores.redisHost,
    };
    const secrets = {
      mysql: this.stores.mysqlPassword,
      redis: this.stores.redisPassword,
    };
    const zone = new route53.PrivateHostedZone(this, "PrivateZone", {
      zoneName: s.privateZone,
      vpc: this.network.vpc,
    });
    this.servers = new Servers(this, "Servers", {
      network: this.network,
      repository: repo("server"),
      imageTag: s.imageTags.server,
      stores: endpoints,
      secrets,
      instanceType: s.serverInstanceType,
      minSize: s.serverMin,
      maxSize: s.serverMax,
      solutionStack: s.solutionStack,
      logRetentionDays: s.logRetentionDays,
      zone,
      recordName: SERVERS_RECORD,
      weight: s.serverWeight,
      extraFleets: s.extraServerFleets,
    });
    this.clients = new Clients(this, "Clients", {
      network: this.network,
      repository: repo("client"),
      imageTag: s.imageTags.client,
      servers: {
        host: `${SERVERS_RECORD}.${s.privateZone}`,
        port: SERVER_PORT,
      },
      count: s.clientCount,
      cpu: s.clientCpu,
      memory: s.clientMemory,
      rpcUrlParameter: s.rpcUrlParameter,
      logRetention,
    });
    this.stats = new StatsApi(this, "Stats", {
      network: this.network,
      repository: repo("stats"),
      imageTag: s.imageTags.stats,
      stores: endpoints,
      secrets,
      memory: s.statsMemory,
      logRetention,
    });
  }
}
