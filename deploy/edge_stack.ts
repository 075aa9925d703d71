/**
 * The edge, in us-east-1 because CloudFront takes certificates only from
 * there: the public zone (or the one given), an ACM certificate for
 * `stats.<domain>`, the CloudFront distribution in front of the stats HTTP
 * API, its access-log bucket and the alias records (A and AAAA).
 *
 * @module
 */
import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as targets from "aws-cdk-lib/aws-route53-targets";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { suppress } from "./nag.ts";

/** What the edge needs. */
export interface EdgeStackProps extends StackProps {
  domain: string;
  hostedZoneId?: string;
  /** The HTTP API's host name (from the fleet stack). */
  apiDomain: string;
}

/** CloudFront, its certificate and DNS. */
export class EdgeStack extends Stack {
  readonly distribution: cloudfront.Distribution;
  readonly statsDomain: string;

  /** Builds the edge. */
  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    this.statsDomain = `stats.${props.domain}`;
    const zone = props.hostedZoneId
      ? route53.PublicHostedZone.fromHostedZoneAttributes(this, "Zone", {
        hostedZoneId: props.hostedZoneId,
        zoneName: props.domain,
      })
      : new route53.PublicHostedZone(this, "Zone", {
        zoneName: props.domain,
      });
    const certificate = new acm.Certificate(this, "Certificate", {
      domainName: this.statsDomain,
      validation: acm.CertificateValidation.fromDns(zone),
    });
    const logBucket = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logs are written with an ACL.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppress(logBucket, [{
      id: "AwsSolutions-S1",
      reason: "This bucket holds CloudFront's access logs; logging its own " +
        "accesses would need another bucket, and so on.",
    }]);
    this.distribution = new cloudfront.Distribution(this, "Distribution", {
      comment: "eth stats API",
      domainNames: [this.statsDomain],
      certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket,
      defaultBehavior: {
        origin: new origins.HttpOrigin(props.apiDomain, {
          protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        // The app sets its own short cache lifetimes (--cache-ttl);
        // CloudFront follows them and forwards the query string.
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy:
          cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
    });
    suppress(this.distribution, [{
      id: "AwsSolutions-CFR1",
      reason: "The stats are public; no country is to be kept out.",
    }, {
      id: "AwsSolutions-CFR2",
      reason:
        "No WAF: the API is read-only and throttled at API Gateway; a web " +
        "ACL costs more than the whole demo fleet. Add one for production.",
    }]);
    // CloudFront answers over IPv4 and IPv6 (enableIpv6 defaults on), so
    // the name has both an A and an AAAA alias.
    const target = route53.RecordTarget.fromAlias(
      new targets.CloudFrontTarget(this.distribution),
    );
    new route53.ARecord(this, "StatsAlias", {
      zone,
      recordName: this.statsDomain,
      target,
    });
    new route53.AaaaRecord(this, "StatsAliasIpv6", {
      zone,
      recordName: this.statsDomain,
      target,
    });
  }
}
